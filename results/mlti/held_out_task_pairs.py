"""Plan addendum 39 A (results/meta_batch_4/plan.md): the held-out task (chatterbot topics -> SIB-200 topics in
ita_Latn and jpn_Jpan, whole sentences, float32) with ProtoNet meta-trained 160 steps with task interpolation
(`--mlti-ratio 0.5`), paired on the same 200 episodes per language and seed with plain ProtoNet at 160, 80 and 40
meta-steps (results/budget_held_out_task/budget_curve.py's runs) and with finetune (runs K and A, the 40-step runs).
Run from the repository root after pooling both seeds (see results.md): python results/mlti/held_out_task_pairs.py"""
from meta_nlp.evaluation.comparison import (MARGIN_OVER_FINETUNE, adaptation_summary, paired_difference, result_row,
                                            run_choices, target_verdict, validation_by_step)
from meta_nlp.evaluation.stats import interval, paired_bootstrap

SEEDS = (0, 1, "pooled")
MLTI = {0: "results/mlti/held_out_task_160_seed0", 1: "results/mlti/held_out_task_160_seed1",
        "pooled": "results/mlti/held_out_task_160_2seeds"}
PLAIN = {  # meta-steps -> seed -> the plain ProtoNet run; the 40-step runs also scored finetune
    40: {0: "results/max_length/held_out_task_128_seed0", 1: "results/max_length/held_out_task_128_seed1",
         "pooled": "results/max_length/held_out_task_128_2seeds"},
    80: {seed: f"results/budget_held_out_task/steps80_{part}" for seed, part in zip(SEEDS, ("seed0", "seed1", "2seeds"))},
    160: {0: "results/smlmt/held_out_task_160_seed0", 1: "results/budget_held_out_task/steps160_seed1",
          "pooled": "results/budget_held_out_task/steps160_2seeds"},
}

for seed in SEEDS:
    print(f"\nseed {seed}:")
    if seed != "pooled":
        print(f"  MLTI at 160: ProtoNet's validation by meta-step {validation_by_step(MLTI[seed], 'protonet')}")
        print(f"      {run_choices(MLTI[seed])}")
        print(f"  plain at 160: ProtoNet's validation by meta-step {validation_by_step(PLAIN[160][seed], 'protonet')}")
    for lang in ("ita_Latn", "jpn_Jpan"):
        mlti = result_row(MLTI[seed], "protonet", lang)
        print(f"  {lang}: MLTI at 160 {adaptation_summary(mlti)}")
        for steps, runs in PLAIN.items():
            print(f"    − plain ProtoNet at {steps} {paired_difference(mlti, result_row(runs[seed], 'protonet', lang))}")
        d = paired_bootstrap(mlti, result_row(PLAIN[40][seed], "finetune", lang))
        print(f"    − finetune {interval(d)} (target +5: {target_verdict(d, MARGIN_OVER_FINETUNE)})")
