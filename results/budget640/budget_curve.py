"""plan.md's addendum 14 (results/meta_batch_4/plan.md): today's default job at 40, 160 and 640 meta-steps (the
multitask baseline at as many steps), on the same 2 seeds × 200 `ja` episodes: 40 is results/draws/draw0_pooled
(training draw 0, bf16), 160 results/budget160/default_2seeds (addendum 13), 640 results/budget640/default_2seeds.
Run from the repository root after pooling (see the addendum):
    python results/budget640/budget_curve.py      (output budget_curve.txt and accuracy_by_budget.png beside it)"""
import sys
from pathlib import Path

from meta_nlp.evaluation.comparison import paired_difference, rows_by_budget, run_choices, validation_by_step
from meta_nlp.recipes.budget import plot_accuracy_by_budget

HERE = Path(__file__).parent
METHODS = ("protonet", "multitask", "finetune")
POOLED = {40: "results/draws/draw0_pooled", 160: "results/budget160/default_2seeds", 640: f"{HERE}/default_2seeds"}

lines = []
for seed in (0, 1):
    run = f"{HERE}/default_seed{seed}"
    lines += [f"640 steps, seed {seed}: {run_choices(run)}",
              *(f"    {m} validation by step: {validation_by_step(run, m)}" for m in ("protonet", "multitask"))]
rows, table = rows_by_budget(POOLED, METHODS, "ja")
lines += ["", table, ""]
budgets = list(POOLED)
for b in budgets:
    lines += [f"{b} steps, protonet − {other}: {paired_difference(rows['protonet', b], rows[other, b])}"
              for other in ("multitask", "finetune")]
for method in ("protonet", "multitask"):
    lines += [f"{method}, {b} − {a} steps: {paired_difference(rows[method, b], rows[method, a])}"
              for a, b in ((40, 640), (160, 640))]
(HERE / "budget_curve.txt").write_text("\n".join(lines) + "\n")
plot_accuracy_by_budget(HERE, [{**row, "budget": b} for (m, b), row in rows.items()], n_way=5)
sys.stdout.write("\n".join(lines) + "\n")
