"""Plan addendum 39 B (results/meta_batch_4/plan.md): today's default job (ProtoNet, 40 meta-steps, held-out `ja`,
bf16 on a CPU with AMX) with task interpolation (`--mlti-ratio 0.5`), seeds 0 and 1, each alone on both cores, paired
on the same 200 episodes per seed with the same job without it (results/weight_ensemble/default_seedS). The baselines
do not augment: their rows must repeat. The default rule reads the training languages' meta-validation only:
ProtoNet's accuracy at its chosen checkpoint and test-time setting, with and without MLTI.
Run from the repository root after pooling both seeds (see results.md): python results/mlti/default_pairs.py"""
from meta_nlp.evaluation.comparison import (MARGIN_OVER_BASELINE, adaptation_summary, chosen_validation,
                                            paired_difference, result_row, run_choices, target_verdict,
                                            validation_by_step)
from meta_nlp.evaluation.stats import interval, paired_bootstrap

RUNS = {0: "_seed0", 1: "_seed1", "pooled": "_2seeds"}  # folder suffix of each seed, and of both pooled
METHODS = ("protonet", "multitask", "finetune")

for seed, suffix in RUNS.items():
    mlti, plain = f"results/mlti/default{suffix}", f"results/weight_ensemble/default{suffix}"
    print(f"\nseed {seed}:" + (f" {run_choices(mlti)}" if seed != "pooled" else ""))
    if seed != "pooled":
        print(f"  ProtoNet's validation by meta-step: MLTI {validation_by_step(mlti, 'protonet')}, "
              f"without {validation_by_step(plain, 'protonet')}")
        print(f"  default rule, ProtoNet's meta-validation at its choice: MLTI "
              f"{chosen_validation(mlti, 'protonet', 'ja'):.4f}, without {chosen_validation(plain, 'protonet', 'ja'):.4f}")
    rows = {m: result_row(mlti, m, "ja") for m in METHODS}
    for method, row in rows.items():
        print(f"  {adaptation_summary(row)}")
        without = result_row(plain, method, "ja")
        print(f"    − the run without MLTI {paired_difference(row, without)}; at 0 test-time steps "
              f"{row['accuracy_by_step'][0] - without['accuracy_by_step'][0]:+.4f} (means)")
    best = max(("multitask", "finetune"), key=lambda m: rows[m]["accuracy"])
    d = paired_bootstrap(rows["protonet"], rows[best])
    print(f"  protonet with MLTI − {best} (the best baseline) {interval(d)} "
          f"(target +3: {target_verdict(d, MARGIN_OVER_BASELINE)})")
