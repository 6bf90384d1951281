"""One change to the default job (ProtoNet, 40 meta-steps, held-out `ja`), seeds 0 and 1, against the same job without
it, on the same 200 episodes per seed: each method's row with − without, at the test-time steps each run chose and
before any test-time step (`comparison.before_any_step`, which takes the test-time rule's choice out), ProtoNet − the
best baseline of each job (issue 17's +3), also before any test-time step, and what the plan addenda's default rule reads: ProtoNet's training-language
meta-validation at its chosen checkpoint and test-time setting. A change that touches only ProtoNet's training leaves
the baselines' rows the same, and the output says whether they are.
Run from the repository root after pooling each job's seeds into PREFIX2seeds (scripts/pool_seeds.py):
    python results/default_job_ab.py WITH_PREFIX WITHOUT_PREFIX > OUT.txt
where PREFIXseed0, PREFIXseed1 and PREFIX2seeds are each job's run folders (e.g. results/label_names_default/ and
results/weight_ensemble/default_)."""
import sys

from meta_nlp.evaluation.comparison import (MARGIN_OVER_BASELINE, adaptation_summary, chosen_validation,
                                            paired_difference, repeated_by, result_row, rows_by_seed, run_choices,
                                            target_verdict, validation_by_step)
from meta_nlp.evaluation.stats import interval, paired_bootstrap

WITH, WITHOUT = sys.argv[1:3]
SEEDS, METHODS, BASELINES = (0, 1), ("protonet", "multitask", "finetune"), ("multitask", "finetune")


# Each method's `ja` rows before any test-time step, per seed and both pooled, read once: (job prefix, method) -> rows
BEFORE = {(prefix, m): rows_by_seed({s: f"{prefix}seed{s}" for s in SEEDS}, m, "ja", before_steps=True)
          for prefix in (WITH, WITHOUT) for m in METHODS}

for seed in (*SEEDS, "pooled"):
    folder = f"seed{seed}" if seed != "pooled" else "2seeds"
    with_, without = WITH + folder, WITHOUT + folder
    print(f"\nseed {seed}:" + (f" {run_choices(with_)}" if seed != "pooled" else ""))
    if seed != "pooled":
        print(f"  ProtoNet's validation by meta-step: with {validation_by_step(with_, 'protonet')}, "
              f"without {validation_by_step(without, 'protonet')}")
        print(f"  default rule, ProtoNet's meta-validation at its choice: with "
              f"{chosen_validation(with_, 'protonet', 'ja'):.4f}, without {chosen_validation(without, 'protonet', 'ja'):.4f}")
    rows = {m: result_row(with_, m, "ja") for m in METHODS}
    for method, row in rows.items():
        print(f"  {adaptation_summary(row)}")
        if method != "protonet" and seed != "pooled":
            print(f"    repeats the run without: {repeated_by(row, without)}")
        print(f"    − without {paired_difference(row, result_row(without, method, 'ja'))}")
        print(f"      before any test-time step "
              f"{paired_difference(BEFORE[WITH, method][seed], BEFORE[WITHOUT, method][seed])}")
    for job, prefix in (("with", WITH), ("without", WITHOUT)):
        by_method = {m: result_row(prefix + folder, m, "ja") for m in METHODS}
        best = max(BASELINES, key=lambda m: by_method[m]["accuracy"])
        d = paired_bootstrap(by_method["protonet"], by_method[best])
        print(f"  {job}: protonet − {best} (the best baseline) {interval(d)} "
              f"(target +3: {target_verdict(d, MARGIN_OVER_BASELINE)})")
        d0 = paired_bootstrap(BEFORE[prefix, "protonet"][seed], BEFORE[prefix, best][seed])
        print(f"    before any test-time step {interval(d0)}")
