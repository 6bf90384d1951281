"""Plan addendum 29: ProtoNet with the multitask loss as an auxiliary task (--auxiliary-weight 1) on the default job's
held-out `ja`, against the default job's ProtoNet and baselines on the same episodes (seed 0: results/default_job_libyaml,
seed 1: results/auxiliary/default_ja_seed1), 2 seeds × 200. Reported, never used to choose.
Run from the repository root: python results/auxiliary/ja_pairs.py"""
from meta_nlp.evaluation.comparison import paired_difference, result_row, run_choices, validation_by_step
from meta_nlp.evaluation.stats import interval, paired_bootstrap
from meta_nlp.recipes.study import pooled

AUXILIARY = ("results/auxiliary/ja_seed0", "results/auxiliary/ja_seed1")
DEFAULT = ("results/default_job_libyaml", "results/auxiliary/default_ja_seed1")
METHODS = ("protonet", "multitask", "finetune")

for name, runs in (("auxiliary", AUXILIARY), ("default job", DEFAULT)):
    print(f"{name}:")
    for run in runs:
        print(f"  {run}: validation by meta-step {validation_by_step(run, 'protonet')}")
        print(f"    {run_choices(run)}")
for seed in (0, 1):
    mine = result_row(AUXILIARY[seed], "protonet", "ja")
    print(f"seed {seed}: auxiliary {mine['accuracy']:.4f} (lr x{mine['lr_factor']:g}, {mine['adapt_steps']} steps; by step "
          f"{[round(a, 4) for a in mine['accuracy_by_step']]})")
    for method in METHODS:
        print(f"  auxiliary − default job's {method} {paired_difference(mine, result_row(DEFAULT[seed], method, 'ja'))}")
    theirs = {m: result_row(DEFAULT[seed], m, "ja") for m in METHODS}
    print(f"  default job's protonet − multitask {paired_difference(theirs['protonet'], theirs['multitask'])}")
mine = pooled([result_row(run, "protonet", "ja") for run in AUXILIARY])
default = {m: pooled([result_row(run, m, "ja") for run in DEFAULT]) for m in METHODS}
print(f"pooled, 2 seeds × 200 episodes: auxiliary {mine['accuracy']:.4f} ± {mine['ci95']:.4f}; default job: "
      + ", ".join(f"{m} {r['accuracy']:.4f} ± {r['ci95']:.4f}" for m, r in default.items()))
for method in METHODS:
    print(f"  auxiliary − default job's {method}: {interval(paired_bootstrap(mine, default[method]))}")
for method in METHODS[1:]:
    print(f"  default job's protonet − {method}: {interval(paired_bootstrap(default['protonet'], default[method]))}")
