"""The functional inner loop shared by every optimisation-based learner, and by evaluation.

Fast weights are a dict {name: tensor} passed to `torch.func.functional_call`; the module's
own parameters are never modified, so the meta-gradient flows back to φ through the dict.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Iterator

import torch
import torch.nn.functional as F

from meta_nlp.data.episodes import Episode
from meta_nlp.models.encoder import (MetaModel, Params, SetEncoder, head_logits, init_head, logistic_regression_head,
                                     ranking_head, ranking_logits, tokenize, with_label_names)

LrFn = Callable[[str, int], "torch.Tensor | float"]  # (parameter name, step) -> learning rate


@dataclass
class EpisodeBatch:
    """An episode tokenised and on the device."""
    support: dict
    support_labels: torch.Tensor
    query: dict
    query_labels: torch.Tensor
    n_way: int
    episode: Episode
    support_targets: dict | None = None  # translation ranking: each text's candidates (see data/ranking.py)
    query_targets: dict | None = None
    soft_targets: torch.Tensor | None = None  # distillation: the teacher's query distribution at --kd-temperature
    label_names: dict | None = None  # a class episode's label names, tokenised (read under --label-name-weight)


def to_batch(ep: Episode, tokenizer, max_length: int, device: torch.device) -> EpisodeBatch:
    def tok(texts):
        return None if texts is None else tokenize(tokenizer, texts, max_length, device)
    return EpisodeBatch(
        support=tok(ep.support_texts),
        support_labels=torch.tensor(ep.support_labels, device=device),
        query=tok(ep.query_texts),
        query_labels=torch.tensor(ep.query_labels, device=device),
        n_way=len(ep.label_names),
        episode=ep,
        support_targets=tok(ep.support_targets),
        query_targets=tok(ep.query_targets),
        label_names=None if ep.support_targets is not None else
        tokenized_label_names(ep.support_texts, ep.label_names, tokenizer, max_length, device),
    )


def tokenized_label_names(texts: list, labels: list[str], tokenizer, max_length: int, device: torch.device) -> dict | None:
    """The class names as the encoder reads them ('small_talk' -> 'small talk'), or None where they say nothing
    about a text: ids (PAWS-X's 0 and 1), or the labels of text pairs (they name a relation, not a content)."""
    if not texts or isinstance(texts[0], (tuple, list)) or all(str(label).strip().isdigit() for label in labels):
        return None
    return tokenize(tokenizer, [str(label).replace("_", " ") for label in labels], max_length, device)


def padded(x: torch.Tensor, length: int) -> torch.Tensor:
    """`x` ([batch, tokens, ...]) padded with zeros (pad id, mask 0) to `length` tokens."""
    return torch.nn.functional.pad(x, (0, 0) * (x.dim() - 2) + (0, length - x.shape[1]))


def concat_padded(a: dict, b: dict) -> dict:
    """Two model-input batches (token ids, or MLTI's input embeddings) as one, the shorter padded to the longer."""
    length = max(a["attention_mask"].shape[1], b["attention_mask"].shape[1])
    return {k: torch.cat([padded(a[k], length), padded(b[k], length)]) for k in a}


def whole_task(batch: EpisodeBatch) -> EpisodeBatch:
    """Support and query concatenated into the support slot, ranking groups kept whole: the task for learners that
    train on all of its examples (Reptile, MLDG's meta-train step, ProtoNet's ranking loss)."""
    both = concat_padded(batch.support, batch.query)
    targets = None if batch.support_targets is None else concat_padded(batch.support_targets, batch.query_targets)
    labels = torch.cat([batch.support_labels, batch.query_labels])
    return replace(batch, support=both, support_labels=labels, support_targets=targets)


TaskBatch = EpisodeBatch | list[EpisodeBatch]  # several episodes: MLDG's meta-train and pseudo-target ones


def to_task_batch(episodes: list[Episode], tokenizer, max_length: int, device: torch.device) -> TaskBatch:
    """What `accumulate_meta_gradient` takes: the EpisodeBatch of a one-episode task, else a list of them."""
    batches = [to_batch(ep, tokenizer, max_length, device) for ep in episodes]
    return batches[0] if len(batches) == 1 else batches


def constant_lr(lr: float) -> LrFn:
    return lambda name, step: lr


Features = tuple[torch.Tensor, "torch.Tensor | None"]  # (text embeddings, candidate embeddings when ranking)


class TextSet:
    """One side of an episode (support or query) under changing fast weights: its texts and, in a
    translation-ranking episode, their candidates, both run by the same encoder (a bi-encoder)."""

    def __init__(self, model: MetaModel, texts: dict, targets: dict | None, names: list[str], n_way: int):
        self.texts = SetEncoder(model, texts, names)
        self.targets = None if targets is None else SetEncoder(model, targets, names)
        self.n_way = n_way

    def embed(self, fast: Params) -> Features:
        return self.texts(fast), None if self.targets is None else self.targets(fast)

    def logits(self, features: Features, head: Params, scale: torch.Tensor) -> torch.Tensor:
        z, targets = features
        return head_logits(z, head, scale) if targets is None else ranking_logits(z, targets, head, scale, self.n_way)


class LabelNames:
    """The class names of an episode under changing fast weights, for --label-name-weight (`with_label_names`)."""

    def __init__(self, model: MetaModel, batch: EpisodeBatch, names: list[str], weight: float):
        self.names, self.weight = SetEncoder(model, batch.label_names, names), weight

    @classmethod
    def of(cls, model: MetaModel, batch: EpisodeBatch, names: list[str], weight: float) -> "LabelNames | None":
        """None where there is nothing to add: the weight is 0, or the episode has no class names (ranking)."""
        return cls(model, batch, names, weight) if weight and batch.label_names is not None else None

    def added_to(self, head: Params, fast: Params) -> Params:
        return with_label_names(head, self.names(fast), self.weight)


def first_head(features: Features, labels: torch.Tensor, n_way: int, kind: str) -> Params:
    """The per-episode head before any inner step: a class head (proto or zero), or the ranking map (identity)."""
    z, targets = features
    return init_head(z, labels, n_way, kind) if targets is None else ranking_head(z.shape[-1], z)


@dataclass
class AdaptState:
    step: int  # number of inner updates applied so far
    fast: Params  # adapted encoder weights (only the adapted names)
    head: Params
    support_loss: torch.Tensor
    query: TextSet  # embeds the query set under given fast weights (lower layers cached)
    support_features: Features  # the support set's embeddings under `fast`
    label_names: LabelNames | None = None  # what a logistic readout adds to its head (--label-name-weight)


def inner_loop(model: MetaModel, batch: EpisodeBatch, names: list[str], steps: int, lr: LrFn,
               create_graph: bool, head_init: str, track_meta_grad: bool = True,
               start: Params | None = None, head_is_a_function_of_phi: bool = False,
               label_name_weight: float = 0.0) -> Iterator[AdaptState]:
    """Yield the state after 0, 1, ..., `steps` SGD updates on the support set.

    create_graph=True differentiates through the updates (MAML, second order). With False the
    inner gradients are constants, so d(query loss)/dφ = d(query loss)/d(fast): first-order MAML.
    track_meta_grad=False (evaluation) cuts every link to φ. `start` replaces φ's adapted weights as
    the starting point (MLDG evaluates the pseudo-target from weights already moved by the meta-train step).
    The head is an inner-loop variable of its own, as at test time, so the first step of the encoder
    does not run through the prototype head's initialisation; head_is_a_function_of_phi=True makes it
    do so (MLDG's θ − α∇L_train(θ) is the gradient of the loss under the head that θ gives).
    label_name_weight > 0 (--label-name-weight: at test time; in meta-training under --meta-train-label-names) adds
    the class names' embeddings to the head.
    """
    params = model.encoder_params()
    fast = {n: params[n] for n in names} if start is None else {n: start[n] for n in names}
    if not track_meta_grad:
        fast = {n: p.detach().requires_grad_() for n, p in fast.items()}
    support = TextSet(model, batch.support, batch.support_targets, names, batch.n_way)
    query = TextSet(model, batch.query, batch.query_targets, names, batch.n_way)
    features = support.embed(fast)
    head = first_head(features if track_meta_grad else (features[0].detach(), features[1]), batch.support_labels,
                      batch.n_way, head_init)
    label_names = LabelNames.of(model, batch, names, label_name_weight)
    if label_names is not None:  # the 'sgd' readout's head starts from them; the logistic one adds them at each step
        head = label_names.added_to(head, fast)
    head_tracks_phi = track_meta_grad and head_init != "zero" and batch.support_targets is None
    if not head_tracks_phi:
        head = {n: h.detach().requires_grad_() for n, h in head.items()}  # zero and ranking heads are leaves
    scale = model.log_scale.exp() if track_meta_grad else model.log_scale.exp().detach()
    for t in range(steps + 1):
        if t > 0 and fast:  # the encoder changed: re-embed the support set (ANIL never does)
            features = support.embed(fast)
        loss = F.cross_entropy(support.logits(features, head, scale), batch.support_labels)
        yield AdaptState(t, fast, head, loss, query, features, label_names)
        if t == steps:
            return
        keys = list(fast) + list(head)
        # Graphs that the meta-gradient still needs must survive this inner gradient: the proto
        # head depends on φ through step 0's support pass, and cached lower layers are shared.
        retain = create_graph or (track_meta_grad and (t == 0 or support.texts.start is not None))
        if t == 0 and fast and head_tracks_phi and not head_is_a_function_of_phi:
            grads = inner_gradients_with_the_head_held(loss, fast, head, create_graph, retain)
        else:
            grads = torch.autograd.grad(loss, [fast[k] if k in fast else head[k] for k in keys],
                                        create_graph=create_graph, retain_graph=retain)
        new = {k: (fast[k] if k in fast else head[k]) - lr(k, t) * (g if create_graph else g.detach())
               for k, g in zip(keys, grads)}
        fast = {k: new[k] for k in fast}
        head = {k: new[k] for k in head}


def inner_gradients_with_the_head_held(loss: torch.Tensor, fast: Params, head: Params, create_graph: bool,
                                      retain: bool) -> tuple[torch.Tensor, ...]:
    """Step 0's inner gradients (fast weights, then head) with the head as its own variable.

    The prototype head is computed from the support embeddings under φ, which are also the fast weights at
    step 0, so a plain gradient of the encoder would also run through the head's initialisation: a step that
    test-time adaptation (head detached) and the `higher` backend never take. Back-propagating −∂L/∂head
    through the head, together with the loss, cancels that path exactly, also for the second-order graph,
    while the head keeps its dependence on φ for the meta-gradient (Proto-MAML)."""
    head_grads = torch.autograd.grad(loss, list(head.values()), create_graph=create_graph, retain_graph=True)
    fast_grads = torch.autograd.grad([loss, *head.values()], list(fast.values()),
                                     grad_outputs=[torch.ones_like(loss), *[-g for g in head_grads]],
                                     create_graph=create_graph, retain_graph=retain)
    return (*fast_grads, *head_grads)


def query_logits(model: MetaModel, batch: EpisodeBatch, state: AdaptState, scale: torch.Tensor | None = None) -> torch.Tensor:
    return state.query.logits(state.query.embed(state.fast), state.head, model.log_scale.exp() if scale is None else scale)


TRANSDUCTIVE_ROUNDS = 3  # self-training rounds of the 'transductive' head; soft pseudo-labels settle in a few


def readout_head(state: AdaptState, batch: EpisodeBatch, readout: str,
                 previous: tuple[torch.Tensor, Params] | None = None, query_z: torch.Tensor | None = None) -> Params:
    """The head that predicts after `state.step` test-time steps: 'sgd', the per-episode head those steps adapted
    with the encoder; 'logistic', a logistic regression fit to convergence on the support embeddings under the
    adapted encoder (SetFit's head; only the encoder's adaptation is kept from the steps), plus the class names'
    embeddings under --label-name-weight (the 'sgd' head has them from its initialisation); 'transductive', the
    logistic head refit TRANSDUCTIVE_ROUNDS times on the support set plus the episode's unlabelled query texts
    (`query_z`), each query text's target its class probabilities under the last head (soft self-training, EM;
    without query texts it is the logistic head). A translation-ranking episode has no classes to regress on: its
    ranking map predicts under any."""
    if readout == "sgd" or batch.support_targets is not None:
        return state.head
    if previous is not None and previous[0] is state.support_features[0]:
        return previous[1]  # `previous`: (support embeddings, head) of the last step; head-only steps keep both
    names = state.label_names
    with torch.no_grad():
        names_z = None if names is None else names.names(state.fast)  # embedded once, however many refits
        head = None
        for _ in range(1 + (TRANSDUCTIVE_ROUNDS if readout == "transductive" and query_z is not None else 0)):
            # Each refit's targets: the last head's own probabilities (fit at logit scale 1), names included.
            pseudo_labelled = None if head is None else (query_z, torch.softmax(head_logits(query_z, head, 1.0), -1))
            head = logistic_regression_head(state.support_features[0], batch.support_labels, batch.n_way,
                                            pseudo_labelled=pseudo_labelled)
            if names is not None:
                head = with_label_names(head, names_z, names.weight)
    return head


def adapt_and_predict(model: MetaModel, batch: EpisodeBatch, names: list[str], steps: int, lr: LrFn,
                      head_init: str, readout: str = "sgd", label_name_weight: float = 0.0) -> list[list[int]]:
    """Query predictions after 0..steps test-time updates (no meta-gradient; call with φ frozen)."""
    preds = []
    features, previous = None, None
    for state in inner_loop(model, batch, names, steps, lr, create_graph=False, head_init=head_init,
                            track_meta_grad=False, label_name_weight=label_name_weight):
        with torch.no_grad():
            if features is None or state.fast:  # head-only adaptation: embed the query set once
                features = state.query.embed(state.fast)
            head = readout_head(state, batch, readout, previous, query_z=features[0])
            previous = (state.support_features[0], head)
            preds.append(state.query.logits(features, head, model.log_scale.exp()).argmax(-1).tolist())
    return preds


def adapt_and_score(model: MetaModel, batch: EpisodeBatch, names: list[str], steps: int, lr: LrFn,
                    head_init: str) -> list[float]:
    """Query accuracy after 0..steps test-time updates."""
    labels = batch.query_labels.tolist()
    return [sum(int(p == y) for p, y in zip(pred, labels)) / len(labels)
            for pred in adapt_and_predict(model, batch, names, steps, lr, head_init)]
