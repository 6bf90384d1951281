"""Plan addendum 25, run F: the test-time lr grid without x3 against today's (0.3, 1, 3), judged on two chatterbot
languages no study has held out (fa, pt), seed 0, the same 200 held-out episodes per language for every rule.
`fresh_seed0` ran the full grid; each `fresh_seed0_gridG` is a copy of it re-evaluated with --eval-lr-grid G (the same
checkpoints: checked below), so every method's held-out accuracy is known at the steps validation picks within each
factor. `no_x3` is the best of 0.3 and 1 on the full run's validation grid, picked by the evaluator's own
pick_test_time_setting (its means stand in for the episodes: the mean of one row is the row).
Run from the repository root: python results/test_time_grid/compare.py"""
import json

import numpy as np

from meta_nlp.evaluation.comparison import paired_difference, result_row, validation_by_step
from meta_nlp.evaluation.evaluator import pick_test_time_setting

FOLDER = "results/test_time_grid"
FULL = f"{FOLDER}/fresh_seed0"
FACTORS = (0.3, 1.0, 3.0)
METHODS = ("protonet", "finetune", "multitask")
LANGUAGES = ("fa", "pt")


def best_setting(grid: dict[str, list[float]], factors: tuple[float, ...]) -> tuple[float, int]:
    """The (lr factor, steps) --test-time-selection best picks among `factors` from a results.json validation grid."""
    return pick_test_time_setting({f: np.array([grid[format(f, "g")]]) for f in factors}, "best")


for method in METHODS:
    same = {validation_by_step(f"{FOLDER}/fresh_seed0_grid{f:g}", method) == validation_by_step(FULL, method)
            for f in FACTORS} if method != "finetune" else {True}
    print(f"{method}: the same checkpoints in every copy: {same == {True}}")

differences = []
for method in METHODS:
    for language in LANGUAGES:
        full = result_row(FULL, method, language)
        grid = full["val_grid"]
        factor, steps = best_setting(grid, FACTORS[:2])
        no_x3 = result_row(f"{FOLDER}/fresh_seed0_grid{factor:g}", method, language)
        assert (no_x3["lr_factor"], no_x3["adapt_steps"]) == (factor, steps), (method, language)
        assert (full["lr_factor"], full["adapt_steps"]) == best_setting(grid, FACTORS), (method, language)
        difference = no_x3["accuracy"] - full["accuracy"]
        differences.append(difference)
        print(f"{method} {language}: full picks lr x{full['lr_factor']:g} {full['adapt_steps']} steps "
              f"({full['accuracy']:.4f}); no_x3 picks lr x{factor:g} {steps} steps ({no_x3['accuracy']:.4f}); "
              f"no_x3 − full {paired_difference(no_x3, full)}")
        for f in FACTORS:
            row = result_row(f"{FOLDER}/fresh_seed0_grid{f:g}", method, language)
            on_validation = grid[format(f, "g")]
            print(f"    lr x{f:g}: validation picks {row['adapt_steps']} steps, gain over no step on validation "
                  f"{100 * (on_validation[row['adapt_steps']] - on_validation[0]):+.2f}, on {language} "
                  f"{100 * (row['accuracy_by_step'][row['adapt_steps']] - row['accuracy_by_step'][0]):+.2f} points; "
                  f"{language} by step {[round(x, 4) for x in row['accuracy_by_step']]}")
print(f"mean no_x3 − full over the {len(differences)} (method, language) pairs: "
      f"{100 * sum(differences) / len(differences):+.2f} points")

print("the full run's rows (today's default grid; seed 0, 200 episodes per language):")
for language in LANGUAGES:
    rows = {m: result_row(FULL, m, language) for m in METHODS}
    print(f"  {language}: " + ", ".join(f"{m} {r['accuracy']:.4f} ± {r['ci95']:.4f}" for m, r in rows.items()))
    print(f"    protonet − multitask {paired_difference(rows['protonet'], rows['multitask'])}; "
          f"protonet − finetune {paired_difference(rows['protonet'], rows['finetune'])}")
run = json.load(open(f"{FULL}/results.json"))
print(f"  ProtoNet kept step {run['training']['selected_step']} (validation {run['training']['val_accuracy_by_step']}); "
      f"{run['wall_time_s']} s, {run['peak_memory_mib']} MiB, precision {run['mixed_precision']}")
