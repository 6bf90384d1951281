"""Plan addenda 39 A and 39b C (results/meta_batch_4/plan.md): the held-out task (chatterbot topics -> SIB-200 topics
in ita_Latn and jpn_Jpan, whole sentences, float32) with ProtoNet meta-trained 160 and 320 steps with task
interpolation (`--mlti-ratio 0.5`), paired on the same 200 episodes per language and seed with plain ProtoNet at 320,
160, 80 and 40 meta-steps (results/budget_held_out_task/budget_curve.py's runs) and with finetune (runs K and A, the
40-step runs).
Run from the repository root after pooling each budget's seeds (see results.md):
    python results/mlti/held_out_task_pairs.py > results/mlti/held_out_task_pairs.txt
It also draws results/mlti/accuracy_by_budget.png: both seeds pooled, ProtoNet with and without MLTI by budget."""
from pathlib import Path

from meta_nlp.evaluation.comparison import (MARGIN_OVER_FINETUNE, adaptation_summary, paired_difference, result_row,
                                            run_choices, target_verdict, validation_by_step)
from meta_nlp.evaluation.stats import interval, paired_bootstrap
from meta_nlp.recipes.budget import plot_accuracy_by_budget

SEEDS = (0, 1, "pooled")
PARTS = ("seed0", "seed1", "2seeds")  # each seed's folder suffix, and both pooled
MLTI = {steps: {seed: f"results/mlti/held_out_task_{steps}_{part}" for seed, part in zip(SEEDS, PARTS)}
        for steps in (160, 320)}
PLAIN = {  # meta-steps -> seed -> the plain ProtoNet run; the 40-step runs also scored finetune
    40: {seed: f"results/max_length/held_out_task_128_{part}" for seed, part in zip(SEEDS, PARTS)},
    80: {seed: f"results/budget_held_out_task/steps80_{part}" for seed, part in zip(SEEDS, PARTS)},
    160: {0: "results/smlmt/held_out_task_160_seed0", 1: "results/budget_held_out_task/steps160_seed1",
          "pooled": "results/budget_held_out_task/steps160_2seeds"},
    320: {seed: f"results/budget_held_out_task/steps320_{part}" for seed, part in zip(SEEDS, PARTS)},
}

for seed in SEEDS:
    print(f"\nseed {seed}:")
    for steps, runs in MLTI.items():
        if seed != "pooled":
            print(f"  MLTI at {steps}: ProtoNet's validation by meta-step {validation_by_step(runs[seed], 'protonet')}")
            print(f"      {run_choices(runs[seed])}")
            print(f"  plain at {steps}: ProtoNet's validation by meta-step "
                  f"{validation_by_step(PLAIN[steps][seed], 'protonet')}")
        for lang in ("ita_Latn", "jpn_Jpan"):
            mlti = result_row(runs[seed], "protonet", lang)
            print(f"  {lang}: MLTI at {steps} {adaptation_summary(mlti)}")
            for plain_steps, plain in PLAIN.items():
                row = result_row(plain[seed], "protonet", lang)
                # before any test-time step the test-time rule plays no part (means only: runs keep each episode's
                # score at their chosen steps alone)
                print(f"    − plain ProtoNet at {plain_steps} {paired_difference(mlti, row)}; at 0 test-time steps "
                      f"{mlti['accuracy_by_step'][0] - row['accuracy_by_step'][0]:+.4f}")
            d = paired_bootstrap(mlti, result_row(PLAIN[40][seed], "finetune", lang))
            print(f"    − finetune {interval(d)} (target +5: {target_verdict(d, MARGIN_OVER_FINETUNE)})")

# the plot, 2 seeds pooled; finetune drawn flat (it does not meta-train)
plotted = [{**result_row(runs["pooled"], "protonet", lang), "budget": steps, "method": method}
           for method, by_steps in (("protonet", PLAIN), ("protonet with MLTI (--mlti-ratio 0.5)", MLTI))
           for steps, runs in by_steps.items() for lang in ("ita_Latn", "jpn_Jpan")]
plotted += [{**result_row(PLAIN[40]["pooled"], "finetune", lang), "budget": steps, "method": "finetune (no meta-training)"}
            for steps in PLAIN for lang in ("ita_Latn", "jpn_Jpan")]
plot_accuracy_by_budget(Path(__file__).parent, plotted, n_way=5)
