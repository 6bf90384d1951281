"""plan.md's addenda 12 and 12b (results/meta_batch_4/plan.md): a chatterbot language with unseen lines (`it`, `ko`)
re-trained at --training-draw 1 (float32, today's library); draw 0 is results/meta_batch_4/L/seed{0,1} (ff52439). Run
from the repository root after pooling (see the addendum):
    python results/draws_unseen/draws_unseen.py L                                 (output L.txt; L = it, ko)"""
import json
import sys
from pathlib import Path

from meta_nlp.evaluation.comparison import (accuracy_by_draw, difference_with_retraining, result_row, run_choices,
                                              validation_by_step)

LANGUAGE = sys.argv[1]
METHODS = ("protonet", "multitask")  # both draws ran with --baselines multitask: no finetune rows
POOLED = f"results/draws_unseen/{LANGUAGE}_pooled"
RUNS = {(seed, 0): f"results/meta_batch_4/{LANGUAGE}/seed{seed}" for seed in (0, 1)} | {
    (seed, 1): f"results/draws_unseen/{LANGUAGE}_seed{seed}_draw1" for seed in (0, 1)}

for (seed, draw), run in sorted(RUNS.items()):
    data = json.loads(Path(run, "results.json").read_text())
    validation = {m: validation_by_step(run, m) for m in ("multitask", "protonet")}
    print(f"seed {seed} draw {draw} ({data['mixed_precision']}): {run_choices(run)}\n    validation by step {validation}")
print()
for method in METHODS:
    row = result_row(POOLED, method, LANGUAGE)
    print(f"{method}: {accuracy_by_draw(row)}; draw-averaged {row['accuracy']:.4f} ± {row['ci95']:.4f}")
for draw in (0, 1):
    gap = [result_row(RUNS[s, draw], "protonet", LANGUAGE)["accuracy"]
           - result_row(RUNS[s, draw], "multitask", LANGUAGE)["accuracy"] for s in (0, 1)]
    print(f"draw {draw} alone: protonet − multitask {100 * sum(gap) / 2:+.2f} points (mean over seeds)")
pooled = json.loads(Path(POOLED, "results.json").read_text())
for pair in pooled["pairwise"]:
    if pair["language"] == LANGUAGE:
        print(f"{pair['method']} − {pair['other']}: {difference_with_retraining(pair)}")
