"""Plan addendum 35 (results/meta_batch_4/plan.md): ProtoNet meta-trained 320 steps on the held-out task's training
task (chatterbot topics -> SIB-200 topics in ita_Latn and jpn_Jpan, --max-length 128, float32) without the labels
gossip, literature, politics, science, trivia, which select the checkpoint and the test-time rule (runs G and H,
seeds 0 and 1). The same run also kept the checkpoint the training languages' share chose (protonet@training-languages),
so the two rules are paired on one meta-training; both are paired with finetune (runs K and A) and with ProtoNet
meta-trained on every label at 40 and 320 steps (K and A; D and E), on the same 200 episodes per language and seed.
Addendum 35b: the same at the default 40 meta-steps (runs I and J). Reported, nothing decided (it reads the held-out
languages).
Run from the repository root after pooling both seeds (see results.md): python results/validation_labels/pairs.py"""
import itertools
import json
from pathlib import Path

from meta_nlp.evaluation.comparison import (MARGIN_OVER_FINETUNE, adaptation_summary, paired_difference, result_row,
                                            run_choices, target_verdict)
from meta_nlp.evaluation.stats import interval, paired_bootstrap

LANGUAGES = ("ita_Latn", "jpn_Jpan")
LABELS = {320: "results/validation_labels/held_out_task_320", 40: "results/validation_labels/held_out_task_40"}
EVERY_LABEL_40, EVERY_LABEL_320 = "results/max_length/held_out_task_128", "results/budget_held_out_task/steps320"
SEEDS = {0: "_seed0", 1: "_seed1", "pooled": "_2seeds"}  # folder suffix of each seed, and of both pooled
OWN, COMPARED = "protonet", "protonet@training-languages"


for steps, (seed, suffix) in itertools.product(LABELS, SEEDS.items()):
    run = LABELS[steps] + suffix
    print(f"\n{steps} meta-steps, seed {seed}:")
    if seed != "pooled":
        training = json.loads(Path(run, "results.json").read_text())["training"]
        compared = training["compared_selection"]["training-languages"]
        print(f"  validation labels by meta-step (kept {training['selected_step']}): {training['val_accuracy_by_step']}")
        print(f"  training languages' share by meta-step (kept {compared['selected_step']}): "
              f"{compared['val_accuracy_by_step']}")
        print(f"  {run_choices(run)}")
    for lang in LANGUAGES:
        own, other = result_row(run, OWN, lang), result_row(run, COMPARED, lang)
        finetune = result_row(EVERY_LABEL_40 + suffix, "finetune", lang)
        print(f"  {lang}: {adaptation_summary(own)}; {adaptation_summary(other)}")
        print(f"    selected on the labels − on the training languages' share {paired_difference(own, other)}")
        for row in (own, other):
            d = paired_bootstrap(row, finetune)
            print(f"    {row['method']} − finetune {interval(d)} (target +5: {target_verdict(d, MARGIN_OVER_FINETUNE)})")
        for name, every in (("40", EVERY_LABEL_40), ("320", EVERY_LABEL_320)):
            reference = result_row(every + suffix, OWN, lang)
            print(f"    − ProtoNet on every label at {name} steps: {OWN} {paired_difference(own, reference)}; "
                  f"{COMPARED} {paired_difference(other, reference)}")
