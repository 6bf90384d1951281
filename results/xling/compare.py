"""Cross-lingual meta-training episodes (plan.md): each method's default and its three variants, by meta-validation
on the training languages (what the decision rule reads) and on held-out `ja` (reported, never used to choose),
2 seeds × 200 episodes, paired with the method's default on the same episodes.
Run from the repository root: python results/xling/compare.py"""
from pathlib import Path

import numpy as np

from meta_nlp.evaluation.comparison import run_summary
from meta_nlp.evaluation.stats import interval, paired_bootstrap
from meta_nlp.recipes.study import pooled

DEFAULTS = {"protonet": ["results/ja_methods_names/protonet_seed0", "results/ja_methods_names/protonet_seed1"],
            "fomaml": ["results/default_job_names", "results/default_job_names_seed1"]}
VARIANTS = ("xepisodes", "xsupport", "pseudotarget")


def pooled_runs(paths: list[str]) -> dict:
    return pooled([run_summary(Path(p))[1] for p in paths])


for algorithm, default_runs in DEFAULTS.items():
    default = pooled_runs(default_runs)
    print(f"## {algorithm}")
    for name in ("default", *VARIANTS):
        row = default if name == "default" else \
            pooled_runs([f"results/xling/{algorithm}_{name}_seed{s}" for s in (0, 1)])
        line = (f"{name:13s} validation {np.mean(row['validation_by_seed']):.4f} {row['validation_by_seed']}  "
                f"ja {row['accuracy']:.4f} ± {row['ci95']:.4f} (selected step {row['selected_step']}, "
                f"test-time steps {row['adapt_steps']})")
        if name != "default":
            line += f"  − default: {interval(paired_bootstrap(row, default))}"
        print(line)
