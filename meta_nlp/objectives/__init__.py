"""What the engine trains, one file per family behind one protocol (base.py): the meta-learners and
MLDG (meta_learning.py, over meta_nlp/algorithms), the multitask baseline (multitask.py), the distilled students
(distillation.py: vanilla KD and MetaDistil, episodic and supervised; built by meta_nlp/recipes/distill.py)."""
from __future__ import annotations

import torch

from meta_nlp.config import BASELINES, MetaConfig, registered
from meta_nlp.data.languages import LanguageSplit
from meta_nlp.objectives.base import Objective

META_LEARNING = "meta_nlp.objectives.meta_learning:MetaLearningObjective"


def build_objective(method: str, cfg: MetaConfig, languages: LanguageSplit, device: torch.device,
                    num_processes: int = 1) -> Objective:
    """The objective that trains `method`: a trained baseline of the registry, else the meta-learner of
    --algorithm."""
    return registered(BASELINES.get(method) or META_LEARNING)(cfg, languages, device, num_processes)


__all__ = ["Objective", "build_objective"]
