"""Reads results/phi0_selection/scores (fresh_validation.py's output) and applies plan.md's rule: the checkpoint a
48-episode selection keeps against the one the 12-episode selection kept, on 150 fresh training-language validation
episodes, paired by (run, episode); and step 40 against φ⁰ where selection kept φ⁰. Never reads a held-out language.
Run from the repository root: python results/phi0_selection/compare.py       # output compare.txt
"""
import json
from pathlib import Path

import numpy as np

from meta_nlp.engine.trainer import best_step
from meta_nlp.evaluation.stats import bootstrap_difference, standard_error

records = [json.loads(p.read_text()) for p in sorted(Path("results/phi0_selection/scores").glob("*.json"))]


def pick(record: dict, episodes: int) -> int:
    """The step a selection on the first `episodes` validation episodes keeps (the trainer's own tie rule)."""
    return best_step({int(step): float(np.mean(s[:episodes])) for step, s in record["selecting"].items()})


def points(a: list, b: list, strata: list) -> str:
    diff, low, high = bootstrap_difference(a, b, strata=strata)
    return f"{100 * diff:+.2f} [{100 * low:+.2f}, {100 * high:+.2f}] points"


def pooled_difference(pairs: list[tuple[dict, int, int]]) -> str:
    """Σ over runs of fresh(step a) − fresh(step b), paired by (run, episode)."""
    a = [x for r, sa, _ in pairs for x in r["fresh"][str(sa)]]
    b = [x for r, _, sb in pairs for x in r["fresh"][str(sb)]]
    strata = [i for i, (r, _, _) in enumerate(pairs) for _ in r["fresh"][str(0)]]
    return points(a, b, strata)


for r in records:
    recorded = json.load(open(f"{r['run']}/results.json"))["training"]["val_accuracy_by_step"]
    mine = {step: round(float(np.mean(s[:12])), 4) for step, s in r["selecting"].items()}
    fresh = {step: round(float(np.mean(s)), 4) for step, s in r["fresh"].items()}
    print(f"{r['run']}: first 12 {mine} (results.json {recorded}); kept {r['selected_step']}, "
          f"12-pick {pick(r, 12)}, 48-pick {pick(r, 48)}; fresh 150 {fresh}")
print(f"\n48-episode pick − 12-episode pick, on the fresh episodes, {len(records)} runs: "
      f"{pooled_difference([(r, pick(r, 48), pick(r, 12)) for r in records])}")
kept_phi0 = [r for r in records if pick(r, 12) == 0]
for r in kept_phi0:
    print(f"{r['run']}: step 40 − φ⁰ on the fresh episodes: {pooled_difference([(r, 40, 0)])}")
print(f"step 40 − φ⁰ where the 12-episode selection kept φ⁰ ({len(kept_phi0)} runs), pooled: "
      f"{pooled_difference([(r, 40, 0) for r in kept_phi0])}")
print(f"step 40 − φ⁰, all {len(records)} runs, pooled: {pooled_difference([(r, 40, 0) for r in records])}")


# (added in review) How finely n validation episodes tell settings apart: the standard error of one model's score,
# and of the difference between two steps of a run on the same episodes, over the 18 (run, step) models scored here.
def standard_errors(episodes: int) -> str:
    one = [standard_error(s[:episodes]) for r in records for s in r["selecting"].values()]
    paired = [standard_error(np.subtract(r["selecting"][b], r["selecting"][a])[:episodes])
              for r in records for a, b in (("0", "20"), ("0", "40"), ("20", "40"))]
    return (f"{episodes} episodes: one score ±{100 * np.mean(one):.1f} points ({100 * min(one):.1f}-{100 * max(one):.1f}),"
            f" a paired difference of two steps ±{100 * np.mean(paired):.1f} ({100 * min(paired):.1f}-{100 * max(paired):.1f})")


print(f"\nstandard errors, {standard_errors(12)}; {standard_errors(48)}")
