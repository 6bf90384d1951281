"""Plan addendum 42 A (results/meta_batch_4/plan.md): the held-out task (chatterbot topics -> SIB-200 topics in
ita_Latn and jpn_Jpan, whole sentences, float32) with plain ProtoNet meta-trained 160 steps with its embedding layer
frozen (`--freeze-embeddings true`), paired on the same 200 episodes per language and seed with plain ProtoNet at 160
and 80 meta-steps and with finetune (the 40-step runs), at the test-time steps each run chose and before any
test-time step (`comparison.before_any_step`). Run from the repository root after pooling the seeds (see results.md):
    python results/freeze_embeddings/held_out_task_pairs.py > results/freeze_embeddings/held_out_task_pairs.txt"""
from meta_nlp.evaluation.comparison import (MARGIN_OVER_FINETUNE, adaptation_summary, paired_difference, rows_by_seed,
                                            run_choices, target_verdict, validation_by_step)
from meta_nlp.evaluation.stats import interval, paired_bootstrap

SEEDS, LANGUAGES = (0, 1), ("ita_Latn", "jpn_Jpan")
FROZEN = {seed: f"results/freeze_embeddings/held_out_task_160_seed{seed}" for seed in SEEDS}
PLAIN = {160: {0: "results/smlmt/held_out_task_160_seed0", 1: "results/budget_held_out_task/steps160_seed1"},
         80: {seed: f"results/budget_held_out_task/steps80_seed{seed}" for seed in SEEDS}}
FINETUNE_RUNS = {seed: f"results/max_length/held_out_task_128_seed{seed}" for seed in SEEDS}

for seed in SEEDS:
    print(f"seed {seed}: frozen embeddings at 160, ProtoNet's validation by meta-step "
          f"{validation_by_step(FROZEN[seed], 'protonet')}")
    print(f"    {run_choices(FROZEN[seed])}")
    print(f"  plain at 160: {validation_by_step(PLAIN[160][seed], 'protonet')}")
for lang in LANGUAGES:
    frozen, frozen_0 = (rows_by_seed(FROZEN, "protonet", lang, before) for before in (False, True))
    finetune = rows_by_seed(FINETUNE_RUNS, "finetune", lang)
    plain_rows = {steps: tuple(rows_by_seed(runs, "protonet", lang, before) for before in (False, True))
                  for steps, runs in PLAIN.items()}
    for seed in (*SEEDS, "pooled"):
        print(f"\n{lang}, seed {seed}: frozen embeddings at 160 {adaptation_summary(frozen[seed])}")
        for steps, (plain, plain_0) in plain_rows.items():
            print(f"  − plain ProtoNet at {steps}: {paired_difference(frozen[seed], plain[seed])}")
            print(f"      before any test-time step: {paired_difference(frozen_0[seed], plain_0[seed])}")
        d = paired_bootstrap(frozen[seed], finetune[seed])
        print(f"  − finetune {interval(d)} (target +5: {target_verdict(d, MARGIN_OVER_FINETUNE)})")
