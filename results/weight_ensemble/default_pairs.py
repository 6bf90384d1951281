"""Plan addendum 36b (results/meta_batch_4/plan.md): today's default job (ProtoNet, 40 meta-steps, held-out `ja`,
bf16 on a CPU with AMX), seeds 0 and 1, each alone on both cores; its ProtoNet moved halfway back toward φ⁰
(`scripts/evaluate.py --weight-ensemble 0.5`), paired on the same 200 episodes per seed with the unblended ProtoNet,
multitask and finetune of the same run. Reported, nothing decided (it reads the held-out language).
Run from the repository root after pooling both seeds (see results.md): python results/weight_ensemble/default_pairs.py"""
from meta_nlp.evaluation.comparison import (MARGIN_OVER_BASELINE, adaptation_summary, paired_difference, result_row,
                                            run_choices, target_verdict)
from meta_nlp.evaluation.stats import interval, paired_bootstrap

RUNS = {0: "_seed0", 1: "_seed1", "pooled": "_2seeds"}  # folder suffix of each seed, and of both pooled

for seed, suffix in RUNS.items():
    run = f"results/weight_ensemble/default{suffix}"
    print(f"\nseed {seed}:" + (f" {run_choices(run)}" if seed != "pooled" else ""))
    half = result_row(f"{run}_half", "protonet", "ja")
    protonet, multitask, finetune = (result_row(run, m, "ja") for m in ("protonet", "multitask", "finetune"))
    for row in (protonet, half, multitask, finetune):
        print(f"  {'halfway to φ⁰ ' if row is half else ''}{adaptation_summary(row)}")
    d = paired_bootstrap(protonet, multitask)
    print(f"  protonet − multitask {interval(d)} (target +3: {target_verdict(d, MARGIN_OVER_BASELINE)}); "
          f"− finetune {interval(paired_bootstrap(protonet, finetune))}")
    print(f"  halfway − unblended {paired_difference(half, protonet)}")
    print(f"  halfway − multitask {paired_difference(half, multitask)}; − finetune {paired_difference(half, finetune)}")
