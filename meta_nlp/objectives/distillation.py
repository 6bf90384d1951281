"""Episodic knowledge distillation as an objective: a student meta-learns with its algorithm (--algorithm) on the
training episodes, and its query loss also matches the teacher's query distribution, (1−α)·CE + α·T²·KL(teacher ‖
student), where the teacher adapts on the same support set with its own test-time rule.

- `kd` (vanilla KD): the teacher is frozen (on the device, outside the optimiser and the checkpoint).
- `metadistil` (MetaDistil, Zhou, Xu & McAuley 2022): each step has two phases. In "teacher" the student takes a
  *pilot* SGD step on its KD loss, the piloted student is scored on a *quiz* episode (rows set apart from every
  training episode, from meta-validation and from the held-out language), and the teacher steps along the gradient
  of that quiz loss through the pilot step. In "student" the real student step uses the updated teacher.

The teacher's gradient through the pilot step is second order (a first-order shortcut gives it zero). With θ the
student, φ the teacher, η the pilot rate and g the quiz gradient at the piloted student,
    dL_quiz/dφ = −η ∇_φ ⟨∇_θ L_kd(θ, φ), g⟩ = η·α·T²/n · ∇_φ Σ_ic p_teacher[i,c](φ) · (J_θ log p_student · g)[i,c],
because only the KL term depends on φ and its θ-gradient is −α·T²/n Σ p_teacher ∇_θ log p_student. So one
Jacobian-vector product of the student's log-probabilities along g (torch.func.jvp: about one more forward pass)
and one backward pass through the teacher give it exactly; tests check it against create_graph autograd.

The pilot step and the quiz loss use the student's episode logits before any inner step (the prototype head of
its support set): running the pilot through the student's inner loop would make the teacher's gradient third order.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from torch.func import jvp

from meta_nlp.algorithms import TestTimeRule
from meta_nlp.algorithms.base import kd_divergence
from meta_nlp.algorithms.inner import EpisodeBatch, inner_loop, query_logits, to_batch
from meta_nlp.config import MetaConfig
from meta_nlp.data.episodes import Episode, EpisodeSampler
from meta_nlp.data.languages import LanguageSplit
from meta_nlp.learner import save_head
from meta_nlp.models.encoder import MetaModel, Params, double_backward_attention, head_logits, init_head
from meta_nlp.objectives.base import Backward
from meta_nlp.objectives.meta_learning import MetaLearningObjective, MetaTask
from meta_nlp.objectives.multitask import pooled_examples, shared_label_head


@dataclass
class Teacher:
    """The model that teaches, and how it adapts to an episode (its own test-time rule, steps and rate)."""
    model: MetaModel
    tokenizer: object
    rule: TestTimeRule
    lr_factor: float
    steps: int
    head_init: str
    max_length: int

    def batch(self, batch: EpisodeBatch) -> EpisodeBatch:
        """The student's episode tokenised for the teacher (their tokenizers may differ: only the texts are shared)."""
        return to_batch(batch.episode, self.tokenizer, self.max_length, batch.query_labels.device)

    def query_probs(self, batch: EpisodeBatch, temperature: float, differentiable: bool = False) -> torch.Tensor:
        """The teacher's query distribution at `temperature` after adapting on the support set; `differentiable`
        keeps it a function of the teacher's weights (through the adaptation steps too)."""
        state = None
        for state in inner_loop(self.model, batch, self.rule.names, self.steps, self.rule.scaled(self.lr_factor),
                                create_graph=differentiable, head_init=self.head_init, track_meta_grad=differentiable):
            pass
        with torch.set_grad_enabled(differentiable):
            return F.softmax(query_logits(self.model, batch, state) / temperature, -1)


@dataclass
class DistillationTask(MetaTask):
    quiz: EpisodeBatch | None = None  # metadistil: the quiz episode of this task (tokenised for the student)


class DistillationObjective(MetaLearningObjective):
    """The student starting from `start` (the run's student initialisation), taught by `teacher`; mode 'kd' or
    'metadistil'."""

    def __init__(self, cfg: MetaConfig, languages: LanguageSplit, device: torch.device, start: str, teacher: Teacher,
                 mode: str, quiz_sampler: EpisodeSampler | None = None, num_processes: int = 1):
        super().__init__(cfg, languages, device, num_processes, start=start)
        self.teacher, self.mode, self.quiz_sampler = teacher, mode, quiz_sampler
        self.name = f"student_{mode}"
        teacher.model.to(device)

    def trained_modules(self) -> dict[str, torch.nn.Module]:
        return {"model": self.model, **({"teacher": self.teacher.model} if self.mode == "metadistil" else {})}

    def frozen_modules(self) -> dict[str, torch.nn.Module]:
        return {} if self.mode == "metadistil" else {"teacher": self.teacher.model}

    def phases(self) -> tuple[str, ...]:
        return ("teacher", "student") if self.mode == "metadistil" else ("main",)

    def param_groups(self, phase: str = "main") -> list[dict]:
        if phase == "teacher":
            return [{"params": list(self.teacher.model.encoder.parameters()), "lr": self.cfg.teacher_lr},
                    {"params": self.teacher.model.meta_params(), "lr": self.cfg.meta_param_lr, "weight_decay": 0.0}]
        return super().param_groups(phase)

    def draw_task(self, step: int, index: int, total: int) -> DistillationTask:
        task = super().draw_task(step, index, total)
        quiz = None
        if self.mode == "metadistil":
            quiz = to_batch(self.quiz_sampler.episode(index), self.tokenizer, self.cfg.max_length, self.device)
        return DistillationTask(task.episodes, task.mix, task.auxiliary, quiz=quiz)

    def task_gradients(self, task: DistillationTask, step: int, weight: float, backward: Backward,
                       phase: str = "main") -> dict[str, float]:
        self.teacher.model.eval()  # the teacher's targets are deterministic (no dropout), also while it learns
        if phase == "teacher":
            return self.teacher_gradient(task, weight, backward)
        return super().task_gradients(task, step, weight, backward)

    def task_batch(self, task: DistillationTask) -> EpisodeBatch:
        """The student's episode, carrying the teacher's query distribution (a constant for the student)."""
        batch = super().task_batch(task)
        targets = self.teacher.query_probs(self.teacher.batch(batch), self.cfg.kd_temperature)
        return replace(batch, soft_targets=targets.detach())

    def save_selected(self, path: Path, record: dict) -> None:
        super().save_selected(path, {**record, "distillation": {"method": self.name, "teacher": self.cfg.teacher}})

    # ------------------------------------------------------------------ MetaDistil's teacher phase
    def teacher_gradient(self, task: DistillationTask, weight: float, backward: Backward) -> dict[str, float]:
        """Add weight × d(quiz loss of the piloted student)/d(teacher) to the teacher's `.grad` (exact; see above)."""
        cfg, batch = self.cfg, self.pilot_batch(task)
        with double_backward_attention(True):  # fused SDPA kernels have no forward-mode AD nor double backward
            teacher_probs = self.teacher.query_probs(self.teacher.batch(batch), cfg.kd_temperature, differentiable=True)
            theta = {n: p.detach() for n, p in self.student_weights().items()}
            piloted = self.pilot_update(theta, batch, teacher_probs.detach())
            quiz_loss, quiz_grad = self.quiz_loss_and_gradient(piloted, task.quiz)
            _, along = jvp(lambda params: self.student_log_probs(params, batch), (theta,), (quiz_grad,))
            n = teacher_probs.shape[0]
            backward((teacher_probs * along.detach()).sum() * (cfg.pilot_lr * cfg.kd_alpha * cfg.kd_temperature ** 2
                                                                 / n * weight))
        return {"quiz_loss": quiz_loss.item()}

    def pilot_batch(self, task: DistillationTask) -> EpisodeBatch:
        """What the pilot step learns from: the task's episode (the distillable algorithms draw one per task)."""
        (episode,) = task.episodes
        return to_batch(episode, self.tokenizer, self.cfg.max_length, self.device)

    def student_weights(self) -> Params:
        """The student's weights that the pilot step moves: the whole encoder."""
        return dict(self.model.encoder.named_parameters())

    def student_logits(self, params: Params, batch: EpisodeBatch) -> torch.Tensor:
        """The student's query logits before any inner step: the prototype head of its support set."""
        z_support, z_query = self.model.embed(batch.support, params), self.model.embed(batch.query, params)
        head = init_head(z_support, batch.support_labels, batch.n_way, "proto")
        return head_logits(z_query, head, self.model.log_scale.detach().exp())

    def student_log_probs(self, params: Params, batch: EpisodeBatch) -> torch.Tensor:
        return F.log_softmax(self.student_logits(params, batch) / self.cfg.kd_temperature, -1)

    def pilot_loss(self, params: Params, batch: EpisodeBatch, teacher_probs: torch.Tensor) -> torch.Tensor:
        """The student's KD loss on the episode, (1−α)·CE + α·T²·KL(teacher ‖ student)."""
        cfg = self.cfg
        logits = self.student_logits(params, batch)
        return ((1 - cfg.kd_alpha) * F.cross_entropy(logits, batch.query_labels)
                + cfg.kd_alpha * cfg.kd_temperature ** 2 * kd_divergence(logits / cfg.kd_temperature, teacher_probs))

    def pilot_update(self, theta: Params, batch: EpisodeBatch, teacher_probs: torch.Tensor) -> Params:
        """θ − η·∇_θ L_kd(θ): one SGD step of the student on its KD loss (never applied to the student itself)."""
        params = {n: p.requires_grad_() for n, p in theta.items()}
        grads = torch.autograd.grad(self.pilot_loss(params, batch, teacher_probs), list(params.values()),
                                    allow_unused=True)
        for p in params.values():
            p.requires_grad_(False)
        return {n: (p - self.cfg.pilot_lr * g).requires_grad_() if g is not None else p
                for (n, p), g in zip(params.items(), grads)}

    def quiz_loss_and_gradient(self, piloted: Params, quiz: EpisodeBatch) -> tuple[torch.Tensor, Params]:
        """The piloted student's cross-entropy on the quiz episode, and its gradient (zero where a weight is unused)."""
        loss = F.cross_entropy(self.student_logits(piloted, quiz), quiz.query_labels)
        names = [n for n, p in piloted.items() if p.requires_grad]
        grads = torch.autograd.grad(loss, [piloted[n] for n in names], allow_unused=True)
        found = dict(zip(names, grads))
        return loss.detach(), {n: found[n] if found.get(n) is not None else torch.zeros_like(p)
                               for n, p in piloted.items()}


# ---------------------------------------------------------------------------------- supervised distillation
SUPERVISED_STREAM = 12  # the supervised batches' random stream (the multitask baseline's is 11)
VALIDATION_ROWS = 1000  # meta-validation rows scored by the supervised students' model selection


@dataclass
class SupervisedTask:
    batch: EpisodeBatch  # query: this process's share of the step's rows; support: the teacher's support rows
    quiz: EpisodeBatch | None  # metadistil: rows of the quiz split (query only is read)


class SupervisedDistillationObjective(DistillationObjective):
    """MetaDistil's own setting on the same code: a classifier (the student's encoder and a linear head over the
    task's full label set) trained on batches of the pooled training languages' rows, with (1−α)·CE + α·T²·KL to
    the teacher's distribution over every label. The teacher adapts, by its own test-time rule, on a support set of
    K training rows per label drawn with each batch (its prototypes of every label). Mode 'none' is the student
    trained alone (cross-entropy), 'kd' and 'metadistil' as in the episodic objective; MetaDistil's quiz batch is
    drawn from the quiz rows. A step sees as many rows as the multitask baseline's (--multitask-batch-size)."""

    def __init__(self, cfg: MetaConfig, languages: LanguageSplit, device: torch.device, start: str, teacher: Teacher,
                 mode: str, quiz: dict | None = None, num_processes: int = 1):
        super().__init__(cfg, languages, device, start, teacher, mode, None, num_processes)
        self.name = "student" if mode == "none" else f"student_{mode}"
        texts, labels, self.label_names = pooled_examples(languages.train)
        self.rows = list(zip(texts, labels))
        self.row_ids_by_label = [[i for i, y in enumerate(labels) if y == label] for label in range(len(self.label_names))]
        self.quiz_rows = self.rows_of(quiz) if quiz else []
        self.val_rows = self.rows_of(languages.val)
        self.head = shared_label_head(len(self.label_names), self.model.encoder.config.hidden_size)
        self.steps, self.batch_size = cfg.multitask_budget(num_processes)

    def rows_of(self, corpus: dict) -> list[tuple[str, int]]:
        """(text, label id) of a corpus's rows whose label the classifier has."""
        texts, labels, names = pooled_examples(corpus)
        return [(t, self.label_names.index(names[y])) for t, y in zip(texts, labels) if names[y] in self.label_names]

    def trained_modules(self) -> dict[str, torch.nn.Module]:
        return {**super().trained_modules(), "head": self.head}

    def frozen_modules(self) -> dict[str, torch.nn.Module]:
        return {} if self.mode != "kd" else super().frozen_modules()

    def param_groups(self, phase: str = "main") -> list[dict]:
        if phase == "teacher":
            return super().param_groups(phase)
        return [{"params": list(self.model.encoder.parameters()), "lr": self.cfg.meta_lr},
                {"params": list(self.head.parameters()), "lr": self.cfg.multitask_head_lr}]

    def draw_task(self, step: int, index: int, total: int) -> SupervisedTask:
        """Share `index mod total` of step `step`'s rows, the teacher's support rows and a quiz batch, from (seed, step)."""
        rng = np.random.default_rng([self.cfg.training_seed, SUPERVISED_STREAM, step])
        chosen = rng.choice(len(self.rows), min(self.batch_size, len(self.rows)), replace=False)
        share = [self.rows[i] for i in np.array_split(chosen, total)[index % total]]
        support = self.support_rows(rng, exclude=set(chosen.tolist()))
        quiz = None
        if self.mode == "metadistil":
            picked = rng.choice(len(self.quiz_rows), min(len(share), len(self.quiz_rows)), replace=False)
            quiz_rows = [self.quiz_rows[i] for i in picked]
            quiz = self.labelled_batch(quiz_rows, quiz_rows)
        return SupervisedTask(self.labelled_batch(support, share), quiz)

    def support_rows(self, rng: np.random.Generator, exclude: set[int]) -> list[tuple[str, int]]:
        """K rows of every label, none of the step's batch (fewer where a label has fewer)."""
        out = []
        for ids in self.row_ids_by_label:
            outside = [i for i in ids if i not in exclude] or ids  # a label all in the batch lends its batch rows
            out += [self.rows[i] for i in rng.permutation(outside)[:self.cfg.k_shot]]
        return out

    def labelled_batch(self, support: list[tuple[str, int]], query: list[tuple[str, int]]) -> EpisodeBatch:
        episode = Episode([t for t, _ in support], [y for _, y in support], [t for t, _ in query],
                          [y for _, y in query], self.label_names, "pooled")
        return to_batch(episode, self.tokenizer, self.cfg.max_length, self.device)

    def task_gradients(self, task: SupervisedTask, step: int, weight: float, backward: Backward,
                       phase: str = "main") -> dict[str, float]:
        self.teacher.model.eval()
        if phase == "teacher":
            return self.teacher_gradient(task, weight, backward)
        batch = task.batch
        if self.mode == "none":
            loss = F.cross_entropy(self.student_logits(self.student_weights(), batch), batch.query_labels)
        else:
            targets = self.teacher.query_probs(self.teacher.batch(batch), self.cfg.kd_temperature).detach()
            loss = self.pilot_loss(self.student_weights(), batch, targets)  # the same KD loss, on the live weights
        backward(loss * weight)
        return {"loss": loss.item()}

    def pilot_batch(self, task: SupervisedTask) -> EpisodeBatch:
        return task.batch

    def student_weights(self) -> Params:
        """The classifier's weights: the encoder's and the head's ("head.weight", "head.bias")."""
        return {**dict(self.model.encoder.named_parameters()), **{f"head.{k}": v for k, v in self.head.items()}}

    def student_logits(self, params: Params, batch: EpisodeBatch) -> torch.Tensor:
        """The classifier's logits of the batch's rows (its query side) over every label."""
        encoder = {k: v for k, v in params.items() if not k.startswith("head.")}
        head = {k: v for k, v in params.items() if k.startswith("head.")}
        return head_logits(self.model.embed(batch.query, encoder), head, self.model.log_scale.detach().exp())

    def selection_score(self, accelerator: Accelerator) -> float:
        """Accuracy on (up to VALIDATION_ROWS of) the training languages' meta-validation rows."""
        self.model.eval()
        rows = [self.val_rows[i] for i in np.random.default_rng([self.cfg.seed, SUPERVISED_STREAM]).permutation(
            len(self.val_rows))[:VALIDATION_ROWS]]
        correct = 0
        with torch.no_grad():
            for start in range(0, len(rows), 64):
                chunk = rows[start:start + 64]
                batch = self.labelled_batch(chunk, chunk)
                correct += (self.student_logits(self.student_weights(), batch).argmax(-1) == batch.query_labels).sum().item()
        return correct / max(1, len(rows))

    def save_selected(self, path: Path, record: dict) -> None:
        super().save_selected(path, record)
        save_head(path, self.head, self.label_names)
