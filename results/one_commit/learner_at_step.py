"""A finished run's model at one saved meta-training step, as a learner folder scripts/evaluate.py reads: the run's
best/ (encoder config, tokenizer, settings) with the weights of checkpoints/checkpoint_<STEP> (the trainer's saved
state, whose first registered object is the MetaModel). For plan addendum 15c: what a checkpoint that model selection
did not keep would have scored. Usage:
    python results/one_commit/learner_at_step.py RUN STEP OUT"""
import sys
from pathlib import Path

import torch

from meta_nlp.evaluation.comparison import validation_by_step
from meta_nlp.learner import MetaLearner

run, step, out = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
learner = MetaLearner.from_pretrained(str(run / "best"), device="cpu")
state = torch.load(run / "checkpoints" / f"checkpoint_{step}" / "custom_checkpoint_0.pkl", map_location="cpu",
                   weights_only=True)
missing, unexpected = learner.model.load_state_dict(state, strict=False)
if unexpected or [k for k in missing if not k.startswith("inner_lrs.")]:
    raise SystemExit(f"checkpoint_{step} does not fit {run}/best: missing {missing}, unexpected {unexpected}")
learner.meta.update(step=step, val_accuracy=validation_by_step(run, learner.cfg.algorithm)[str(step)])
learner.meta.pop("test_time", None)  # the rule chosen for the kept model; evaluate.py chooses this one's anew
learner.save_pretrained(out)
print(f"{run} at step {step} -> {out}")
