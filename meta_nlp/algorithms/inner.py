"""The functional inner loop shared by every optimisation-based learner, and by evaluation.

Fast weights are a dict {name: tensor} passed to `torch.func.functional_call`; the module's
own parameters are never modified, so the meta-gradient flows back to φ through the dict.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import torch
import torch.nn.functional as F

from meta_nlp.data.episodes import Episode
from meta_nlp.models.encoder import MetaModel, Params, SetEncoder, head_logits, init_head, tokenize

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


def to_batch(ep: Episode, tokenizer, max_length: int, device: torch.device) -> EpisodeBatch:
    return EpisodeBatch(
        support=tokenize(tokenizer, ep.support_texts, max_length, device),
        support_labels=torch.tensor(ep.support_labels, device=device),
        query=tokenize(tokenizer, ep.query_texts, max_length, device),
        query_labels=torch.tensor(ep.query_labels, device=device),
        n_way=len(ep.label_names),
        episode=ep,
    )


TaskBatch = EpisodeBatch | list[EpisodeBatch]  # several episodes: MLDG's meta-train and pseudo-target ones


def to_task_batch(episodes: list[Episode], tokenizer, max_length: int, device: torch.device) -> TaskBatch:
    """What `accumulate_meta_gradient` takes: the EpisodeBatch of a one-episode task, else a list of them."""
    batches = [to_batch(ep, tokenizer, max_length, device) for ep in episodes]
    return batches[0] if len(batches) == 1 else batches


def constant_lr(lr: float) -> LrFn:
    return lambda name, step: lr


@dataclass
class AdaptState:
    step: int  # number of inner updates applied so far
    fast: Params  # adapted encoder weights (only the adapted names)
    head: Params
    support_loss: torch.Tensor
    embed_query: SetEncoder  # embeds the query set under given fast weights (lower layers cached)


def inner_loop(model: MetaModel, batch: EpisodeBatch, names: list[str], steps: int, lr: LrFn,
               create_graph: bool, head_init: str, track_meta_grad: bool = True,
               start: Params | None = None) -> Iterator[AdaptState]:
    """Yield the state after 0, 1, ..., `steps` SGD updates on the support set.

    create_graph=True differentiates through the updates (MAML, second order). With False the
    inner gradients are constants, so d(query loss)/dφ = d(query loss)/d(fast): first-order MAML.
    track_meta_grad=False (evaluation) cuts every link to φ. `start` replaces φ's adapted weights as
    the starting point (MLDG evaluates the pseudo-target from weights already moved by the meta-train step).
    """
    params = model.encoder_params()
    fast = {n: params[n] for n in names} if start is None else {n: start[n] for n in names}
    if not track_meta_grad:
        fast = {n: p.detach().requires_grad_() for n, p in fast.items()}
    embed_support = SetEncoder(model, batch.support, names)
    embed_query = SetEncoder(model, batch.query, names)
    z = embed_support(fast)
    head = init_head(z if track_meta_grad else z.detach(), batch.support_labels, batch.n_way, head_init)
    if not track_meta_grad or head_init == "zero":  # a zero head is a leaf: the inner loop differentiates it
        head = {n: h.detach().requires_grad_() for n, h in head.items()}
    scale = model.log_scale.exp() if track_meta_grad else model.log_scale.exp().detach()
    for t in range(steps + 1):
        if t > 0 and fast:  # the encoder changed: re-embed the support set (ANIL never does)
            z = embed_support(fast)
        loss = F.cross_entropy(head_logits(z, head, scale), batch.support_labels)
        yield AdaptState(t, fast, head, loss, embed_query)
        if t == steps:
            return
        keys = list(fast) + list(head)
        # Graphs that the meta-gradient still needs must survive this inner gradient: the proto
        # head depends on φ through step 0's support pass, and cached lower layers are shared.
        retain = create_graph or (track_meta_grad and (t == 0 or embed_support.start is not None))
        grads = torch.autograd.grad(loss, [fast[k] if k in fast else head[k] for k in keys],
                                    create_graph=create_graph, retain_graph=retain)
        new = {k: (fast[k] if k in fast else head[k]) - lr(k, t) * (g if create_graph else g.detach())
               for k, g in zip(keys, grads)}
        fast = {k: new[k] for k in fast}
        head = {k: new[k] for k in head}


def query_logits(model: MetaModel, batch: EpisodeBatch, state: AdaptState, scale: torch.Tensor | None = None) -> torch.Tensor:
    z = state.embed_query(state.fast)
    return head_logits(z, state.head, model.log_scale.exp() if scale is None else scale)


def adapt_and_predict(model: MetaModel, batch: EpisodeBatch, names: list[str], steps: int, lr: LrFn,
                      head_init: str) -> list[list[int]]:
    """Query predictions after 0..steps test-time updates (no meta-gradient; call with φ frozen)."""
    preds = []
    z_query = None
    for state in inner_loop(model, batch, names, steps, lr, create_graph=False, head_init=head_init,
                            track_meta_grad=False):
        with torch.no_grad():
            if z_query is None or state.fast:  # head-only adaptation: embed the query set once
                z_query = state.embed_query(state.fast)
            preds.append(head_logits(z_query, state.head, model.log_scale.exp()).argmax(-1).tolist())
    return preds


def adapt_and_score(model: MetaModel, batch: EpisodeBatch, names: list[str], steps: int, lr: LrFn,
                    head_init: str) -> list[float]:
    """Query accuracy after 0..steps test-time updates."""
    labels = batch.query_labels.tolist()
    return [sum(int(p == y) for p, y in zip(pred, labels)) / len(labels)
            for pred in adapt_and_predict(model, batch, names, steps, lr, head_init)]
