"""FOMAML and ProtoNet meta-trained from the multitask baseline's selected encoder (ERM first, then meta-learning, the
order of Chen et al.'s Meta-Baseline) against the default job's methods and ProtoNet from φ⁰ on the same held-out `ja`
episodes (2 seeds × 200). The two seeds start from different encoders (each seed's own multitask run), which
pool_seeds.py refuses to pool, so their rows are pooled here with the study's `pooled`.
Run from the repository root: python results/mb_init/pairs.py"""
import json
from pathlib import Path

import numpy as np

from meta_nlp.evaluation.comparison import run_summary
from meta_nlp.evaluation.stats import interval, paired_bootstrap
from meta_nlp.recipes.study import pooled

FROM_MULTITASK = {"fomaml": "results/mb_init/seed{seed}", "protonet": "results/mb_init/protonet_seed{seed}"}
REFERENCES = {"default job's fomaml": ("results/default_job_names_2seeds", "fomaml"),
              "default job's multitask": ("results/default_job_names_2seeds", "multitask"),
              "default job's finetune": ("results/default_job_names_2seeds", "finetune"),
              "protonet from φ⁰": ("results/ja_methods_names/pooled", "protonet")}

references = {name: run_summary(Path(run), method)[1] for name, (run, method) in REFERENCES.items()}
for algorithm, pattern in FROM_MULTITASK.items():
    runs = [pattern.format(seed=seed) for seed in (0, 1)]
    ours = pooled([run_summary(Path(run))[1] for run in runs])
    print(f"{algorithm} from multitask: {ours['accuracy']:.4f} ± {ours['ci95']:.4f} (steps {ours['adapt_steps']}), "
          f"validation {np.mean(ours['validation_by_seed']):.4f} {ours['validation_by_seed']}")
    for name, theirs in references.items():
        print(f"  − {name} {theirs['accuracy']:.4f}: {interval(paired_bootstrap(ours, theirs))}")
    for run, selected in zip(runs, ours["selected_step"]):
        by_step = json.load(open(f"{run}/results.json"))["training"]["val_accuracy_by_step"]
        print(f"  {run}: validation by meta-step {by_step}, selected {selected}")
