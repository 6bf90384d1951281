"""Episodic meta-learning as an objective: every learner of meta_nlp/algorithms (MAML, FOMAML, Reptile,
ANIL, Meta-SGD / MAML++, ProtoNet, MLDG). A task is one or more episodes of the training languages
(task-augmented, if asked); its gradient is the algorithm's meta-gradient; model selection is the
meta-validation accuracy after the algorithm's own test-time rule."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator

from meta_nlp.algorithms import Algorithm, build_algorithm
from meta_nlp.algorithms.inner import TaskBatch, to_task_batch
from meta_nlp.config import MetaConfig
from meta_nlp.augmentation.interpolation import Interpolation, TaskInterpolation
from meta_nlp.augmentation.samplers import training_sampler
from meta_nlp.data.episodes import Episode
from meta_nlp.data.languages import LanguageSplit
from meta_nlp.evaluation.evaluator import validation_accuracy
from meta_nlp.learner import save_learner
from meta_nlp.models.encoder import MetaModel, load_encoder
from meta_nlp.objectives.base import Backward, Objective
from meta_nlp.objectives.multitask import supervised_loss, supervised_task

AUXILIARY_STREAM = 17  # the auxiliary task's random stream (the multitask baseline's batches use 11)


@dataclass
class MetaTask:
    episodes: list[Episode]
    mix: Interpolation | None  # MLTI's partner and λ, when this task is interpolated
    auxiliary: list[tuple] = field(default_factory=list)  # the auxiliary task's rows (multitask.supervised_task)


class MetaLearningObjective(Objective):
    def __init__(self, cfg: MetaConfig, languages: LanguageSplit, device: torch.device, num_processes: int = 1,
                 start: str | None = None):
        """`start`: the encoder meta-training starts from (default --model; a distillation run's student)."""
        self.cfg, self.languages, self.device = cfg, languages, device
        self.name = cfg.algorithm
        self.val_sampler = languages.val_sampler(cfg)
        # The other selection rules (the training languages' share, under --validation-languages): scored and
        # saved beside the run's own, so that both rules are compared on the same meta-training.
        self.compared_val = {rule: languages.val_sampler(cfg, rule) for rule in languages.selection_rules[1:]}
        encoder, self.tokenizer = load_encoder(start or cfg.model)
        self.train_sampler = training_sampler(cfg, languages, self.tokenizer)  # + task augmentation, if asked
        self.interpolation = TaskInterpolation(cfg.mlti_ratio, cfg.mlti_alpha, cfg.training_seed)  # MLTI, if asked
        self.model = MetaModel(encoder, cfg.logit_scale)
        self.algorithm: Algorithm = build_algorithm(cfg)
        self.algorithm.setup(self.model)
        # TADAM's auxiliary co-training (Oreshkin et al. 2018), under --auxiliary-weight: the multitask baseline's
        # loss (classification: one head over the shared label space), added to every task's meta-gradient.
        self.auxiliary_rows: list[tuple] = []
        self.auxiliary_head = torch.nn.ParameterDict()
        if cfg.auxiliary_weight > 0:
            self.auxiliary_rows, self.auxiliary_head, _ = supervised_task(languages, encoder.config.hidden_size)

    def trained_modules(self) -> dict[str, torch.nn.Module]:
        return {"model": self.model, **({"auxiliary_head": self.auxiliary_head} if len(self.auxiliary_head) else {})}

    def param_groups(self, phase: str = "main") -> list[dict]:
        groups = [{"params": self.model.trained_encoder_parameters(self.cfg.freeze_embeddings), "lr": self.cfg.meta_lr},
                  {"params": self.model.meta_params(), "lr": self.cfg.meta_param_lr, "weight_decay": 0.0}]
        if len(self.auxiliary_head):
            groups.append({"params": list(self.auxiliary_head.parameters()), "lr": self.cfg.multitask_head_lr})
        return groups

    def draw_task(self, step: int, index: int, total: int) -> MetaTask:
        episodes = self.algorithm.draw_episodes(self.train_sampler, index, step)
        return MetaTask(episodes, self.interpolation.draw(self.train_sampler, step, index, episodes),
                        self.auxiliary_batch(index))

    def auxiliary_batch(self, index: int) -> list[tuple]:
        """Task `index`'s auxiliary rows (or translation pairs), as many as a training episode has texts, drawn from
        (seed, index) alone."""
        if not self.auxiliary_rows:
            return []
        size = min(self.cfg.train_ways * (self.cfg.k_shot + self.cfg.n_query), len(self.auxiliary_rows))
        rng = np.random.default_rng([self.cfg.training_seed, AUXILIARY_STREAM, index])
        return [self.auxiliary_rows[i] for i in rng.choice(len(self.auxiliary_rows), size, replace=False)]

    def task_gradients(self, task: MetaTask, step: int, weight: float, backward: Backward,
                       phase: str = "main") -> dict[str, float]:
        self.algorithm.backward_fn = backward
        metrics = self.algorithm.accumulate_meta_gradient(self.model, self.task_batch(task), step, weight=weight)
        if task.auxiliary:
            loss = supervised_loss(self.model, self.tokenizer, self.auxiliary_head, task.auxiliary, self.cfg.max_length,
                                   self.device)
            backward(loss * weight * self.cfg.auxiliary_weight)
            metrics = {**metrics, "auxiliary_loss": loss.item()}
        return metrics

    def task_batch(self, task: MetaTask) -> TaskBatch:
        """The task's episodes tokenised and on the device (interpolated, for an MLTI task)."""
        batch = to_task_batch(task.episodes, self.tokenizer, self.cfg.max_length, self.device)
        if task.mix is not None:
            batch = self.interpolation.mixed(self.model, batch, task.mix, self.tokenizer, self.cfg.max_length)
        return batch

    def selection_score(self, accelerator: Accelerator) -> float:
        return validation_accuracy(self.model, self.tokenizer, self.algorithm.test_time_rule(self.model),
                                   self.val_sampler, self.cfg, accelerator)

    def compared_scores(self, accelerator: Accelerator) -> dict[str, float]:
        rule = self.algorithm.test_time_rule(self.model)
        return {name: validation_accuracy(self.model, self.tokenizer, rule, sampler, self.cfg, accelerator,
                                          desc=f"meta-validate on {name}") for name, sampler in self.compared_val.items()}

    def save_selected(self, path: Path, record: dict) -> None:
        save_learner(path, self.model, self.tokenizer, self.cfg,
                     extra={**record, "train_languages": list(self.languages.train)})

    def startup_note(self) -> str | None:
        if self.algorithm.second_order:
            return (f"{self.cfg.algorithm}: second order -> attention runs in SDPA math mode (double backward); "
                    f"first-order steps keep the fused kernels")
        return None

    def tracked_config(self) -> dict:
        return {k: v for k, v in self.cfg.to_dict().items() if not isinstance(v, list)}
