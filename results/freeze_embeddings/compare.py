"""plan.md's addendum 10 (results/meta_batch_4/plan.md): the default job with --freeze-embeddings against the same
training draw without it (results/draws/default_seed*_draw1). The rule reads the training languages' validation
only; `ja` is reported beside it. Run from the repository root: python results/freeze_embeddings/compare.py
(output compare.txt)"""
import json
from pathlib import Path

import numpy as np

from meta_nlp.evaluation.comparison import chosen_validation, result_row
from meta_nlp.evaluation.stats import interval, paired_bootstrap
from meta_nlp.recipes.study import pooled

RUNS = {"default": "results/draws/default_seed{}_draw1", "frozen": "results/freeze_embeddings/default_seed{}_draw1"}
METHODS = ("protonet", "multitask", "finetune")

print("## The rule: ProtoNet's meta-validation at its chosen setting (48 episodes per seed)")
for variant, run in RUNS.items():
    values = [chosen_validation(run.format(s), "protonet", "ja") for s in (0, 1)]
    print(f"  {variant}: seed 0 {values[0]:.4f}, seed 1 {values[1]:.4f}, mean {np.mean(values):.4f}")
for variant, run in RUNS.items():
    for s in (0, 1):
        data = json.loads(Path(run.format(s), "results.json").read_text())
        multitask = result_row(run.format(s), "multitask", "ja")["selection"]["val_accuracy_by_step"]
        print(f"  {variant} seed {s}: protonet validation by step {data['training']['val_accuracy_by_step']}, "
              f"multitask {multitask}")

print("\n## `ja`, 2 seeds × 200 episodes (reported, not used)")
rows = {(variant, m): pooled([result_row(run.format(s), m, "ja") for s in (0, 1)])
        for variant, run in RUNS.items() for m in METHODS}
for m in METHODS:
    a, b = rows["frozen", m], rows["default", m]
    steps = [(r["selection"]["selected_step"] if "selection" in r else "-", r["adapt_steps"], r["lr_factor"])
             for s in (0, 1) for r in [result_row(RUNS["frozen"].format(s), m, "ja")]]
    print(f"  {m}: frozen {a['accuracy']:.4f} ± {a['ci95']:.4f}, default {b['accuracy']:.4f}; frozen − default "
          f"{interval(paired_bootstrap(a, b))}; frozen's (checkpoint, steps, lr factor) per seed {steps}")
for variant in RUNS:
    print(f"  {variant}: protonet − multitask "
          f"{interval(paired_bootstrap(rows[variant, 'protonet'], rows[variant, 'multitask']))}")
for s in (0, 1):
    data = json.loads(Path(RUNS["frozen"].format(s), "results.json").read_text())
    print(f"frozen seed {s}: {data['wall_time_s']:.0f} s, {data['peak_memory_mib']} MiB, {data['mixed_precision']}")
