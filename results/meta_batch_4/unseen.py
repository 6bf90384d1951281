"""plan.md's addenda: the studies with unseen text on the default of ff52439 (four training episodes a step), ProtoNet
and the multitask baseline at its budget, against finetune (φ⁰: results/phi0_selection/baselines48/STUDY), the
multitask baseline at 100 examples a step, and ProtoNet on the default of 87f28dc (results/train_n_way/STUDY), on the
same episodes (`it`: all three from results/it_unseen, whose study ran them on 87f28dc). Run from the repository
root after pooling:
    python results/meta_batch_4/unseen.py sib200      # output sib200.txt
    python results/meta_batch_4/unseen.py ko uk       # output unseen.txt
    python results/meta_batch_4/unseen.py it          # output it.txt"""
import json
import sys
from pathlib import Path

from meta_nlp.evaluation.comparison import chosen_validation, paired_difference, result_row, result_summary

# Each study: its held-out languages (the first one names the run's validation results) and what its text is.
STUDIES = {"sib200": (("jpn_Jpan", "ita_Latn"), "unseen sentences"), "ko": (("ko",), "unseen lines"),
           "uk": (("uk",), "unseen lines"), "it": (("it",), "unseen lines")}
# Where each study's finetune and multitask at 100 examples a step ran, and its ProtoNet of 87f28dc.
BASELINES = {"it": "results/it_unseen"}
PROTONET_87F28DC = {"it": "results/it_unseen"}


def report(study: str) -> None:
    languages, text = STUDIES[study]
    new = f"results/meta_batch_4/{study}"
    baselines = BASELINES.get(study, f"results/phi0_selection/baselines48/{study}")
    references = {"finetune": (baselines, "finetune"), "multitask at 100 examples a step": (baselines, "multitask"),
                  "ProtoNet of 87f28dc": (PROTONET_87F28DC.get(study, f"results/train_n_way/{study}/pooled"), "protonet")}
    for seed in (0, 1):
        data = json.loads(Path(f"{new}/seed{seed}/results.json").read_text())
        print(f"seed {seed}: {data['wall_time_s']:.1f} s, {data['peak_memory_mib']} MiB peak; ProtoNet validation by "
              f"step {data['training']['val_accuracy_by_step']}, at the chosen setting "
              f"{chosen_validation(f'{new}/seed{seed}', 'protonet', languages[0]):.4f}")
    for language in languages:
        rows = {method: result_row(f"{new}/pooled", method, language) for method in ("protonet", "multitask")}
        print(f"\n{language}, {text}, 2 seeds x 200 episodes:")
        for row in rows.values():
            print("  " + result_summary(row))
        print(f"  ProtoNet − multitask (its budget): {paired_difference(rows['protonet'], rows['multitask'])}")
        before = {name: result_row(folder, method, language) for name, (folder, method) in references.items()}
        for name, reference in before.items():
            print(f"  ProtoNet − {name}: {paired_difference(rows['protonet'], reference)}")
        print(f"  multitask (its budget) − multitask at 100 examples a step: "
              f"{paired_difference(rows['multitask'], before['multitask at 100 examples a step'])}")


for i, name in enumerate(sys.argv[1:]):
    if i:
        print()
    if len(sys.argv) > 2:
        print(f"== {name}")
    report(name)
