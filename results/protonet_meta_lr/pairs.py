"""plan.md's numbers: ProtoNet at --meta-lr 1e-4 against today's default ProtoNet (3e-5) and the default job's
baselines, on the same validation and `ja` episodes.
1. Rule (1): each run's meta-validation at its chosen test-time setting (48 episodes), and the mean of the seeds.
2. Held-out `ja` (reported, never used to choose).
Run from the repository root after pooling (python scripts/pool_seeds.py results/protonet_meta_lr/seed0
results/protonet_meta_lr/seed1 --output-dir results/protonet_meta_lr/pooled): python results/protonet_meta_lr/pairs.py
Another variant's folder (seed0, seed1, pooled inside): python results/protonet_meta_lr/pairs.py NAME=FOLDER
Against another default (its ProtoNet runs' folder with seed0 and seed1 inside, and its default job's pooled folder):
python results/protonet_meta_lr/pairs.py NAME=FOLDER DEFAULT_RUNS DEFAULT_JOB"""
import json
import sys
from pathlib import Path

from meta_nlp.evaluation.comparison import chosen_validation, paired_difference, result_row, result_summary

NAME, FOLDER = sys.argv[1].split("=", 1) if len(sys.argv) > 1 else ("meta-lr 1e-4", "results/protonet_meta_lr")
DEFAULT_RUNS, DEFAULT_JOB = sys.argv[2:4] if len(sys.argv) > 3 else ("results/train_n_way",
                                                                     "results/train_n_way/default_2seeds")
RUNS = {NAME: FOLDER + "/seed{}", "default ProtoNet": DEFAULT_RUNS + "/seed{}"}


for name, runs in RUNS.items():
    scores = [chosen_validation(runs.format(seed), "protonet", "ja") for seed in (0, 1)]
    data = [json.loads(Path(runs.format(seed), "results.json").read_text()) for seed in (0, 1)]
    print(f"{name}: meta-validation at the chosen setting {scores[0]:.4f}, {scores[1]:.4f}, mean "
          f"{sum(scores) / 2:.4f}; validation by step {[d['training']['val_accuracy_by_step'] for d in data]}; "
          f"{[d['wall_time_s'] for d in data]} s, {[d['peak_memory_mib'] for d in data]} MiB")

if Path(FOLDER, "pooled").is_dir():
    new = result_row(f"{FOLDER}/pooled", "protonet", "ja")
    print("\nja, 2 seeds x 200 episodes: " + result_summary(new))
    for method in ("protonet", "multitask", "finetune"):
        reference = result_row(DEFAULT_JOB, method, "ja")
        print(f"  {NAME} − the default job's {method}: {paired_difference(new, reference)}")
