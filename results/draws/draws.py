"""plan.md's addenda 7 and 7b (results/meta_batch_4/plan.md): the README's default job re-trained at --training-draw 1
and 2 on the same seeds' episodes, with draw 0 re-run here in bf16 (results/grouped/default_seed{0,1} ran in float32
on a machine without native bf16). Run from the repository root after pooling:
    python scripts/pool_seeds.py results/draws/default_seed*_draw* --output-dir results/draws/default_pooled
    python scripts/pool_seeds.py results/draws/default_seed*_draw0 --output-dir results/draws/draw0_pooled
    python results/draws/draws.py                                                 # output draws.txt"""
import json
from pathlib import Path

from meta_nlp.evaluation.comparison import (accuracy_by_draw, difference_with_retraining, paired_difference,
                                              result_row, run_choices)

METHODS = ("protonet", "finetune", "multitask")
POOLED = "results/draws/default_pooled"


def run_dir(seed: int, draw: int) -> str:
    return f"results/draws/default_seed{seed}_draw{draw}"


pooled = json.loads(Path(POOLED, "results.json").read_text())
print(f"Pooled: seeds {pooled['seeds']}, training draws {pooled['training_draws']}, held-out ja, 200 episodes a seed\n")
for seed in pooled["seeds"]:
    for draw in pooled["training_draws"]:
        name = run_dir(seed, draw)
        if not Path(name, "results.json").is_file():
            continue
        data = json.loads(Path(name, "results.json").read_text())
        accuracies = ", ".join(f"{m} {result_row(name, m, 'ja')['accuracy']:.4f}" for m in METHODS)
        print(f"seed {seed} draw {draw} ({data['versions']['meta_nlp_commit']}): {accuracies}\n    {run_choices(name)}")

print("\nEach method's accuracy by draw (per seed) and the draw-averaged accuracy over both seeds:")
rows = {m: result_row(POOLED, m, "ja") for m in METHODS}
for method, row in rows.items():
    print(f"  {method}: {accuracy_by_draw(row)}; pooled {row['accuracy']:.4f} ± {row['ci95']:.4f}")

print("\nDifferences (draw-averaged, paired over the same 400 (seed, episode)s): the episodes' interval, then the one "
      "that counts re-training")
for pair in pooled["pairwise"]:
    if pair["language"] != "ja":
        continue
    print(f"  {pair['method']} − {pair['other']}: {difference_with_retraining(pair)}")

print("\nThe precision alone (addendum 7b): draw 0 in bf16 (here) − draw 0 in float32 (results/grouped, the previous "
      "machine), the same training draw, paired over the same 400 episodes:")
for method in METHODS:
    bf16 = result_row("results/draws/draw0_pooled", method, "ja")
    fp32 = result_row("results/grouped/default_2seeds", method, "ja")
    print(f"  {method}: {paired_difference(bf16, fp32)}")
