"""The paired differences quoted in results.md ("eighth" and "ninth measurements"): FOMAML, ProtoNet and the
multitask baseline at 40 meta-training steps (the default job and results/ja_methods_names, code 8515b8e), at 160 and
at 640 (the multitask baseline trained as many steps), on the same 2 seeds × 200 held-out `ja`
episodes. The project's paired bootstrap (resampling episodes within seeds). Also draws the three budgets' curve,
results/budget_names_640/curve/accuracy_by_budget.png. Run from the repository root: python results/budget_names/pairs.py"""
from functools import cache
from pathlib import Path

from meta_nlp.evaluation.comparison import result_summary, run_summary
from meta_nlp.evaluation.stats import interval, paired_bootstrap
from meta_nlp.recipes.budget import plot_accuracy_by_budget

RUNS = {40: "results/ja_methods_names/pooled", 160: "results/budget_names/steps160", 640: "results/budget_names_640/steps640"}
METHODS = ("fomaml", "protonet", "multitask", "finetune")  # every method at every budget
PAIRS = [("protonet", 160, "protonet", 40), ("fomaml", 160, "fomaml", 40), ("multitask", 160, "multitask", 40),
         ("protonet", 160, "multitask", 160), ("fomaml", 160, "multitask", 160), ("protonet", 160, "fomaml", 160),
         ("protonet", 160, "multitask", 40), ("finetune", 160, "finetune", 40),
         ("protonet", 640, "protonet", 40), ("multitask", 640, "multitask", 40), ("protonet", 640, "multitask", 640),
         ("protonet", 640, "multitask", 40), ("finetune", 640, "finetune", 40),
         ("fomaml", 640, "fomaml", 40), ("fomaml", 640, "multitask", 640), ("protonet", 640, "fomaml", 640)]
CURVE = Path("results/budget_names_640/curve")


@cache  # each pooled results.json holds every episode: parse it once per method, not once per line
def row(method: str, budget: int) -> dict:
    return run_summary(Path(RUNS[budget]), method)[1]


for budget in RUNS:
    print(f"{budget} steps: " + ", ".join(result_summary(row(m, budget)) for m in METHODS))
for m, budget, other_m, other_budget in PAIRS:
    a, b = row(m, budget), row(other_m, other_budget)
    print(f"{m} ({budget}) {a['accuracy']:.4f} − {other_m} ({other_budget}) {b['accuracy']:.4f}: "
          f"{interval(paired_bootstrap(a, b))}")
CURVE.mkdir(parents=True, exist_ok=True)
plot_accuracy_by_budget(CURVE, [{**row(m, budget), "budget": budget} for budget in RUNS for m in METHODS], 5)
