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

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from meta_nlp.models.encoder import Params, head_logits, tokenize

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

    @property
    def labels(self) -> list[str]:
        return self.classifier.labels

    def tokenized(self, texts: list[str]) -> dict:
        learner = self.classifier.learner
        return tokenize(learner.tokenizer, texts, learner.cfg.max_length, learner.device)

    def embed(self, texts: list[str], weights: Params | None = None) -> torch.Tensor:
        weights = self.weights if weights is None else weights
        encoder = {k: v for k, v in weights.items() if not k.startswith("head.")}
        return self.classifier.learner.model.embed(self.tokenized(texts), encoder)

    def logits(self, texts: list[str], weights: Params | None = None) -> torch.Tensor:
        """The classifier's logits under `weights` (default: the current, edited ones); differentiable in them."""
        weights = self.weights if weights is None else weights
        head = {k: v for k, v in weights.items() if k.startswith("head.")}
        scale = self.classifier.learner.model.log_scale.exp()
        return head_logits(self.embed(texts, weights), head, scale)

    @torch.no_grad()
    def predict(self, texts: list[str], batch_size: int = 64) -> list[int]:
        """Label ids: a remembered edit's label within the radius of its key, else the (edited) classifier's."""
        out = []
        for i in range(0, len(texts), batch_size):
            chunk = texts[i:i + batch_size]
            predicted = self.logits(chunk).argmax(-1).tolist()
            if self.memory:
                keys = torch.stack([m.key for m in self.memory])
                distance, nearest = torch.cdist(self.embed(chunk), keys).min(-1)
                predicted = [self.memory[j].label if d <= self.radius else p
                             for p, d, j in zip(predicted, distance.tolist(), nearest.tolist())]
            out += predicted
        return out


@dataclass
class EditSettings:
    lr: float = 1e-3
    max_steps: int = 10
    kl_weight: float = 1.0
    locality_texts: list[str] = field(default_factory=list)  # ft_kl: unrelated rows, and their unedited
    locality_probs: torch.Tensor | None = None  # probabilities (cached before any edit)


def ft_edit(model: EditableClassifier, text: str, label: int, settings: EditSettings, kl: bool = False) -> int:
    """SGD on the edit (plus the KL locality term when `kl`) until it flips; returns the steps taken."""
    weights = {k: v.clone().requires_grad_() for k, v in model.weights.items()}
    target = torch.tensor([label], device=next(iter(weights.values())).device)
    steps = 0
    while steps < settings.max_steps:
        with torch.no_grad():
            if model.logits([text], weights).argmax(-1).item() == label:
                break
        loss = F.cross_entropy(model.logits([text], weights), target)
        if kl and settings.locality_texts:
            edited = F.log_softmax(model.logits(settings.locality_texts, weights), -1)
            loss = loss + settings.kl_weight * F.kl_div(edited, settings.locality_probs, reduction="batchmean")
        grads = torch.autograd.grad(loss, list(weights.values()))
        with torch.no_grad():
            for w, g in zip(weights.values(), grads):
                w -= settings.lr * g
        steps += 1
    model.weights = {k: v.detach() for k, v in weights.items()}
    return steps


@torch.no_grad()
def memory_edit(model: EditableClassifier, text: str, label: int) -> None:
    """Remember the edit: its sentence embedding (under the current encoder) is a key with its label."""
    model.memory.append(MemoryEntry(model.embed([text])[0], label))
