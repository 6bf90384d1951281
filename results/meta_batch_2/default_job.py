"""The README's default job on the default of e604cf1 (two 10-class training episodes a step): each seed against the
runs it should repeat (ProtoNet: results/meta_batch_2/seedS, the same settings; finetune: φ⁰, as in
results/train_n_way/default_seedS), and the pooled job against the previous default job on the same `ja` episodes.
Run from the repository root after pooling (python scripts/pool_seeds.py results/meta_batch_2/default_seed0
results/meta_batch_2/default_seed1 --output-dir results/meta_batch_2/default_2seeds):
python results/meta_batch_2/default_job.py
A later default's job (FOLDER holds its ProtoNet runs seedS and its default job default_seedS, default_2seeds;
PREVIOUS the default job before it): python results/meta_batch_2/default_job.py FOLDER PREVIOUS"""
import json
import sys
from pathlib import Path

from meta_nlp.evaluation.comparison import paired_difference, repeated_by, result_row, result_summary

FOLDER, PREVIOUS = sys.argv[1:3] if len(sys.argv) > 2 else ("results/meta_batch_2", "results/train_n_way")

for seed in (0, 1):
    run = Path(f"{FOLDER}/default_seed{seed}/results.json")
    data = json.loads(run.read_text())
    expected = {"protonet": f"{FOLDER}/seed{seed}", "finetune": f"{PREVIOUS}/default_seed{seed}"}
    print(f"default job seed {seed} ({data['wall_time_s']:.1f} s, {data['peak_memory_mib']} MiB peak, "
          f"scoring {data['validation_scoring_s']:.0f} s validation + {data['held_out_scoring_s']:.0f} s held out):")
    for row in data["results"]:
        if row["method"] not in expected:
            print(f"  {row['method']} {row['accuracy']:.4f} (selection {row.get('selection')})")
            continue
        print(f"  {row['method']} {row['accuracy']:.4f}: against {expected[row['method']]}: "
              f"{repeated_by(row, expected[row['method']])}")
    trained = json.loads(Path(expected["protonet"], "results.json").read_text())["training"]
    print(f"  ProtoNet's training record: {'the same' if data['training'] == trained else 'DIFFERENT'}")

NEW, BEFORE = f"{FOLDER}/default_2seeds", f"{PREVIOUS}/default_2seeds"
print("\nja, 2 seeds x 200 episodes:")
for method in ("protonet", "multitask", "finetune"):
    print(f"  {method}: {result_summary(result_row(NEW, method, 'ja'))}")
protonet = result_row(NEW, "protonet", "ja")
for method in ("multitask", "finetune"):
    print(f"  ProtoNet − {method}: {paired_difference(protonet, result_row(NEW, method, 'ja'))}")
for method in ("protonet", "multitask"):
    print(f"  {method} − the previous default job's: "
          f"{paired_difference(result_row(NEW, method, 'ja'), result_row(BEFORE, method, 'ja'))}")
setfit = result_row("results/setfit_fp32/pooled", "setfit", "ja")
print(f"  ProtoNet − SetFit (float32): {paired_difference(protonet, setfit)}")
