"""plan.md's addendum 3: the held-out task (chatterbot topics meta-trained, SIB-200 topics evaluated in ita_Latn and
jpn_Jpan) on the default of ff52439, ProtoNet and the multitask baseline at its budget, against finetune (φ⁰, the
study of 87f28dc: results/held_out_task_default), that study's multitask baseline and ProtoNet, on the same episodes.
Run from the repository root after pooling (study.py ... --seeds 0,1 --finished-only):
    python results/meta_batch_4/held_out_task.py      # output held_out_task.txt"""
from pathlib import Path

from meta_nlp.evaluation.comparison import paired_difference, result_row, result_summary, run_choices

NEW, BEFORE = "results/meta_batch_4/held_out_task", "results/held_out_task_default"

for language in ("ita_Latn", "jpn_Jpan"):
    rows = {method: result_row(NEW, method, language) for method in ("protonet", "multitask")}
    before = {method: result_row(BEFORE, method, language) for method in ("protonet", "multitask", "finetune")}
    print(f"{language}, the held-out task, 2 seeds x 200 episodes:")
    for row in (*rows.values(), before["finetune"]):
        print("  " + result_summary(row))
    print(f"  ProtoNet − multitask (its budget): {paired_difference(rows['protonet'], rows['multitask'])}")
    print(f"  ProtoNet − finetune: {paired_difference(rows['protonet'], before['finetune'])}")
    print(f"  ProtoNet − ProtoNet of 87f28dc: {paired_difference(rows['protonet'], before['protonet'])}")
    print(f"  multitask (its budget) − multitask of 87f28dc (100 examples a step): "
          f"{paired_difference(rows['multitask'], before['multitask'])}")
    print()

for seed in (0, 1):
    for part in ("protonet", "baselines"):
        print(f"seed {seed} {part}: {run_choices(Path(NEW, 'ita_Latn_jpn_Jpan', f'seed{seed}', part))}")
