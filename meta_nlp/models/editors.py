"""Editors of a classifier (the editing issue): change it so that one text gets a new label, leaving the rest alone.

An `EditableClassifier` is a `Classifier` (meta_nlp.learner) whose top `edit_layers` transformer layers and head
are a dict of tensors that edits replace (the loaded model itself is never modified), plus a memory of edits for
the non-parametric baseline. The editors here need no training:
- `ft`: SGD steps on the edit's cross-entropy, top layers and head, until the edit flips (at most `max_steps`);
- `ft_kl`: the same loss plus `kl_weight` x KL(unedited ‖ edited) on unrelated rows, to keep their predictions;
- `memory` (GRACE-like, Hartvigsen et al. 2023): the edit's sentence embedding becomes a key with its label; a text
  whose embedding lies within `radius` of a key takes that key's label, any other text the classifier's.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from meta_nlp.models.encoder import LowerStateCache, Params, head_logits, layer_of, tokenize

if TYPE_CHECKING:  # a saved classifier (meta_nlp.learner sits above the models)
    from meta_nlp.learner import Classifier


@dataclass
class MemoryEntry:
    key: torch.Tensor  # the edit text's sentence embedding under the unedited encoder
    label: int


class EditableClassifier:
    def __init__(self, classifier: "Classifier", edit_layers: int):
        self.classifier = classifier
        model = classifier.learner.model
        model.eval().requires_grad_(False)
        names = model.adaptable_names(edit_layers)
        encoder = model.encoder_params()
        self.weights: Params = {n: encoder[n].detach().clone() for n in names}
        self.weights.update({k: v.detach().clone() for k, v in classifier.head.items()})
        self.memory: list[MemoryEntry] = []
        self.radius = 0.0
        # Edits change only the top layers and the loaded model never changes, so every text's states below them
        # are computed once for the whole run (an evaluation re-reads the same held-back rows after every edit).
        self.start = model.first_adapted_layer(names)
        if self.start is not None and model.lower_cache is None:
            model.lower_cache = LowerStateCache(model)

    def state(self) -> tuple[Params, list[MemoryEntry]]:
        """The current weights and memory, to return to with `restore` (edits replace them, never mutate)."""
        return dict(self.weights), list(self.memory)

    def restore(self, state: tuple[Params, list[MemoryEntry]]) -> None:
        self.weights, self.memory = dict(state[0]), list(state[1])

    def weights_hash(self) -> str:
        """A hash of the current editable weights (names and values)."""
        digest = hashlib.sha256()
        for name in sorted(self.weights):
            digest.update(name.encode())
            digest.update(self.weights[name].detach().float().cpu().numpy().tobytes())
        return digest.hexdigest()[:16]

    def base_fingerprint(self) -> str:
        """Which classifier this is, for a trained editor to check it was trained for it: the hash of its weights, or
        for an edited classifier the one its edits started from (`edit_base` in its meta_nlp.json)."""
        return self.classifier.learner.meta.get("edit_base") or self.weights_hash()

    @property
    def labels(self) -> list[str]:
        return self.classifier.labels

    def tokenized(self, texts: list[str]) -> dict:
        learner = self.classifier.learner
        return tokenize(learner.tokenizer, texts, learner.cfg.max_length, learner.device)

    def embed(self, texts: list[str], weights: Params | None = None) -> torch.Tensor:
        weights = self.weights if weights is None else weights
        encoder = {k: v for k, v in weights.items() if not k.startswith("head.")}
        model, batch = self.classifier.learner.model, self.tokenized(texts)
        if self.start is None:
            return model.embed(batch, encoder)
        return model.embed_from(model.lower_states(batch, self.start), batch, encoder, self.start)

    def logits(self, texts: list[str], weights: Params | None = None) -> torch.Tensor:
        """The classifier's logits under `weights` (default: the current, edited ones); differentiable in them."""
        return self.head_logits(self.embed(texts, weights), weights)

    def head_logits(self, z: torch.Tensor, weights: Params | None = None) -> torch.Tensor:
        """The logits of embeddings `z` under the head of `weights` (default: the current, edited ones)."""
        weights = self.weights if weights is None else weights
        head = {k: v for k, v in weights.items() if k.startswith("head.")}
        return head_logits(z, head, self.classifier.learner.model.log_scale.exp())

    @torch.no_grad()
    def predict(self, texts: list[str], batch_size: int = 64) -> list[int]:
        """Label ids: a remembered edit's label within the radius of its key, else the (edited) classifier's."""
        out = []
        for i in range(0, len(texts), batch_size):
            z = self.embed(texts[i:i + batch_size])  # once: the head and the memory's distances both read it
            predicted = self.head_logits(z).argmax(-1).tolist()
            if self.memory:
                keys = torch.stack([m.key for m in self.memory])
                distance, nearest = torch.cdist(z, keys).min(-1)
                predicted = [self.memory[j].label if d <= self.radius else p
                             for p, d, j in zip(predicted, distance.tolist(), nearest.tolist())]
            out += predicted
        return out


@dataclass
class EditSettings:
    lr: float | dict[str, float]  # one rate, or one per weight tensor (ENN's learned rates)
    max_steps: int
    kl_weight: float = 0.0  # ft_kl: > 0, with the unrelated rows below and their unedited
    locality_texts: list[str] = field(default_factory=list)
    locality_probs: torch.Tensor | None = None  # probabilities (cached before any edit)


def ft_edit(model: EditableClassifier, text: str, label: int, settings: EditSettings) -> int:
    """SGD on the edit (plus the KL locality term when settings has a KL weight) until it flips; returns the steps
    taken."""
    weights = {k: v.clone().requires_grad_() for k, v in model.weights.items()}
    target = torch.tensor([label], device=next(iter(weights.values())).device)
    steps = 0
    while steps < settings.max_steps:
        with torch.no_grad():
            if model.logits([text], weights).argmax(-1).item() == label:
                break
        loss = F.cross_entropy(model.logits([text], weights), target)
        if settings.kl_weight > 0 and settings.locality_texts:
            edited = F.log_softmax(model.logits(settings.locality_texts, weights), -1)
            loss = loss + settings.kl_weight * F.kl_div(edited, settings.locality_probs, reduction="batchmean")
        grads = torch.autograd.grad(loss, list(weights.values()))
        with torch.no_grad():
            for (name, w), g in zip(weights.items(), grads):
                w -= (settings.lr[name] if isinstance(settings.lr, dict) else settings.lr) * g
        steps += 1
    model.weights = {k: v.detach() for k, v in weights.items()}
    return steps


@torch.no_grad()
def memory_edit(model: EditableClassifier, text: str, label: int) -> None:
    """Remember the edit: its sentence embedding (under the current encoder) is a key with its label."""
    model.memory.append(MemoryEntry(model.embed([text])[0], label))


# ---------------------------------------------------------------------------------- MEND
def ffn_weight_names(model: EditableClassifier, edit_layers: int) -> list[str]:
    """The feed-forward weight matrices of the top `edit_layers` layers (MEND edits these): intermediate and output
    dense layers of each transformer layer (not the attention's output projection)."""
    names = [n for n in model.weights if n.endswith(".weight") and (".intermediate.dense." in n or
                                                                     (".output.dense." in n and ".attention." not in n))]
    layers = sorted({layer_of(n) for n in names}, key=lambda k: int(k.split(".")[1]))[-edit_layers:]
    return [n for n in names if layer_of(n) in layers]


class GradientFactors:
    """While active, captures each watched linear layer's input u and the gradient δ of the loss with respect to its
    output, per token (padding dropped): the weight's gradient is Σ_tokens δ uᵀ, a sum of rank-1 terms."""

    def __init__(self, encoder: torch.nn.Module, names: list[str]):
        self.names = names
        self.inputs: dict[str, torch.Tensor] = {}
        self.output_grads: dict[str, torch.Tensor] = {}
        modules = dict(encoder.named_modules())
        self.handles = [modules[n.removesuffix(".weight")].register_forward_hook(self.hook(n)) for n in names]
        self.mask: torch.Tensor | None = None  # [batch, tokens] attention mask of the batch being run

    def hook(self, name: str):
        def capture(module, args, output):
            self.inputs[name] = args[0].detach()
            if output.requires_grad:
                output.register_hook(lambda g: self.output_grads.__setitem__(name, g.detach()))
        return capture

    def factors(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(u [tokens, d_in], δ [tokens, d_out]) of the real tokens."""
        keep = self.mask.reshape(-1).bool()
        u, d = self.inputs[name], self.output_grads[name]
        return u.reshape(-1, u.shape[-1])[keep], d.reshape(-1, d.shape[-1])[keep]

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


class EditorNetwork(torch.nn.Module):
    """MEND's gradient editor for one weight shape: [u; δ] (standardised) through two low-rank residual blocks
    x + A·relu(B·(s ⊙ x + t) + b), s and t a scale and shift per edited layer (MEND's layer "modes"). A starts at
    zero, so the network starts as the identity and the first edit is one SGD step; the relu sits between B and A
    so that A's gradient is not zero there (a relu of the whole block at 0 would never move)."""

    def __init__(self, d_in: int, d_out: int, rank: int, n_layers: int):
        super().__init__()
        width = d_in + d_out
        self.d_in = d_in
        self.down = torch.nn.ParameterList([torch.nn.Parameter(torch.randn(rank, width) / width ** 0.5) for _ in range(2)])
        self.up = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(width, rank)) for _ in range(2)])
        self.bias = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(rank)) for _ in range(2)])
        self.scale = torch.nn.Parameter(torch.ones(n_layers, width))
        self.shift = torch.nn.Parameter(torch.zeros(n_layers, width))
        self.register_buffer("mean", torch.zeros(width))
        self.register_buffer("std", torch.ones(width))

    def forward(self, u: torch.Tensor, delta: torch.Tensor, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = (torch.cat([u, delta], -1) - self.mean) / (self.std + 1e-7)
        for down, up, bias in zip(self.down, self.up, self.bias):
            x = x + torch.relu((x * self.scale[layer] + self.shift[layer]) @ down.t() + bias) @ up.t()
        x = x * (self.std + 1e-7) + self.mean  # back to the factors' scale
        return x[:, :self.d_in], x[:, self.d_in:]


class MEND(torch.nn.Module):
    """The learned editor (Mitchell et al., ICLR 2022): for every edited matrix W (top feed-forward layers), the
    edit's gradient factors are mapped by the network of W's shape, and W ← W − lr_W · Σ_tokens δ̃ ũᵀ with a learned
    lr_W per matrix."""

    def __init__(self, model: EditableClassifier, edit_layers: int, rank: int, lr: float):
        super().__init__()
        self.names = ffn_weight_names(model, edit_layers)
        shapes = sorted({tuple(model.weights[n].shape) for n in self.names})
        self.networks = torch.nn.ModuleDict({shape_key(s): EditorNetwork(s[1], s[0], rank, len(self.names))
                                             for s in shapes})
        self.lrs = torch.nn.Parameter(torch.full((len(self.names),), float(lr)))

    def set_statistics(self, factors: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Standardise each network's inputs with the mean and std of [u; δ] over the given edits' tokens (computed
        once, before training, on editor-training rows: fixed, so every process edits alike)."""
        by_shape: dict[str, list[torch.Tensor]] = {}
        for name, (u, d) in factors.items():
            by_shape.setdefault(shape_key((d.shape[-1], u.shape[-1])), []).append(torch.cat([u, d], -1))
        for key, rows in by_shape.items():
            x = torch.cat(rows)
            self.networks[key].mean.copy_(x.mean(0))
            self.networks[key].std.copy_(x.std(0) if len(x) > 1 else torch.ones_like(x[0]))

    def edited_weights(self, model: EditableClassifier, text: str, label: int) -> Params:
        """The classifier's weights after editing `text` to `label` (a function of this editor's parameters)."""
        factors = edit_factors(model, text, label, self.names)
        weights = dict(model.weights)
        for i, name in enumerate(self.names):
            u, delta = factors[name]
            network = self.networks[shape_key(tuple(model.weights[name].shape))]
            u_edit, delta_edit = network(u, delta, i)
            weights[name] = model.weights[name] - self.lrs[i] * (delta_edit.t() @ u_edit)
        return weights


def shape_key(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def edit_factors(model: EditableClassifier, text: str, label: int, names: list[str]
                 ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Each named matrix's gradient factors (u, δ) of the edit's cross-entropy under the current weights."""
    hooks = GradientFactors(model.classifier.learner.model.encoder, names)
    try:
        weights = {k: v.detach().requires_grad_(k in names) for k, v in model.weights.items()}
        batch = model.tokenized([text])
        hooks.mask = batch["attention_mask"]
        loss = F.cross_entropy(model.logits([text], weights), torch.tensor([label], device=batch["input_ids"].device))
        torch.autograd.grad(loss, [weights[n] for n in names])
        return {n: hooks.factors(n) for n in names}
    finally:
        hooks.remove()


def mend_edit(model: EditableClassifier, editor: MEND, text: str, label: int) -> None:
    """Apply one edit with a trained MEND editor (sequential edits build on the weights edited so far)."""
    model.weights = {k: v.detach() for k, v in editor.edited_weights(model, text, label).items()}
