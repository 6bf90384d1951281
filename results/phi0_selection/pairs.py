"""The held-out numbers of plan.md's second stage (48 meta-validation episodes, the new default), written before
the runs finished; results.md quotes them. The project's paired bootstrap (resampling episodes within seeds).
1. The README's default job with 48 episodes (ProtoNet, finetune, multitask; 2 seeds × 200 `ja` episodes, pooled by
   scripts/pool_seeds.py into default_2seeds/) against each other and against the same job with 12
   (results/default_unseen/default_2seeds, the twelfth measurements).
2. ProtoNet with 48 episodes on the three unseen studies where 12 kept φ⁰ on seed 1 (SIB-200 `jpn_Jpan` and
   `ita_Latn`, chatterbot `ko` and `uk` with unseen lines; meta_train.py with each study's config, pooled into
   <setting>/pooled) against ProtoNet with 12 and against the studies' baselines, which ran with 12.
Run from the repository root: python results/phi0_selection/pairs.py        # output pairs.txt
"""
import json
from pathlib import Path

import numpy as np

from meta_nlp.evaluation.comparison import paired_difference, result_row, result_summary

METHODS = ("protonet", "multitask", "finetune")
HERE = "results/phi0_selection"
# (setting, its held-out languages, the twelfth measurements' 40-step study with 12 validation episodes)
STUDIES = (("sib200", ("jpn_Jpan", "ita_Latn"), "results/sib200_unseen_640/steps40"),
           ("ko", ("ko",), "results/chatterbot_unseen_ko/steps40"),
           ("uk", ("uk",), "results/chatterbot_unseen_uk/steps40"))


def show(name: str, a: dict, b: dict) -> None:
    print(f"  {name}: {paired_difference(a, b)}")


new = {m: result_row(f"{HERE}/default_2seeds", m, "ja") for m in METHODS}
old = {m: result_row("results/default_unseen/default_2seeds", m, "ja") for m in METHODS}
print("## the default job, ja, 48 validation episodes\n" + ", ".join(map(result_summary, new.values())))
print("   with 12: " + ", ".join(map(result_summary, old.values())))
for baseline in METHODS[1:]:
    show(f"protonet − {baseline} (48)", new["protonet"], new[baseline])
for m in METHODS:
    show(f"{m}: 48 − 12", new[m], old[m])

for setting, languages, study in STUDIES:
    for language in languages:
        protonet = result_row(f"{HERE}/{setting}/pooled", "protonet", language)
        before = {m: result_row(study, m, language) for m in METHODS}
        print(f"## {setting}, {language}\n  48: {result_summary(protonet)}\n  12: "
              + ", ".join(map(result_summary, before.values())))
        show("protonet: 48 − 12", protonet, before["protonet"])
        for baseline in METHODS[1:]:
            show(f"protonet (48) − {baseline} (12)", protonet, before[baseline])

# 3. (added when the baselines were re-run with 48 episodes, before their numbers were read) The studies' baselines
# with 48 validation episodes (baselines48/<setting>: scripts/study.py beside copies of the ProtoNet runs above,
# pooled with --seeds 0,1 --finished-only): each against its 12-episode run, and ProtoNet against them.
for setting, languages, study in STUDIES:
    for language in languages:
        now = {m: result_row(f"{HERE}/baselines48/{setting}", m, language) for m in METHODS}
        print(f"## {setting}, {language}, every method at 48\n  " + ", ".join(map(result_summary, now.values())))
        for baseline in METHODS[1:]:
            show(f"{baseline}: 48 − 12", now[baseline], result_row(study, baseline, language))
            show(f"protonet − {baseline} (both 48)", now["protonet"], now[baseline])

# 4. (added in review) The 48-episode runs trained the same weights as the 12-episode ones: each 48-episode run's
# selection scores by step equal fresh_validation.py's scores of the 12-episode run's saved weights on the same 48
# episodes (scores/, rounded as results.json rounds them).
for setting, languages, study in STUDIES:
    for seed in (0, 1):
        new_run, old_run = f"{HERE}/{setting}/seed{seed}", f"{study}/{'_'.join(languages)}/seed{seed}/protonet"
        recorded = json.loads(Path(new_run, "results.json").read_text())["training"]["val_accuracy_by_step"]
        scored = json.loads(Path(HERE, "scores", old_run.replace("/", "__") + ".json").read_text())["selecting"]
        rescored = {step: round(float(np.mean(s[:48])), 4) for step, s in scored.items()}
        print(f"{new_run}: selection by step {recorded}; {old_run}'s weights {rescored}: "
              f"{'the same' if recorded == rescored else 'DIFFERENT'}")
