"""The paired differences quoted in results.md ("fourth measurements"): each pair of methods or runs on the same
400 (seed, episode) pairs of held-out `ja`, with the project's paired bootstrap (resampling within seeds).
Run from the repository root: python results/budget_ja_logistic/comparison/pairs.py"""
import json

from meta_nlp.evaluation.stats import interval, paired_bootstrap

POOLED = {"40 steps, best": "results/default_newton_2seeds", "320 steps, best": "results/budget_ja_logistic/steps320",
          "40 steps, one_se": "results/one_se/default/pooled", "320 steps, one_se": "results/one_se/budget320/pooled"}
PAIRS = [("fomaml", "320 steps, best", "fomaml", "40 steps, best"),
         ("multitask", "320 steps, best", "multitask", "40 steps, best"),
         ("fomaml", "320 steps, best", "multitask", "320 steps, best"),
         ("fomaml", "320 steps, one_se", "fomaml", "320 steps, best"),
         ("fomaml", "320 steps, one_se", "multitask", "320 steps, best"),
         ("fomaml", "40 steps, one_se", "fomaml", "40 steps, best"),
         ("multitask", "40 steps, one_se", "multitask", "40 steps, best"),
         ("finetune", "40 steps, one_se", "finetune", "40 steps, best"),
         ("fomaml", "40 steps, one_se", "multitask", "40 steps, one_se"),
         ("fomaml", "320 steps, one_se", "fomaml", "40 steps, one_se"),
         ("fomaml", "320 steps, one_se", "multitask", "40 steps, one_se")]


def row(method: str, run: str) -> dict:
    results = json.load(open(f"{POOLED[run]}/results.json"))["results"]
    return next(r for r in results if r["method"] == method and r["language"] == "ja")


for m, run, other_m, other_run in PAIRS:
    a, b = row(m, run), row(other_m, other_run)
    print(f"{m} ({run}) {a['accuracy']:.4f} − {other_m} ({other_run}) {b['accuracy']:.4f}: "
          f"{interval(paired_bootstrap(a, b))}")
