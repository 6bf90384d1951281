"""Plan addendum 36 (results/meta_batch_4/plan.md): the checkpoint the training languages' share kept in runs I, J
(40 meta-steps) and G, H (320) of addendum 35 (chatterbot topics -> SIB-200 topics in ita_Latn and jpn_Jpan,
--max-length 128, float32), moved halfway back toward φ⁰ (`scripts/evaluate.py --weight-ensemble 0.5`, WiSE-FT), paired
on the same 200 episodes per language and seed with the same checkpoint unblended (the run's
protonet@training-languages row), with finetune (runs K and A) and with ProtoNet meta-trained on every label for 40
steps (K and A). First, the check that the re-evaluation path reproduces run I's row. Reported, nothing decided (it
reads the held-out languages).
Run from the repository root after pooling both seeds (see results.md): python results/weight_ensemble/pairs.py"""
import itertools

import numpy as np

from meta_nlp.evaluation.comparison import (MARGIN_OVER_FINETUNE, adaptation_summary, paired_difference, result_row,
                                            target_verdict)
from meta_nlp.evaluation.stats import interval, paired_bootstrap

LANGUAGES = ("ita_Latn", "jpn_Jpan")
RUNS = {40: "held_out_task_40", 320: "held_out_task_320"}  # under results/validation_labels/ (addendum 35, 35b)
EVERY_LABEL_40 = "results/max_length/held_out_task_128"  # runs K and A: ProtoNet and finetune, every label, 40 steps
SEEDS = {0: "_seed0", 1: "_seed1", "pooled": "_2seeds"}  # folder suffix of each seed, and of both pooled
COMPARED = "protonet@training-languages"  # the share's pick, as its run evaluated it

print("re-evaluation of run I's share pick, unblended (results/weight_ensemble/held_out_task_40_seed0_whole):")
for lang in LANGUAGES:
    again = result_row("results/weight_ensemble/held_out_task_40_seed0_whole", "protonet", lang)
    ran = result_row("results/validation_labels/held_out_task_40_seed0", COMPARED, lang)
    same = np.array_equal(again["episode_accuracy"], ran["episode_accuracy"])
    print(f"  {lang}: {adaptation_summary(again)} against the run's {adaptation_summary(ran)}: "
          f"{'the same' if same else 'NOT the same'} 200 episode accuracies")

for steps, (seed, suffix) in itertools.product(RUNS, SEEDS.items()):
    print(f"\n{steps} meta-steps, seed {seed}:")
    for lang in LANGUAGES:
        half = result_row(f"results/weight_ensemble/{RUNS[steps]}{suffix}_half", "protonet", lang)
        whole = result_row(f"results/validation_labels/{RUNS[steps]}{suffix}", COMPARED, lang)
        finetune = result_row(EVERY_LABEL_40 + suffix, "finetune", lang)
        every_label = result_row(EVERY_LABEL_40 + suffix, "protonet", lang)
        print(f"  {lang}: halfway to φ⁰ {adaptation_summary(half)}; unblended {adaptation_summary(whole)}")
        print(f"    halfway − unblended {paired_difference(half, whole)}")
        d = paired_bootstrap(half, finetune)
        print(f"    halfway − finetune {interval(d)} (target +5: {target_verdict(d, MARGIN_OVER_FINETUNE)}); "
              f"unblended − finetune {interval(paired_bootstrap(whole, finetune))}")
        print(f"    halfway − ProtoNet on every label at 40 steps {paired_difference(half, every_label)}")
