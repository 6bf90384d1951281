"""The one small protocol every algorithm follows.

An algorithm turns an episode into a meta-gradient (accumulated into `.grad` of the model's
parameters, weighted) and says how it adapts at test time. It owns nothing else: devices,
processes, precision, optimiser and checkpoints belong to the trainer. It may say how a task's
episodes are drawn (`draw_episodes`; MLDG draws two), as long as task j of meta-step s stays a
pure function of (seed, s, j).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from meta_nlp.algorithms.inner import EpisodeBatch, LrFn, TaskBatch, adapt_and_predict, constant_lr
from meta_nlp.config import MetaConfig
from meta_nlp.data.episodes import Episode, EpisodeSampler
from meta_nlp.errors import MetaNLPError
from meta_nlp.models.encoder import MetaModel


def pseudo_target_language(languages: list[str], step: int) -> str:
    """The pseudo-held-out language of meta-step `step`: every language of `languages` takes its turn."""
    if len(languages) < 2:
        raise MetaNLPError(f"a pseudo-held-out language needs at least 2 training languages to take turns, have "
                           f"{languages} (with --pseudo-target-queries: those sharing n_way labels with another)")
    return languages[step % len(languages)]


@dataclass
class TestTimeRule:
    """How a method adapts on a new episode: which weights, at what rate (times a tuned factor), and which head
    predicts (`readout`, --test-time-head: see inner.readout_head; `label_name_weight`, --label-name-weight: how
    much the class names add to it). Model selection scores a model by its rule, so a checkpoint is chosen for the
    head that will predict with it."""
    names: list[str]
    lr: LrFn
    readout: str = "sgd"
    label_name_weight: float = 0.0

    @classmethod
    def configured(cls, names: list[str], lr: LrFn, cfg: MetaConfig) -> "TestTimeRule":
        """A rule whose head is the run's: --test-time-head, plus --label-name-weight times the class names."""
        return cls(names, lr, cfg.test_time_head, cfg.label_name_weight)

    def scaled(self, factor: float) -> LrFn:
        return lambda name, step: self.lr(name, step) * factor

    def predict(self, model: MetaModel, batch: EpisodeBatch, steps: int, factor: float, head_init: str) -> list[list[int]]:
        """Query predictions after 0..steps test-time updates at `factor` times the rule's rate."""
        return adapt_and_predict(model, batch, self.names, steps, self.scaled(factor), head_init, self.readout,
                                 self.label_name_weight)


def kd_divergence(student_logits: torch.Tensor, teacher_probs: torch.Tensor) -> torch.Tensor:
    """KL(teacher ‖ student), averaged over the rows (the logits already divided by the temperature)."""
    return F.kl_div(F.log_softmax(student_logits, -1), teacher_probs, reduction="batchmean")


class Algorithm:
    name = "base"
    #: Whether this algorithm differentiates through the inner loop (needs double-backward attention).
    second_order = False

    def __init__(self, cfg: MetaConfig):
        self.cfg = cfg

    @classmethod
    def check_config(cls, cfg: MetaConfig) -> None:
        """Raise a one-line MetaNLPError for settings this algorithm cannot run with (MetaConfig.validate calls it,
        before anything loads)."""
        if cfg.pseudo_target_queries and len(cfg.train_languages) == 1:
            raise MetaNLPError("a pseudo-held-out language needs at least 2 --train-languages")

    def setup(self, model: MetaModel) -> None:
        """Create the meta-parameters this algorithm learns besides φ (before the optimiser is built)."""

    def name_weight(self) -> float:
        """w of the class names' term in meta-training's logits: --label-name-weight under --meta-train-label-names,
        else 0 (the names are then a test-time head only)."""
        return self.cfg.label_name_weight if self.cfg.meta_train_label_names else 0.0

    def adapted_names(self, model: MetaModel) -> list[str]:
        return model.adaptable_names(self.cfg.inner_layers)

    def is_second_order(self, step: int) -> bool:
        """MAML++ derivative-order annealing: first order for the first `first_order_steps` steps."""
        return self.second_order and step >= self.cfg.first_order_steps

    def needs_double_backward_attention(self, step: int) -> bool:
        """Only when the inner loop is differentiated through the encoder (not ANIL, whose inner loop is the head)."""
        return self.second_order and self.is_second_order(step)

    def draw_episodes(self, sampler: EpisodeSampler, index: int, step: int) -> list[Episode]:
        """The episodes of task `index` at meta-step `step`: one, or with --pseudo-target-queries one whose
        query set is in the step's pseudo-held-out language and whose support set is in another (the rotation
        skips languages that share too few labels with every other to be queried)."""
        if self.cfg.pseudo_target_queries:
            return [sampler.cross_lingual_episode(index, pseudo_target_language(sampler.query_languages, step))]
        return [sampler.episode(index)]

    def accumulate_meta_gradient(self, model: MetaModel, batch: TaskBatch, step: int, weight: float) -> dict:
        """Add weight * (meta-gradient of this task) to the `.grad` of model parameters; return metrics.
        `batch` is the task's EpisodeBatch, or the list of them when `draw_episodes` drew several."""
        raise NotImplementedError

    def query_loss(self, logits: torch.Tensor, batch: EpisodeBatch) -> torch.Tensor:
        """The loss of the query set: cross-entropy, or under distillation (the batch carries the teacher's soft
        targets) (1−α)·cross-entropy + α·T²·KL(teacher ‖ student)."""
        ce = F.cross_entropy(logits, batch.query_labels)
        if batch.soft_targets is None:
            return ce
        alpha, t = self.cfg.kd_alpha, self.cfg.kd_temperature
        return (1 - alpha) * ce + alpha * t ** 2 * kd_divergence(logits / t, batch.soft_targets)

    def test_time_rule(self, model: MetaModel) -> TestTimeRule:
        return TestTimeRule.configured(self.adapted_names(model), constant_lr(self.cfg.inner_lr), self.cfg)

    def backward(self, loss: torch.Tensor, weight: float) -> None:
        """The trainer swaps in accelerator.backward (loss scaling under fp16)."""
        self.backward_fn(loss * weight)

    @staticmethod
    def backward_fn(loss: torch.Tensor) -> None:
        loss.backward()
