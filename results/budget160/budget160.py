"""plan.md's addendum 13 (results/meta_batch_4/plan.md): the default job at 160 meta-steps (the multitask baseline at
as many steps), against the same job at 40 steps (results/draws/draw0_pooled: training draw 0, bf16, the same
episodes). Run from the repository root after pooling (see the addendum):
    python results/budget160/budget160.py                                        (output budget160.txt)"""
import json
from pathlib import Path

from meta_nlp.evaluation.comparison import (paired_difference, result_row, result_summary, run_choices,
                                              validation_by_step)

METHODS = ("protonet", "multitask", "finetune")
POOLED = {40: "results/draws/draw0_pooled", 160: "results/budget160/default_2seeds"}

for seed in (0, 1):
    run = f"results/budget160/default_seed{seed}"
    data = json.loads(Path(run, "results.json").read_text())
    print(f"seed {seed} ({data['mixed_precision']}): {run_choices(run)}\n"
          f"    validation by step: protonet {validation_by_step(run, 'protonet')}\n"
          f"                        multitask {validation_by_step(run, 'multitask')}")
print()
rows = {(m, steps): result_row(run, m, "ja") for m in METHODS for steps, run in POOLED.items()}
for steps in POOLED:
    print(f"{steps} steps: " + "; ".join(result_summary(rows[m, steps]) for m in METHODS))
print()
for steps in POOLED:
    for other in ("multitask", "finetune"):
        print(f"{steps} steps, protonet − {other}: {paired_difference(rows['protonet', steps], rows[other, steps])}")
for method in ("protonet", "multitask"):
    print(f"{method}, 160 − 40 steps: {paired_difference(rows[method, 160], rows[method, 40])}")
