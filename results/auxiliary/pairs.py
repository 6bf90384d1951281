"""Run H (plan addendum 28): ProtoNet meta-trained with the multitask loss as an auxiliary task (--auxiliary-weight 1),
run F's settings (held out `fa`, `pt`), against run F's ProtoNet and baselines on the same episodes, 2 seeds × 200.
Rule (1) of the addendum: the mean meta-validation of the selected checkpoints (training languages, 48 episodes per
seed, at the chosen test-time setting) above run F's ProtoNet's. The held-out rows are reported, never used to choose.
Run from the repository root: python results/auxiliary/pairs.py"""
import numpy as np

from meta_nlp.evaluation.comparison import paired_difference, result_row, run_choices, validation_by_step
from meta_nlp.evaluation.stats import interval, paired_bootstrap
from meta_nlp.recipes.study import pooled

AUXILIARY = ("results/auxiliary/fresh_seed0", "results/auxiliary/fresh_seed1")
RUN_F = ("results/test_time_grid/fresh_seed0_regrid", "results/test_time_grid/fresh_seed1")


def selection_validation(runs: tuple[str, str]) -> list[float]:
    return [result_row(run, "protonet", "fa")["selection"]["val_accuracy"] for run in runs]


for name, runs in (("auxiliary", AUXILIARY), ("run F", RUN_F)):
    print(f"{name}:")
    for run in runs:
        print(f"  {run}: validation by meta-step {validation_by_step(run, 'protonet')}")
        print(f"    {run_choices(run)}")
ours, theirs = selection_validation(AUXILIARY), selection_validation(RUN_F)
print(f"rule (1): meta-validation at the selected checkpoint, mean over seeds: auxiliary {np.mean(ours):.4f} "
      f"{[round(v, 4) for v in ours]}, run F's ProtoNet {np.mean(theirs):.4f} {[round(v, 4) for v in theirs]}: "
      f"{'above' if np.mean(ours) > np.mean(theirs) else 'not above'}")

for lang in ("fa", "pt"):
    print(f"held-out {lang}")
    for seed in (0, 1):
        mine = result_row(AUXILIARY[seed], "protonet", lang)
        print(f"  seed {seed}: auxiliary {mine['accuracy']:.4f} (lr x{mine['lr_factor']:g}, {mine['adapt_steps']} steps; "
              f"by step {[round(a, 4) for a in mine['accuracy_by_step']]})")
        for method in ("protonet", "multitask", "finetune"):
            theirs = result_row(RUN_F[seed], method, lang)
            print(f"    auxiliary − run F's {method} {paired_difference(mine, theirs)} (its by step "
                  f"{[round(a, 4) for a in theirs['accuracy_by_step']]})")
    mine = pooled([result_row(run, "protonet", lang) for run in AUXILIARY])
    print(f"  pooled: auxiliary {mine['accuracy']:.4f} ± {mine['ci95']:.4f}")
    for method in ("protonet", "multitask", "finetune"):
        other = pooled([result_row(run, method, lang) for run in RUN_F])
        print(f"    − run F's {method} {other['accuracy']:.4f}: {interval(paired_bootstrap(mine, other))}")
