"""Learning to edit as objectives (the editing issue), on edits of the editor-training rows: MEND's editor network
(the classifier it edits frozen on the device, outside the optimiser and the checkpoint), and ENN's editable
training (the classifier's top layers and head themselves, with a learned edit lr per tensor).

A task is one edit: an editor-training row asked for a label other than the classifier's prediction (drawn from
(seed, step, task)), its translations in the training languages (generality) and `LOCALITY_ROWS` rows of other
translation groups (locality). Its loss is c_edit x cross-entropy of the edited classifier on the edit text and its
translations + c_loc x KL(unedited ‖ edited) on the locality rows (MEND's edit and locality losses; the edit's
translations play its rephrasings). Model selection scores single edits of a fixed validation slice of the
editor-training rows: the mean of edit success, generality and locality.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from safetensors.torch import save_file

from meta_nlp.config import MetaConfig
from meta_nlp.evaluation.editing import Row
from meta_nlp.models.editors import MEND, EditableClassifier, edit_factors
from meta_nlp.models.encoder import Params, double_backward_attention
from meta_nlp.objectives.base import Backward, Objective

EDIT_TASK_STREAM = 16  # the random stream of the editor's training edits
LOCALITY_ROWS = 8
EDITOR_FILE = "editor.safetensors"
EDITOR_META = "editor.json"  # which editor, its shape, and the classifier it was trained for


@dataclass
class EditTask:
    text: str
    label: int
    equivalents: list[str]
    locality: list[str]


# MEND's loss weights (Mitchell et al.: 0.1 x edit + 1 x locality), and the edits that fix its standardisation and
# score model selection.
C_EDIT, C_LOC = 0.1, 1.0
STATISTICS_EDITS = 50
VALIDATION_EDITS = 20
# Where the learned edit lrs start (`start_edit_lr`): they learn at --editor-lr, far too slowly to find their scale
# across decades on their own.
EDIT_LR_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)


class EditingObjective(Objective):
    """What learning to edit shares: the training edits, the losses of an edited classifier, model selection on
    single validation edits. A subclass says which weights an edit produces (`edited_weights`)."""

    def __init__(self, cfg: MetaConfig, model: EditableClassifier, rows: list[Row], translations: dict[str, list[Row]],
                 validation_edits: int = VALIDATION_EDITS):
        self.cfg, self.model, self.seed = cfg, model, cfg.training_seed  # its training edits' draws
        self.classifier_fingerprint = model.base_fingerprint()  # before ENN's training replaces the weights
        order = np.random.default_rng([cfg.seed, EDIT_TASK_STREAM]).permutation(len(rows))  # languages mixed
        rows = [rows[i] for i in order]
        self.validation, self.rows = rows[:validation_edits], rows[validation_edits:]
        self.translations = translations
        predicted = model.predict([r.text for r in rows])  # the unedited classifier's labels, cached once
        self.validation_predicted, self.predicted = predicted[:validation_edits], predicted[validation_edits:]

    def edited_weights(self, text: str, label: int) -> Params:
        raise NotImplementedError

    def learned_lrs(self) -> torch.nn.Parameter:
        """The editor's learned edit lr per edited tensor."""
        raise NotImplementedError

    def frozen_modules(self) -> dict[str, torch.nn.Module]:
        return {"classifier": self.model.classifier.learner.model}

    def start_edit_lr(self) -> float:
        """Set every learned edit lr to the rate of EDIT_LR_GRID whose editor, untrained, scores best on the
        validation edits, and return it (an untrained editor takes one plain gradient step: MEND's network starts as
        the identity, ENN's weights as the classifier's)."""
        lrs, scores = self.learned_lrs(), {}
        for lr in EDIT_LR_GRID:
            with torch.no_grad():
                lrs.fill_(lr)
            scores[lr] = self.selection_score(None)
        best = max(scores, key=lambda lr: (scores[lr], -lr))
        with torch.no_grad():
            lrs.fill_(best)
        return best

    def draw_task(self, step: int, index: int, total: int) -> EditTask:
        rng = np.random.default_rng([self.seed, EDIT_TASK_STREAM, step + 1, index])
        i = int(rng.integers(len(self.rows)))
        row = self.rows[i]
        wrong = [y for y in range(len(self.model.labels)) if y != self.predicted[i]]
        others = [r for r in rng.permutation(len(self.rows))[:4 * LOCALITY_ROWS]
                  if self.rows[r].group != row.group][:LOCALITY_ROWS]
        return EditTask(row.text, int(rng.choice(wrong)),
                        [t.text for t in self.translations.get(row.group, []) if t.text != row.text],
                        [self.rows[r].text for r in others])

    def edit_losses(self, task: EditTask, weights: Params) -> tuple[torch.Tensor, torch.Tensor]:
        """(cross-entropy of the edited classifier on the edit text and its translations, KL(unedited ‖ edited) on
        the locality rows)."""
        texts = [task.text, *task.equivalents]
        edit_loss = F.cross_entropy(self.model.logits(texts, weights),
                                    torch.full((len(texts),), task.label, device=self.model.classifier.learner.device))
        with torch.no_grad():
            unedited = F.softmax(self.model.logits(task.locality), -1)
        locality = F.kl_div(F.log_softmax(self.model.logits(task.locality, weights), -1), unedited,
                            reduction="batchmean")
        return edit_loss, locality

    def selection_score(self, accelerator: Accelerator) -> float:
        """Mean of success, generality and locality of single edits of the validation rows (each from the unedited
        classifier)."""
        scores = []
        for i, row in enumerate(self.validation):
            target = (self.validation_predicted[i] + 1) % len(self.model.labels)
            weights = {k: v.detach() for k, v in self.edited_weights(row.text, target).items()}
            equivalents = [t.text for t in self.translations.get(row.group, []) if t.text != row.text]
            locality = [r.text for r in self.rows[:LOCALITY_ROWS]]
            with torch.no_grad():
                success = float(self.model.logits([row.text], weights).argmax(-1).item() == target)
                general = [float(p == target) for p in self.model.logits(equivalents, weights).argmax(-1).tolist()] \
                    if equivalents else []
                kept = (self.model.logits(locality, weights).argmax(-1) == self.model.logits(locality).argmax(-1))
            scores.append(np.mean([success, np.mean(general) if general else success, kept.float().mean().item()]))
        return float(np.mean(scores))

    def save_selected(self, path: Path, record: dict) -> None:
        path.mkdir(parents=True, exist_ok=True)
        module = next(iter(self.trained_modules().values()))
        save_file({k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}, str(path / EDITOR_FILE))
        (path / EDITOR_META).write_text(json.dumps({
            "method": self.name, "edit_layers": self.cfg.edit_layers, "editor_rank": self.cfg.editor_rank,
            "edit_max_steps": self.cfg.edit_max_steps, "classifier": self.classifier_fingerprint}, indent=2))


class MENDObjective(EditingObjective):
    """MEND: a network maps the edit's gradient factors to a weight change; the classifier stays frozen."""
    name = "mend"

    def __init__(self, cfg: MetaConfig, model: EditableClassifier, rows: list[Row], translations: dict[str, list[Row]],
                 statistics_edits: int = STATISTICS_EDITS, validation_edits: int = VALIDATION_EDITS):
        super().__init__(cfg, model, rows, translations, validation_edits)
        self.statistics_edits = statistics_edits
        self.editor = MEND(model, cfg.edit_layers, cfg.editor_rank, cfg.edit_lr).to(model.classifier.learner.device)
        self.editor.set_statistics(self.factor_sample())
        self.edit_lr_start = self.start_edit_lr()

    def factor_sample(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Gradient factors of `statistics_edits` training edits, pooled per matrix."""
        sample: dict[str, list] = {}
        for i in range(min(self.statistics_edits, len(self.rows))):
            task = self.draw_task(-1, i, 1)
            for name, (u, d) in edit_factors(self.model, task.text, task.label, self.editor.names).items():
                sample.setdefault(name, []).append((u, d))
        return {n: (torch.cat([u for u, _ in f]), torch.cat([d for _, d in f])) for n, f in sample.items()}

    def trained_modules(self) -> dict[str, torch.nn.Module]:
        return {"editor": self.editor}

    def learned_lrs(self) -> torch.nn.Parameter:
        return self.editor.lrs

    def param_groups(self, phase: str = "main") -> list[dict]:
        return [{"params": list(self.editor.networks.parameters()), "lr": self.cfg.editor_lr},
                {"params": [self.editor.lrs], "lr": self.cfg.editor_lr, "weight_decay": 0.0}]

    def edited_weights(self, text: str, label: int) -> Params:
        return self.editor.edited_weights(self.model, text, label)

    def task_gradients(self, task: EditTask, step: int, weight: float, backward: Backward,
                       phase: str = "main") -> dict[str, float]:
        edit_loss, locality = self.edit_losses(task, self.edited_weights(task.text, task.label))
        loss = C_EDIT * edit_loss + C_LOC * locality
        backward(loss * weight)
        return {"loss": loss.item(), "edit_loss": edit_loss.item(), "locality_loss": locality.item()}


C_BASE = 1.0  # ENN: weight of KL(original ‖ trained) on the locality rows (the trained classifier stays close)


class EditableWeights(torch.nn.Module):
    """ENN's trained weights: the classifier's editable tensors (top layers and head), each with a learned edit lr."""

    def __init__(self, weights: Params, lr: float):
        super().__init__()
        self.names = list(weights)
        self.values = torch.nn.ParameterList([torch.nn.Parameter(v.detach().clone()) for v in weights.values()])
        self.lrs = torch.nn.Parameter(torch.full((len(self.names),), float(lr), device=self.values[0].device))

    def as_dict(self) -> Params:
        return dict(zip(self.names, self.values))

    def edit_lrs(self) -> dict[str, float]:
        return {n: float(lr) for n, lr in zip(self.names, self.lrs.detach().tolist())}


class ENNObjective(EditingObjective):
    """Editable training (Sinitsin et al., ICLR 2020): the classifier's top layers and head are themselves trained so
    that one SGD step on an edit (learned lr per tensor) makes it hold, on its translations too, with little change
    elsewhere; a KL to the original classifier keeps the trained one close before any edit. Second order."""
    name = "enn"

    def __init__(self, cfg: MetaConfig, model: EditableClassifier, rows: list[Row], translations: dict[str, list[Row]],
                 validation_edits: int = VALIDATION_EDITS):
        super().__init__(cfg, model, rows, translations, validation_edits)
        self.original = {k: v.detach().clone() for k, v in model.weights.items()}
        self.weights = EditableWeights(model.weights, cfg.edit_lr)
        self.edit_lr_start = self.start_edit_lr()

    def trained_modules(self) -> dict[str, torch.nn.Module]:
        return {"enn": self.weights}

    def learned_lrs(self) -> torch.nn.Parameter:
        return self.weights.lrs

    def param_groups(self, phase: str = "main") -> list[dict]:
        return [{"params": list(self.weights.values), "lr": self.cfg.meta_lr},
                {"params": [self.weights.lrs], "lr": self.cfg.editor_lr, "weight_decay": 0.0}]

    def edited_weights(self, text: str, label: int, create_graph: bool = False) -> Params:
        """One SGD step of the trained weights on the edit, at the learned lrs."""
        self.model.weights = {k: v.detach() for k, v in self.weights.as_dict().items()}  # the unedited: current
        weights = self.weights.as_dict()
        target = torch.tensor([label], device=self.weights.lrs.device)
        grads = torch.autograd.grad(F.cross_entropy(self.model.logits([text], weights), target),
                                    list(weights.values()), create_graph=create_graph)
        return {n: w - self.weights.lrs[i] * g for i, ((n, w), g) in enumerate(zip(weights.items(), grads))}

    def task_gradients(self, task: EditTask, step: int, weight: float, backward: Backward,
                       phase: str = "main") -> dict[str, float]:
        with double_backward_attention(True):  # the edit step is differentiated through (second order)
            edit_loss, locality = self.edit_losses(task, self.edited_weights(task.text, task.label, create_graph=True))
            with torch.no_grad():
                original = F.softmax(self.model.logits(task.locality, self.original), -1)
            drift = F.kl_div(F.log_softmax(self.model.logits(task.locality, self.weights.as_dict()), -1), original,
                             reduction="batchmean")
            loss = C_EDIT * edit_loss + C_LOC * locality + C_BASE * drift
            backward(loss * weight)
        return {"loss": loss.item(), "edit_loss": edit_loss.item(), "locality_loss": locality.item(),
                "drift": drift.item()}
