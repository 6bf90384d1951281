"""Plan addendum 38 A (results/meta_batch_4/plan.md): today's default job (ProtoNet, 40 meta-steps, held-out `ja`,
bf16 on a CPU with AMX) with `--test-time-head transductive`, seeds 0 and 1, each alone on both cores, paired on the
same 200 episodes per seed with the same job under the logistic head (results/weight_ensemble/default_seedS). The
default rule reads the training languages' meta-validation only: ProtoNet's accuracy at its chosen checkpoint and
test-time setting, under each head.
Run from the repository root after pooling both seeds (see results.md): python results/transductive/default_pairs.py"""
from meta_nlp.evaluation.comparison import (MARGIN_OVER_BASELINE, adaptation_summary, chosen_validation,
                                            paired_difference, result_row, run_choices, target_verdict)
from meta_nlp.evaluation.stats import interval, paired_bootstrap

RUNS = {0: "_seed0", 1: "_seed1", "pooled": "_2seeds"}  # folder suffix of each seed, and of both pooled
METHODS = ("protonet", "multitask", "finetune")

for seed, suffix in RUNS.items():
    transductive, logistic = f"results/transductive/default{suffix}", f"results/weight_ensemble/default{suffix}"
    print(f"\nseed {seed}:" + (f" {run_choices(transductive)}" if seed != "pooled" else ""))
    if seed != "pooled":
        print(f"  default rule, ProtoNet's meta-validation at its choice: transductive "
              f"{chosen_validation(transductive, 'protonet', 'ja'):.4f}, logistic "
              f"{chosen_validation(logistic, 'protonet', 'ja'):.4f}")
    rows = {m: result_row(transductive, m, "ja") for m in METHODS}
    for method, row in rows.items():
        print(f"  transductive {adaptation_summary(row)}")
        print(f"    − logistic {paired_difference(row, result_row(logistic, method, 'ja'))}")
    best = max(("multitask", "finetune"), key=lambda m: rows[m]["accuracy"])
    d = paired_bootstrap(rows["protonet"], rows[best])
    print(f"  transductive protonet − {best} (the best baseline) {interval(d)} "
          f"(target +3: {target_verdict(d, MARGIN_OVER_BASELINE)})")
    # A user would give each baseline the head that serves it best: the best baseline under either head as well.
    baselines = {(head, m): result_row(run, m, "ja") for head, run in (("transductive", transductive),
                                                                       ("logistic", logistic))
                 for m in ("multitask", "finetune")}
    head, method = max(baselines, key=lambda key: baselines[key]["accuracy"])
    d = paired_bootstrap(rows["protonet"], baselines[head, method])
    print(f"  transductive protonet − {head} {method} (the best baseline under either head) "
          f"{interval(d)} (target +3: {target_verdict(d, MARGIN_OVER_BASELINE)})")
