"""Plan addenda 40 A, 40b C, 40c D and 41 A (results/meta_batch_4/plan.md): the held-out task (chatterbot topics -> SIB-200
topics in ita_Latn and jpn_Jpan, whole sentences, float32) with ProtoNet meta-trained 40, 80, 160 and 320 steps with
the class names in its training logits (`--meta-train-label-names true`), paired on the same 200 episodes per language and
seed with plain ProtoNet at 320, 160, 80 and 40 meta-steps and with finetune (the 40-step runs), at the test-time steps each run chose and
before any test-time step (`comparison.before_any_step`: the plain runs' scores read back from the passes they kept).
Run from the repository root after pooling the seeds (see results.md):
    python results/label_names_held_out_task/pairs.py > results/label_names_held_out_task/pairs.txt
It also draws results/label_names_held_out_task/accuracy_by_budget.png: both seeds pooled, ProtoNet with and without
the names by budget, finetune flat."""
from pathlib import Path

from meta_nlp.evaluation.comparison import (MARGIN_OVER_FINETUNE, adaptation_summary, paired_difference, result_row,
                                            rows_by_seed, run_choices, target_verdict, validation_by_step)
from meta_nlp.evaluation.stats import interval, paired_bootstrap
from meta_nlp.recipes.budget import plot_accuracy_by_budget

SEEDS = (0, 1)
NAMES = {steps: {seed: f"results/label_names_held_out_task/steps{steps}_seed{seed}" for seed in SEEDS}
         for steps in (40, 80, 160, 320)}
PLAIN = {320: {seed: f"results/budget_held_out_task/steps320_seed{seed}" for seed in SEEDS},
         160: {0: "results/smlmt/held_out_task_160_seed0", 1: "results/budget_held_out_task/steps160_seed1"},
         80: {seed: f"results/budget_held_out_task/steps80_seed{seed}" for seed in SEEDS},
         40: {seed: f"results/max_length/held_out_task_128_seed{seed}" for seed in SEEDS}}  # also finetune
LANGUAGES = ("ita_Latn", "jpn_Jpan")


# ProtoNet's rows, each read once: (variant, budget, language, before any test-time step) -> {seed: row}
PROTONET = {(variant, budget, lang, before): rows_by_seed(runs, "protonet", lang, before)
            for variant, by_budget in (("names", NAMES), ("plain", PLAIN)) for budget, runs in by_budget.items()
            for lang in LANGUAGES for before in (False, True)}
FINETUNE = {lang: rows_by_seed(PLAIN[40], "finetune", lang) for lang in LANGUAGES}

for budget, names_runs in NAMES.items():
    for seed in SEEDS:
        print(f"seed {seed}: with the names at {budget}, ProtoNet's validation by meta-step "
              f"{validation_by_step(names_runs[seed], 'protonet')}")
        print(f"    {run_choices(names_runs[seed])}")
        print(f"  plain at {budget}: {validation_by_step(PLAIN[budget][seed], 'protonet')}")
    for lang in LANGUAGES:
        names, names_0 = PROTONET["names", budget, lang, False], PROTONET["names", budget, lang, True]
        for seed in (*SEEDS, "pooled"):
            print(f"\n{lang}, seed {seed}: with the names at {budget} {adaptation_summary(names[seed])}")
            for steps in PLAIN:
                plain, plain_0 = PROTONET["plain", steps, lang, False], PROTONET["plain", steps, lang, True]
                print(f"  − plain ProtoNet at {steps}: {paired_difference(names[seed], plain[seed])}")
                print(f"      before any test-time step: {paired_difference(names_0[seed], plain_0[seed])}")
            d = paired_bootstrap(names[seed], FINETUNE[lang][seed])
            print(f"  − finetune {interval(d)} (target +5: {target_verdict(d, MARGIN_OVER_FINETUNE)})")
    print()
for lang in LANGUAGES:  # each budget against the one before, with the names and without: where does the task fall?
    for later, earlier in ((160, 80), (320, 160)):
        for variant in ("names", "plain"):
            after, before = (PROTONET[variant, steps, lang, False]["pooled"] for steps in (later, earlier))
            after_0, before_0 = (PROTONET[variant, steps, lang, True]["pooled"] for steps in (later, earlier))
            print(f"{lang}, 2 seeds: {variant}, {later} − {earlier} meta-steps {paired_difference(after, before)}; "
                  f"before any test-time step {paired_difference(after_0, before_0)}")

POOLED = {"protonet": {40: "results/max_length/held_out_task_128_2seeds", 80: "results/budget_held_out_task/steps80_2seeds",
                       160: "results/budget_held_out_task/steps160_2seeds", 320: "results/budget_held_out_task/steps320_2seeds"},
          "protonet with the names in meta-training": {steps: f"results/label_names_held_out_task/steps{steps}_2seeds"
                                                       for steps in NAMES}}
plotted = [{**result_row(run, "protonet", lang), "budget": steps, "method": method}
           for method, by_steps in POOLED.items() for steps, run in by_steps.items() for lang in LANGUAGES]
plotted += [{**result_row(POOLED["protonet"][40], "finetune", lang), "budget": steps, "method": "finetune (no meta-training)"}
            for steps in POOLED["protonet"] for lang in LANGUAGES]
plot_accuracy_by_budget(Path(__file__).parent, plotted, n_way=5)
