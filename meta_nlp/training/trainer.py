"""The meta-trainer: one class on Accelerate for every algorithm, CPU laptop to many GPUs.

Read `train()` top to bottom. Three decisions worth knowing:
- The model is *not* wrapped in DDP: DDP's gradient hooks and autograd.grad(create_graph=True)
  do not mix. Each process accumulates the meta-gradient of its own tasks and
  `all_reduce_meta_gradient` sums it explicitly before the optimiser step.
- Task j of meta-step s is a pure function of (seed, s, j) (`Algorithm.draw_episodes` keeps
  it so; MLDG's pseudo-target is training language s mod L): process p takes tasks
  p*B .. p*B+B-1. So 2 processes x B tasks give the same update as 1 process x 2B tasks,
  and a resumed run draws exactly the tasks an uninterrupted one would.
- Dropout is seeded per task for the same reason.
"""
from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.logging import get_logger
from accelerate.utils import set_seed
from tqdm.auto import tqdm

from meta_nlp.algorithms import Algorithm, build_algorithm
from meta_nlp.algorithms.inner import to_task_batch
from meta_nlp.algorithms.interpolation import TaskInterpolation
from meta_nlp.config import MetaConfig
from meta_nlp.data.augmentation import training_sampler
from meta_nlp.data.languages import LanguageSplit, prepare_languages
from meta_nlp.evaluation.evaluator import validation_accuracy
from meta_nlp.models.encoder import MetaModel, load_encoder
from meta_nlp.learner import save_learner

logger = get_logger(__name__)


@dataclass
class TrainerState:
    """What a resume needs besides weights, optimiser, scheduler and RNG (Accelerate saves those)."""
    step: int = 0
    best_val: float = -1.0
    best_step: int = -1

    def state_dict(self) -> dict:
        return dict(self.__dict__)

    def load_state_dict(self, d: dict) -> None:
        self.__dict__.update(d)


def make_accelerator(cfg: MetaConfig) -> Accelerator:
    return Accelerator(mixed_precision=cfg.mixed_precision, log_with=None if cfg.report_to == "none" else cfg.report_to,
                       project_dir=cfg.output_dir)


def task_seed(seed: int, step: int, task: int) -> int:
    return (seed * 1_000_003 + step * 10_007 + task) % (2 ** 31)


def warmup_linear_decay(warmup: int, total: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (total - step) / max(1, total - warmup))
    return factor


class MetaTrainer:
    def __init__(self, cfg: MetaConfig, accelerator: Accelerator | None = None):
        self.cfg = cfg
        self.accelerator = accelerator or make_accelerator(cfg)
        self.output_dir = Path(cfg.output_dir)

    # ------------------------------------------------------------------ setup
    def setup(self, languages: LanguageSplit | None = None) -> None:
        cfg, acc = self.cfg, self.accelerator
        set_seed(cfg.seed)
        self.languages = languages or prepare_languages(cfg)
        self.val_sampler = self.languages.val_sampler(cfg)
        encoder, self.tokenizer = load_encoder(cfg.model)
        self.train_sampler = training_sampler(cfg, self.languages, self.tokenizer)  # + task augmentation, if asked
        self.interpolation = TaskInterpolation(cfg.mlti_ratio, cfg.mlti_alpha, cfg.seed)  # MLTI, if asked
        self.model = MetaModel(encoder, cfg.logit_scale)
        self.algorithm: Algorithm = build_algorithm(cfg)
        self.algorithm.setup(self.model)
        self.algorithm.backward_fn = acc.backward
        self.model.to(acc.device)
        self.model.train()
        groups = [{"params": list(self.model.encoder.parameters()), "lr": cfg.meta_lr},
                  {"params": self.model.meta_params(), "lr": cfg.meta_param_lr, "weight_decay": 0.0}]
        optimizer = torch.optim.AdamW(groups)
        # Not prepared: a prepared scheduler steps once per process, which would make the
        # schedule depend on the number of processes.
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_linear_decay(cfg.warmup_steps, cfg.max_steps))
        self.optimizer = acc.prepare(optimizer)
        self.state = TrainerState()
        for obj in (self.model, self.scheduler, self.state):
            acc.register_for_checkpointing(obj)
        if cfg.report_to != "none":
            acc.init_trackers("meta_nlp", config={k: v for k, v in cfg.to_dict().items() if not isinstance(v, list)})
        if self.algorithm.second_order:
            acc.print(f"{cfg.algorithm}: second order -> attention runs in SDPA math mode (double backward); "
                      f"first-order steps keep the fused kernels")

    # ------------------------------------------------------------------ train
    def train(self) -> dict:
        cfg, acc = self.cfg, self.accelerator
        self.maybe_resume()
        if self.state.step == 0 and self.state.best_val < 0:
            self.validate_and_keep_best()  # φ⁰ is a candidate too: meta-training must earn its place
        bar = tqdm(total=cfg.max_steps, initial=self.state.step, desc=f"meta-train {cfg.algorithm}",
                   disable=not acc.is_local_main_process, dynamic_ncols=True)
        try:
            while self.state.step < cfg.max_steps:
                metrics = self.meta_step(self.state.step)
                self.state.step += 1
                bar.update(1)
                bar.set_postfix(loss=f"{metrics['loss']:.3f}", lr=f"{self.scheduler.get_last_lr()[0]:.1e}")
                acc.log(metrics, step=self.state.step)
                if self.state.step % cfg.eval_every == 0 or self.state.step == cfg.max_steps:
                    self.validate_and_keep_best()
                if self.state.step % cfg.save_every == 0 or self.state.step == cfg.max_steps:
                    self.save_checkpoint()
        except KeyboardInterrupt:  # nothing lost: the last finished step is saved, resume with 'latest'
            acc.print(f"interrupted: saved {self.save_checkpoint()}")
            raise
        finally:
            bar.close()
        acc.wait_for_everyone()
        return {"best_val_accuracy": self.state.best_val, "best_step": self.state.best_step, "steps": self.state.step}

    def meta_step(self, step: int) -> dict:
        """One meta-update over meta_batch_size tasks per process."""
        cfg, acc = self.cfg, self.accelerator
        per_process = cfg.meta_batch_size
        total_tasks = per_process * acc.num_processes
        first = step * total_tasks + acc.process_index * per_process
        sums: dict[str, float] = {}
        for task in range(first, first + per_process):
            torch.manual_seed(task_seed(cfg.seed, step, task))
            episodes = self.algorithm.draw_episodes(self.train_sampler, task, step)
            batch = to_task_batch(episodes, self.tokenizer, cfg.max_length, acc.device)
            mix = self.interpolation.draw(self.train_sampler, step, task, episodes)
            with acc.autocast():
                if mix is not None:
                    batch = self.interpolation.mixed(self.model, batch, mix, self.tokenizer, cfg.max_length)
                m = self.algorithm.accumulate_meta_gradient(self.model, batch, step, weight=1.0 / total_tasks)
            for k, v in m.items():
                sums[k] = sums.get(k, 0.0) + v / per_process
        all_reduce_meta_gradient(self.model, acc)
        grad_norm = acc.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        sums["grad_norm"] = float(grad_norm)
        return sums

    # ------------------------------------------------------------------ validation
    def validate_and_keep_best(self) -> None:
        acc = self.accelerator
        val = validation_accuracy(self.model, self.tokenizer, self.algorithm.test_time_rule(self.model),
                                  self.val_sampler, self.cfg, acc)
        self.model.requires_grad_(True)
        self.model.train()
        acc.log({"val_accuracy": val}, step=self.state.step)
        acc.print(f"step {self.state.step}: meta-validation accuracy {val:.4f}")
        if val > self.state.best_val:
            self.state.best_val, self.state.best_step = val, self.state.step
            if acc.is_main_process:
                save_learner(self.output_dir / "best", self.model, self.tokenizer, self.cfg,
                             extra={"step": self.state.step, "val_accuracy": val,
                                    "train_languages": list(self.languages.train)})
        acc.wait_for_everyone()

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self) -> Path:
        path = self.output_dir / "checkpoints" / f"step_{self.state.step}"
        self.accelerator.save_state(str(path))
        return path

    def maybe_resume(self) -> None:
        spec = self.cfg.resume_from_checkpoint
        if not spec:
            return
        path = latest_checkpoint(self.output_dir) if spec == "latest" else Path(spec)
        if path is None:
            self.accelerator.print("--resume-from-checkpoint latest: no checkpoint yet, starting fresh")
            return
        if not path.is_dir():
            from meta_nlp.errors import MetaNLPError
            raise MetaNLPError(f"checkpoint not found: {path}")
        self.accelerator.load_state(str(path))
        self.accelerator.print(f"resumed from {path} at step {self.state.step}")


def latest_checkpoint(output_dir: Path) -> Path | None:
    found = [(int(m.group(1)), p) for p in (output_dir / "checkpoints").glob("step_*")
             if (m := re.fullmatch(r"step_(\d+)", p.name))]
    return max(found)[1] if found else None


def all_reduce_meta_gradient(model: torch.nn.Module, accelerator: Accelerator) -> None:
    """Sum every process's weighted meta-gradient (the weights already divide by the global task count)."""
    if accelerator.num_processes == 1:
        return
    params = [p for p in model.parameters() if p.requires_grad]
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = accelerator.reduce(torch.cat([g.reshape(-1) for g in grads]), reduction="sum")
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = flat[offset: offset + n].view_as(p).clone()
        offset += n
