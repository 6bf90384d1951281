"""ProtoNet meta-trained with the class names (--meta-train-label-names) against ProtoNet from φ⁰ without them and the
default job's methods on the same held-out `ja` episodes (2 seeds × 200), and its meta-validation against the rule's
threshold (results/protonet_names/plan.md). Run from the repository root: python results/protonet_names/pairs.py
Another ProtoNet variant against the same references: python results/protonet_names/pairs.py NAME=SEED0_RUN,SEED1_RUN"""
import json
import sys
from pathlib import Path

import numpy as np

from meta_nlp.evaluation.comparison import run_summary
from meta_nlp.evaluation.stats import interval, paired_bootstrap
from meta_nlp.recipes.study import pooled

NAME, RUNS = "protonet, names in meta-training", ["results/protonet_names/seed0", "results/protonet_names/seed1"]
if len(sys.argv) > 1:
    NAME, runs = sys.argv[1].split("=")
    RUNS = runs.split(",")
REFERENCES = {"protonet without names in meta-training": ("results/ja_methods_names/pooled", "protonet"),
              "default job's fomaml": ("results/default_job_names_2seeds", "fomaml"),
              "default job's multitask": ("results/default_job_names_2seeds", "multitask"),
              "default job's finetune": ("results/default_job_names_2seeds", "finetune")}

ours = pooled([run_summary(Path(run))[1] for run in RUNS])
print(f"{NAME}: {ours['accuracy']:.4f} ± {ours['ci95']:.4f} (steps {ours['adapt_steps']}), "
      f"validation {np.mean(ours['validation_by_seed']):.4f} {ours['validation_by_seed']}")
for name, (run, method) in REFERENCES.items():
    theirs = run_summary(Path(run), method)[1]
    print(f"  − {name} {theirs['accuracy']:.4f} (validation {np.mean(theirs['validation_by_seed']):.4f}): "
          f"{interval(paired_bootstrap(ours, theirs))}")
for run, selected in zip(RUNS, ours["selected_step"]):
    by_step = json.load(open(f"{run}/results.json"))["training"]["val_accuracy_by_step"]
    print(f"  {run}: validation by meta-step {by_step}, selected {selected}")
