"""The paired differences quoted in results.md ("eighth measurements"): FOMAML, ProtoNet and the multitask baseline
at 40 meta-training steps (the default job and results/ja_methods_names, code 8515b8e) and at 160 (the multitask
baseline trained as many steps), on the same 2 seeds × 200 held-out `ja` episodes. The project's paired bootstrap
(resampling episodes within seeds). Run from the repository root: python results/budget_names/pairs.py"""
from functools import cache
from pathlib import Path

from meta_nlp.evaluation.comparison import run_summary
from meta_nlp.evaluation.stats import interval, paired_bootstrap

RUNS = {40: "results/ja_methods_names/pooled", 160: "results/budget_names/steps160"}
PAIRS = [("protonet", 160, "protonet", 40), ("fomaml", 160, "fomaml", 40), ("multitask", 160, "multitask", 40),
         ("protonet", 160, "multitask", 160), ("fomaml", 160, "multitask", 160), ("protonet", 160, "fomaml", 160),
         ("protonet", 160, "multitask", 40), ("finetune", 160, "finetune", 40)]


@cache  # each pooled results.json holds every episode: parse it once per method, not once per line
def row(method: str, budget: int) -> dict:
    return run_summary(Path(RUNS[budget]), method)[1]


def summary(r: dict) -> str:
    return (f"{r['method']} {r['accuracy']:.4f} ± {r['ci95']:.4f} (selected step {r['selected_step']}, "
            f"test-time steps {r['adapt_steps']})")


for budget in RUNS:
    print(f"{budget} steps: " + ", ".join(summary(row(m, budget)) for m in ("fomaml", "protonet", "multitask", "finetune")))
for m, budget, other_m, other_budget in PAIRS:
    a, b = row(m, budget), row(other_m, other_budget)
    print(f"{m} ({budget}) {a['accuracy']:.4f} − {other_m} ({other_budget}) {b['accuracy']:.4f}: "
          f"{interval(paired_bootstrap(a, b))}")
