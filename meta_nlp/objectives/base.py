"""The small protocol between the engine (meta_nlp/engine/trainer.py) and what it trains.

An objective says which modules it trains (in the optimiser and the checkpoint) and which it only
reads (frozen: on the device, never in the optimiser nor in `save_state`: a KD teacher, a classifier
being edited), its parameter groups, how task j of step s is drawn (a pure function of seed, s, j:
the engine seeds torch with it before the call), how a task becomes gradients, what model selection
scores, and how the selected weights are saved. The engine owns everything else.

Adding an objective: its own file in this folder, its config section, and either a line in a registry of
`meta_nlp.config` (a trained baseline: BASELINES) or a recipe that builds it (meta_nlp/recipes/distill.py builds
the distillation objectives).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch
from accelerate import Accelerator

Backward = Callable[[torch.Tensor], None]  # accelerator.backward: loss scaling under fp16


class Objective:
    name = "objective"

    def trained_modules(self) -> dict[str, torch.nn.Module]:
        raise NotImplementedError

    def frozen_modules(self) -> dict[str, torch.nn.Module]:
        return {}

    def phases(self) -> tuple[str, ...]:
        """The updates of one step, applied in turn, each over all the step's tasks with its own optimiser."""
        return ("main",)

    def param_groups(self, phase: str = "main") -> list[dict]:
        """AdamW parameter groups (over the trained modules' parameters) that the phase updates."""
        raise NotImplementedError

    def draw_task(self, step: int, index: int, total: int) -> Any:
        """Task number `index` of the run (step `step` has tasks step*total .. step*total+total-1): a pure function
        of (seed, step, index)."""
        raise NotImplementedError

    def task_gradients(self, task: Any, step: int, weight: float, backward: Backward,
                       phase: str = "main") -> dict[str, float]:
        """Add weight x (this task's gradient for the phase's parameters) to their `.grad` via `backward`; return
        metrics (at least 'loss')."""
        raise NotImplementedError

    def selection_score(self, accelerator: Accelerator) -> float:
        """Model selection's score of the current weights (higher is better); never reads held-out data."""
        raise NotImplementedError

    def compared_scores(self, accelerator: Accelerator) -> dict[str, float]:
        """The scores of other selection rules, by name, kept beside the run's own for comparison (default: none)."""
        return {}

    def save_selected(self, path: Path, record: dict) -> None:
        """Save the current weights as the selected model (`record`: step and score)."""
        raise NotImplementedError

    def startup_note(self) -> str | None:
        """One line for the user when training starts (e.g. which attention kernels run), or None."""
        return None

    def tracked_config(self) -> dict:
        """What experiment trackers (tensorboard, wandb) log as this run's configuration."""
        return {}
