"""The one training loop, on Accelerate, for every objective: CPU laptop to many GPUs.

Read `train()` top to bottom. What is trained is an `Objective` (meta_nlp/objectives/base.py); this
file owns the rest: devices, processes, precision, the optimiser and its schedule, clipping, the
explicit gradient all-reduce, model selection's bookkeeping, checkpoints, resume, trackers and the
progress bar. Decisions worth knowing:
- Trained modules are *not* wrapped in DDP: DDP's gradient hooks and autograd.grad(create_graph=True)
  do not mix. Each process accumulates the gradient of its own tasks and `all_reduce_gradients`
  sums it explicitly before the optimiser step.
- Task j of step s is a pure function of (seed, s, j) (the objective draws it so); tasks are numbered
  across the run (step s has s*T .. s*T+T-1 for T tasks a step), and process p takes the step's tasks
  p*B .. p*B+B-1: 2 processes x B tasks give the same update as 1 process x 2B tasks,
  and a resumed run draws exactly the tasks an uninterrupted one would. Dropout is seeded per task
  for the same reason.
- A non-finite gradient is never applied: after the all-reduce every process sees the same norm, so
  all skip the step alike; the skip is counted, logged, and the schedule still advances (the run
  stays a pure function of its seed).
- Frozen modules (a KD teacher, a classifier being edited) are on the device but outside the
  optimiser and the checkpoint.
- A step may have several phases, each with its own parameter groups, optimiser and schedule, applied
  in turn over the same tasks (MetaDistil: the teacher learns from the student's pilot update, then
  the student steps with the updated teacher); most objectives have the one phase "main".
"""
from __future__ import annotations

import functools
import logging
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from accelerate import Accelerator, PartialState
from accelerate.utils import ProjectConfiguration, parse_flag_from_env, set_seed
from tqdm.auto import tqdm

from meta_nlp.config import MetaConfig
from meta_nlp.errors import MetaNLPError
from meta_nlp.objectives.base import Objective

logger = logging.getLogger(__name__)


@dataclass
class EngineSettings:
    """How long and how an objective is trained; the recipe picks these per objective from the run config."""
    output_dir: str
    max_steps: int
    tasks_per_process: int
    seed: int = 0
    warmup_steps: int = 0
    max_grad_norm: float = 1.0
    eval_every: int = 20
    save_every: int = 20
    save_total_limit: int = 2
    resume_from_checkpoint: str | None = None
    mixed_precision: str = MetaConfig.mixed_precision  # its default: one per process (accelerate allows no other)
    report_to: str = "none"
    cpu_threads: int = 0
    desc: str = "train"

    @classmethod
    def from_config(cls, cfg: MetaConfig, **overrides) -> "EngineSettings":
        values = dict(output_dir=cfg.output_dir, max_steps=cfg.max_steps, tasks_per_process=cfg.meta_batch_size,
                      seed=cfg.training_seed, warmup_steps=cfg.warmup_steps, max_grad_norm=cfg.max_grad_norm,
                      eval_every=cfg.eval_every, save_every=cfg.save_every, save_total_limit=cfg.save_total_limit,
                      resume_from_checkpoint=cfg.resume_from_checkpoint, mixed_precision=cfg.mixed_precision,
                      report_to=cfg.report_to, cpu_threads=cfg.cpu_threads, desc=f"meta-train {cfg.algorithm}")
        values.update(overrides)
        return cls(**values)


@dataclass
class TrainerState:
    """What a resume needs besides weights, optimiser, scheduler and RNG (Accelerate saves those)."""
    step: int = 0
    skipped_steps: int = 0
    scores: dict[int, float] = field(default_factory=dict)  # model selection's score at each scored step
    # The objective's other selection rules, scored beside its own for comparison: rule -> step -> score.
    compared: dict[str, dict[int, float]] = field(default_factory=dict)

    @property
    def best_step(self) -> int:
        return best_step(self.scores)

    def state_dict(self) -> dict:
        return {"step": self.step, "skipped_steps": self.skipped_steps, "scores": dict(self.scores),
                "compared": {rule: dict(scores) for rule, scores in self.compared.items()}}

    def load_state_dict(self, d: dict) -> None:
        self.step, self.skipped_steps = d["step"], d["skipped_steps"]
        self.scores = {int(s): v for s, v in d["scores"].items()}
        self.compared = {rule: {int(s): v for s, v in scores.items()} for rule, scores in d.get("compared", {}).items()}


def best_step(scores: dict[int, float]) -> int:
    """The step model selection keeps: the highest score, the earlier step on a tie (-1: none scored yet)."""
    return max(scores, key=lambda s: (scores[s], -s)) if scores else -1


def compared_best_dir(output_dir: str | Path, rule: str) -> Path:
    """Where the model that another selection rule would have kept is saved (beside best/)."""
    return Path(output_dir) / f"best-{rule}"


def make_accelerator(cfg: MetaConfig | EngineSettings) -> Accelerator:
    """An Accelerator whose checkpoints go to OUTPUT_DIR/checkpoints/checkpoint_<step>, the oldest pruned."""
    project = ProjectConfiguration(project_dir=cfg.output_dir, automatic_checkpoint_naming=True,
                                   total_limit=cfg.save_total_limit)
    precision = resolved_precision(cfg.mixed_precision)
    if cfg.mixed_precision == "auto":
        note_auto_precision(precision)
    accelerator = Accelerator(mixed_precision=precision, project_config=project,
                              log_with=None if cfg.report_to == "none" else cfg.report_to)
    if accelerator.device.type == "cpu":
        threads = cpu_threads(cfg.cpu_threads, accelerator.num_processes, os.environ, launcher_environment())
        if threads != torch.get_num_threads():
            logger.info("CPU: %d torch threads (was %d; --cpu-threads sets it)", threads, torch.get_num_threads())
            torch.set_num_threads(threads)
    return accelerator


def resolved_precision(requested: str) -> str:
    """--mixed-precision: 'auto' is bf16 on a device that computes bf16 natively, else 'no'; the others as given."""
    if requested != "auto":
        return requested
    # The device the Accelerator will pick; like it, a CPU launch (ACCELERATE_USE_CPU) must create the process state
    # with cpu=True, or that state, shared by every later Accelerator, would not be distributed.
    return "bf16" if native_bf16(PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU")).device) else "no"


@functools.cache
def note_auto_precision(precision: str) -> None:
    """Once per process: `accelerate launch` notes its own --mixed_precision ('no'), which is not ours."""
    logger.info("precision: %s (--mixed-precision auto: %s)", precision,
                "this device computes bf16 natively" if precision == "bf16" else "no native bf16 here")


def native_bf16(device: torch.device) -> bool:
    """Whether bf16 matrix products run in hardware here: a CUDA GPU with bf16 (Ampere and later), a CPU with
    AVX512-BF16 or AMX. Elsewhere bf16 is emulated and slower than float32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        return any(getattr(torch.cpu, probe, lambda: False)() for probe in ("_is_avx512_bf16_supported",
                                                                             "_is_amx_tile_supported"))
    return False


def cpu_threads(requested: int, processes: int, env: Mapping[str, str], launcher_env: Mapping[str, str] | None) -> int:
    """Torch threads per process on CPU: `requested` (> 0), else torch's own (OMP_NUM_THREADS, or the cores), except
    for one process to which `accelerate launch` gave OMP_NUM_THREADS=1 because its own environment (`launcher_env`;
    None: unknown) had none: accelerate does that unless given --cpu or --num_cpu_threads_per_process, which would
    leave every other core idle. That process uses every usable core; a value the user set is kept."""
    if requested > 0:
        return requested
    defaulted_by_launcher = (launcher_env is not None and "OMP_NUM_THREADS" not in launcher_env
                             and "ACCELERATE_MIXED_PRECISION" in env and env.get("OMP_NUM_THREADS") == "1")
    if defaulted_by_launcher and processes == 1:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return torch.get_num_threads()


@functools.cache  # the parent's starting environment never changes; every Accelerator of a run asks
def launcher_environment() -> dict[str, str] | None:
    """The environment of the process that started this one (Linux /proc), or None where it cannot be read."""
    try:
        raw = Path(f"/proc/{os.getppid()}/environ").read_bytes()
    except OSError:
        return None
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


def task_seed(seed: int, step: int, task: int) -> int:
    return (seed * 1_000_003 + step * 10_007 + task) % (2 ** 31)


def warmup_linear_decay(warmup: int, total: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (total - step) / max(1, total - warmup))
    return factor


class Trainer:
    """Train `objective` under `settings`; the model that model selection chose lands in OUTPUT_DIR/best."""

    def __init__(self, objective: Objective, settings: EngineSettings):
        self.objective, self.settings = objective, settings
        # One accelerator per trainer: its checkpoints then hold this objective's state and nothing else
        # (accelerate's process state is shared by all accelerators of a process).
        self.accelerator = make_accelerator(settings)
        self.output_dir = Path(settings.output_dir)
        acc = self.accelerator
        set_seed(settings.seed)
        for module in objective.frozen_modules().values():
            module.to(acc.device).eval().requires_grad_(False)
        self.trained = list(objective.trained_modules().values())
        for module in self.trained:
            module.to(acc.device)  # train mode and which parameters need a gradient: set_training_mode, below
        # One optimiser and schedule per phase of a step (one phase for most objectives; MetaDistil updates its
        # teacher, then its student). Schedulers are not prepared: a prepared scheduler steps once per process,
        # which would make the schedule depend on the number of processes.
        self.phases = list(objective.phases())
        self.optimizers, self.schedulers, self.phase_params = {}, {}, {}
        for phase in self.phases:
            optimizer = torch.optim.AdamW(objective.param_groups(phase))
            self.schedulers[phase] = torch.optim.lr_scheduler.LambdaLR(
                optimizer, warmup_linear_decay(settings.warmup_steps, settings.max_steps))
            self.optimizers[phase] = acc.prepare(optimizer)
            # In the modules' own order: the clipping norm sums in this order, and a run must stay bit-identical.
            mine = {id(p) for group in optimizer.param_groups for p in group["params"]}
            self.phase_params[phase] = [p for module in self.trained for p in module.parameters() if id(p) in mine]
        self.set_training_mode()
        self.state = TrainerState()
        for obj in (*self.trained, *self.schedulers.values(), self.state):
            acc.register_for_checkpointing(obj)
        if settings.report_to != "none":
            acc.init_trackers("meta_nlp", config=objective.tracked_config())

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """The optimiser of a one-phase objective (every objective but MetaDistil)."""
        (only,) = self.optimizers.values()
        return only

    # ------------------------------------------------------------------ train
    def train(self) -> dict:
        s, acc = self.settings, self.accelerator
        self.maybe_resume()
        if self.state.step == 0 and self.state.best_step < 0:
            self.select()  # the starting point is a candidate too: training must earn its place
        bar = tqdm(total=s.max_steps, initial=self.state.step, desc=s.desc, disable=not acc.is_local_main_process,
                   dynamic_ncols=True)
        try:
            while self.state.step < s.max_steps:
                metrics = self.train_step(self.state.step)
                self.state.step += 1
                bar.update(1)
                lr = self.schedulers[self.phases[0]].get_last_lr()[0]
                bar.set_postfix(loss=f"{metrics['loss']:.3f}", lr=f"{lr:.1e}")
                acc.log(metrics, step=self.state.step)
                if self.state.step % s.eval_every == 0 or self.state.step == s.max_steps:
                    self.select()
                if self.state.step % s.save_every == 0 or self.state.step == s.max_steps:
                    self.save_checkpoint()
        except KeyboardInterrupt:  # nothing lost: the last finished step is saved, resume with 'latest'
            acc.print(f"interrupted: saved {self.save_checkpoint()}")
            raise
        finally:
            bar.close()
        for tracker in acc.trackers:  # not end_training(): that would also end the process group the recipe uses
            tracker.finish()
        acc.wait_for_everyone()
        scores, best = self.state.scores, self.state.best_step
        compared = {rule: {"selected_step": best_step(c), "val_accuracy_by_step": {str(s): round(v, 4) for s, v in c.items()}}
                    for rule, c in self.state.compared.items()}
        return {"selected_step": best, "val_accuracy": scores.get(best), "steps": self.state.step,
                "val_accuracy_by_step": {str(s): round(v, 4) for s, v in scores.items()},
                "skipped_steps": self.state.skipped_steps, **({"compared_selection": compared} if compared else {})}

    def train_step(self, step: int) -> dict:
        """One update over tasks_per_process tasks on each process (for each phase of the objective, in turn)."""
        acc, per_process = self.accelerator, self.settings.tasks_per_process
        total_tasks = per_process * acc.num_processes
        # Tasks are numbered across the whole run: step s draws tasks s*T .. s*T+T-1, never the same ones again.
        first = step * total_tasks + acc.process_index * per_process
        sums: dict[str, float] = {}
        drawn: dict[int, object] = {}  # each task is drawn once, by the first phase
        for phase in self.phases:
            for task in range(first, first + per_process):
                torch.manual_seed(task_seed(self.settings.seed, step, task))
                if task not in drawn:
                    drawn[task] = self.objective.draw_task(step, task, total_tasks)
                with acc.autocast():
                    metrics = self.objective.task_gradients(drawn[task], step, weight=1.0 / total_tasks,
                                                            backward=acc.backward, phase=phase)
                for k, v in metrics.items():
                    sums[k] = sums.get(k, 0.0) + v / per_process
            sums[grad_norm_key(phase)] = self.apply_gradients(phase, step)
        return {**sums, "skipped_steps": self.state.skipped_steps}

    def apply_gradients(self, phase: str, step: int) -> float:
        """All-reduce, clip and apply the phase's accumulated gradient, unless it is not finite; returns its norm."""
        acc, optimizer, params = self.accelerator, self.optimizers[phase], self.phase_params[phase]
        all_reduce_gradients(params, acc)
        grad_norm = float(acc.clip_grad_norm_(params, self.settings.max_grad_norm))
        if math.isfinite(grad_norm) or acc.mixed_precision == "fp16":
            optimizer.step()  # under fp16 the grad scaler skips a non-finite step itself and lowers its scale
        if not math.isfinite(grad_norm):
            self.state.skipped_steps += 1
            acc.print(f"step {step + 1}: non-finite gradient (norm {grad_norm}), {phase} update skipped "
                      f"({self.state.skipped_steps} so far)")
        self.schedulers[phase].step()
        optimizer.zero_grad(set_to_none=True)
        return grad_norm

    def set_training_mode(self) -> None:
        """The trained modules in train mode, with a gradient for exactly the parameters some phase updates: one that
        no optimiser holds (the embedding layer under --freeze-embeddings) would only cost its backward pass."""
        updated = {id(p) for params in self.phase_params.values() for p in params}
        for module in self.trained:
            module.train()
            for p in module.parameters():
                p.requires_grad_(id(p) in updated)

    # ------------------------------------------------------------------ model selection
    def select(self) -> None:
        """Score the current weights with the objective's selection rule; keep them in OUTPUT_DIR/best if best."""
        acc = self.accelerator
        score, compared = self.objective.selection_score(acc), self.objective.compared_scores(acc)
        self.set_training_mode()
        acc.log({"val_accuracy": score}, step=self.state.step)
        acc.print(f"{self.settings.desc} step {self.state.step}: meta-validation accuracy {score:.4f}")
        self.state.scores[self.state.step] = score
        if self.state.best_step == self.state.step:  # ties keep the earlier step
            if acc.is_main_process:
                self.objective.save_selected(self.output_dir / "best", {"step": self.state.step, "val_accuracy": score})
        for rule, value in compared.items():  # what another rule would keep, to compare the rules on this run
            acc.log({f"val_accuracy/{rule}": value}, step=self.state.step)
            scores = self.state.compared.setdefault(rule, {})
            scores[self.state.step] = value
            if best_step(scores) == self.state.step and acc.is_main_process:
                self.objective.save_selected(compared_best_dir(self.output_dir, rule),
                                             {"step": self.state.step, "val_accuracy": value, "selected_on": rule})
        acc.wait_for_everyone()

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self) -> Path:
        acc = self.accelerator
        path = checkpoint_dir(self.output_dir, self.state.step)
        if not path.is_dir():  # an interrupt right after a save has nothing new to save
            acc.project_configuration.iteration = self.state.step  # checkpoint_<step>, not checkpoint_<count>
            acc.save_state()
        return path

    def maybe_resume(self) -> None:
        spec = self.settings.resume_from_checkpoint
        if not spec:
            return
        path = latest_checkpoint(self.output_dir) if spec == "latest" else Path(spec)
        if path is None:
            self.accelerator.print(f"--resume-from-checkpoint latest: no checkpoint in {self.output_dir} yet, "
                                   f"starting fresh")
            return
        if not path.is_dir():
            raise MetaNLPError(f"checkpoint not found: {path}")
        self.accelerator.load_state(str(path))
        self.accelerator.print(f"resumed from {path} at step {self.state.step}")


def grad_norm_key(phase: str) -> str:
    return "grad_norm" if phase == "main" else f"grad_norm_{phase}"


CHECKPOINT_NAME = re.compile(r"checkpoint_(\d+)")  # OUTPUT_DIR/checkpoints/checkpoint_<step>


def checkpoint_dir(output_dir: Path, step: int) -> Path:
    return Path(output_dir) / "checkpoints" / f"checkpoint_{step}"


def latest_checkpoint(output_dir: Path) -> Path | None:
    found = [(int(m.group(1)), p) for p in (Path(output_dir) / "checkpoints").glob("checkpoint_*")
             if (m := CHECKPOINT_NAME.fullmatch(p.name))]
    return max(found)[1] if found else None


def run_of_checkpoint(path: Path) -> Path | None:
    """The run folder that a resumable checkpoint folder (`checkpoint_dir`) belongs to; None for any other path."""
    path = Path(path)
    if path.is_dir() and path.parent.name == "checkpoints" and CHECKPOINT_NAME.fullmatch(path.name):
        return path.parent.parent
    return None


def all_reduce_gradients(params: list[torch.nn.Parameter], accelerator: Accelerator) -> None:
    """Sum every process's weighted gradient (the weights already divide by the global task count)."""
    if accelerator.num_processes == 1:
        return
    params = [p for p in params if p.requires_grad]
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = accelerator.reduce(torch.cat([g.reshape(-1) for g in grads]), reduction="sum")
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = flat[offset: offset + n].view_as(p).clone()
        offset += n
