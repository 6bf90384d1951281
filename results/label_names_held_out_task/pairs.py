"""Plan addendum 40 A (results/meta_batch_4/plan.md): the held-out task (chatterbot topics -> SIB-200 topics in ita_Latn
and jpn_Jpan, whole sentences, float32) with ProtoNet meta-trained 80 steps with the class names in its training
logits (`--meta-train-label-names true`), paired on the same 200 episodes per language and seed with plain ProtoNet at
80 and 40 meta-steps and with finetune (the 40-step runs), at the test-time steps each run chose and before any
test-time step (`comparison.before_any_step`: the plain runs' scores read back from the passes they kept).
Run from the repository root after pooling the seeds (see results.md):
    python results/label_names_held_out_task/pairs.py > results/label_names_held_out_task/pairs.txt"""
from meta_nlp.evaluation.comparison import (MARGIN_OVER_FINETUNE, adaptation_summary, before_any_step,
                                            paired_difference, result_row, run_choices, target_verdict,
                                            validation_by_step)
from meta_nlp.evaluation.stats import interval, paired_bootstrap
from meta_nlp.recipes.study import pooled

SEEDS = (0, 1)
NAMES = {seed: f"results/label_names_held_out_task/steps80_seed{seed}" for seed in SEEDS}
PLAIN = {80: {seed: f"results/budget_held_out_task/steps80_seed{seed}" for seed in SEEDS},  # also finetune, at 40
         40: {seed: f"results/max_length/held_out_task_128_seed{seed}" for seed in SEEDS}}
LANGUAGES = ("ita_Latn", "jpn_Jpan")


def rows(runs: dict, method: str, lang: str, before_steps: bool = False) -> dict:
    """{seed: row} and, under 'pooled', both seeds' episodes pooled."""
    read = before_any_step if before_steps else result_row
    by_seed = {seed: read(run, method, lang) for seed, run in runs.items()}
    return by_seed | {"pooled": pooled(list(by_seed.values()))}


for seed in SEEDS:
    print(f"seed {seed}: with the names, ProtoNet's validation by meta-step {validation_by_step(NAMES[seed], 'protonet')}")
    print(f"    {run_choices(NAMES[seed])}")
    print(f"  plain at 80: {validation_by_step(PLAIN[80][seed], 'protonet')}")
for lang in LANGUAGES:
    names, names_0 = rows(NAMES, "protonet", lang), rows(NAMES, "protonet", lang, before_steps=True)
    finetune = rows(PLAIN[40], "finetune", lang)
    for seed in (*SEEDS, "pooled"):
        print(f"\n{lang}, seed {seed}: with the names at 80 {adaptation_summary(names[seed])}")
        for steps, runs in PLAIN.items():
            plain, plain_0 = rows(runs, "protonet", lang), rows(runs, "protonet", lang, before_steps=True)
            print(f"  − plain ProtoNet at {steps}: {paired_difference(names[seed], plain[seed])}")
            print(f"      before any test-time step: {paired_difference(names_0[seed], plain_0[seed])}")
        d = paired_bootstrap(names[seed], finetune[seed])
        print(f"  − finetune {interval(d)} (target +5: {target_verdict(d, MARGIN_OVER_FINETUNE)})")
