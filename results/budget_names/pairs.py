"""The paired differences quoted in results.md ("eighth measurements"): FOMAML, ProtoNet and the multitask baseline
at 40 meta-training steps (the default job and results/ja_methods_names, code 8515b8e) and at 160 (the multitask
baseline trained as many steps), on the same 2 seeds × 200 held-out `ja` episodes. The project's paired bootstrap
(resampling episodes within seeds). Run from the repository root: python results/budget_names/pairs.py"""
import json
from functools import cache

from meta_nlp.evaluation.stats import interval, paired_bootstrap

RUNS = {40: "results/ja_methods_names/pooled", 160: "results/budget_names/steps160"}
PAIRS = [("protonet", 160, "protonet", 40), ("fomaml", 160, "fomaml", 40), ("multitask", 160, "multitask", 40),
         ("protonet", 160, "multitask", 160), ("fomaml", 160, "multitask", 160), ("protonet", 160, "fomaml", 160),
         ("protonet", 160, "multitask", 40), ("finetune", 160, "finetune", 40)]


@cache
def results_of(run: str) -> list[dict]:
    return json.load(open(f"{run}/results.json"))["results"]


def row(method: str, budget: int) -> dict:
    return next(r for r in results_of(RUNS[budget]) if r["method"] == method and r["language"] == "ja")


for budget in RUNS:
    print(f"{budget} steps: " + ", ".join(
        f"{m} {row(m, budget)['accuracy']:.4f} ± {row(m, budget)['ci95']:.4f} (selected step "
        f"{row(m, budget)['selected_step']}, test-time steps {row(m, budget)['adapt_steps']})"
        for m in ("fomaml", "protonet", "multitask", "finetune")))
for m, budget, other_m, other_budget in PAIRS:
    a, b = row(m, budget), row(other_m, other_budget)
    print(f"{m} ({budget}) {a['accuracy']:.4f} − {other_m} ({other_budget}) {b['accuracy']:.4f}: "
          f"{interval(paired_bootstrap(a, b))}")
