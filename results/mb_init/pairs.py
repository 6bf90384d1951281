"""FOMAML meta-trained from the multitask baseline's selected encoder (ERM first, then meta-learning, the order of
Chen et al.'s Meta-Baseline) against the default job's methods on the same held-out `ja` episodes (2 seeds × 200).
The two seeds start from different encoders (each seed's own multitask run), which pool_seeds.py refuses to pool,
so their rows are pooled here with the study's `pooled`. Run from the repository root: python results/mb_init/pairs.py"""
import json
from pathlib import Path

from meta_nlp.evaluation.comparison import run_summary
from meta_nlp.evaluation.stats import interval, paired_bootstrap
from meta_nlp.recipes.study import pooled

runs = [run_summary(Path(f"results/mb_init/seed{seed}")) for seed in (0, 1)]
ours = pooled([result for _, result in runs])
print(f"fomaml from multitask: {ours['accuracy']:.4f} ± {ours['ci95']:.4f} (steps {ours['adapt_steps']})")
for method in ("fomaml", "multitask", "finetune"):
    _, theirs = run_summary(Path("results/default_job_names_2seeds"), method)
    print(f"  − default job's {method} {theirs['accuracy']:.4f}: {interval(paired_bootstrap(ours, theirs))}")
for seed, selected in zip(ours["seeds"], ours["selected_step"]):
    by_step = json.load(open(f"results/mb_init/seed{seed}/results.json"))["training"]["val_accuracy_by_step"]
    print(f"seed {seed}: validation by meta-step {by_step}, selected {selected}")
