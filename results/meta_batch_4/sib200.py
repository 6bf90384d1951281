"""plan.md's addendum: SIB-200 with unseen sentences on the default of ff52439 (four training episodes a step),
ProtoNet and the multitask baseline at its budget, against finetune (φ⁰: results/phi0_selection/baselines48/sib200),
the multitask baseline at the budget before, and ProtoNet on the default of 87f28dc (results/train_n_way/sib200), on
the same episodes. Run from the repository root after pooling: python results/meta_batch_4/sib200.py"""
import json
from pathlib import Path

from meta_nlp.evaluation.comparison import chosen_validation, paired_difference, result_row, result_summary

NEW, BASELINES = "results/meta_batch_4/sib200", "results/phi0_selection/baselines48/sib200"
REFERENCES = {"finetune": (BASELINES, "finetune"), "multitask at 100 examples a step": (BASELINES, "multitask"),
              "ProtoNet of 87f28dc": ("results/train_n_way/sib200/pooled", "protonet")}

for seed in (0, 1):
    data = json.loads(Path(f"{NEW}/seed{seed}/results.json").read_text())
    print(f"seed {seed}: {data['wall_time_s']:.1f} s, {data['peak_memory_mib']} MiB peak; ProtoNet validation by step "
          f"{data['training']['val_accuracy_by_step']}, at the chosen setting "
          f"{chosen_validation(f'{NEW}/seed{seed}', 'protonet', 'jpn_Jpan'):.4f}")

for language in ("jpn_Jpan", "ita_Latn"):
    rows = {method: result_row(f"{NEW}/pooled", method, language) for method in ("protonet", "multitask")}
    print(f"\n{language}, unseen sentences, 2 seeds x 200 episodes:")
    for row in rows.values():
        print("  " + result_summary(row))
    print(f"  ProtoNet − multitask (its budget): {paired_difference(rows['protonet'], rows['multitask'])}")
    references = {name: result_row(folder, method, language) for name, (folder, method) in REFERENCES.items()}
    for name, reference in references.items():
        print(f"  ProtoNet − {name}: {paired_difference(rows['protonet'], reference)}")
    before = references["multitask at 100 examples a step"]
    print(f"  multitask (its budget) − multitask at 100 examples a step: {paired_difference(rows['multitask'], before)}")
