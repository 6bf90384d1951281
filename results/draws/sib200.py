"""plan.md's addendum 8 (results/meta_batch_4/plan.md): SIB-200 with unseen sentences re-trained at --training-draw 1
(float32, today's library); draw 0 is results/meta_batch_4/sib200/seed{0,1} (ff52439). Run from the repository root
after pooling:
    python scripts/pool_seeds.py results/meta_batch_4/sib200/seed0 results/meta_batch_4/sib200/seed1 \\
      results/draws/sib200_seed0_draw1 results/draws/sib200_seed1_draw1 --output-dir results/draws/sib200_pooled
    python results/draws/sib200.py                                                # output sib200.txt"""
import json
from pathlib import Path

from meta_nlp.evaluation.comparison import accuracy_by_draw, difference_with_retraining, result_row

METHODS = ("protonet", "multitask")  # both draws ran with --baselines multitask: no finetune rows
POOLED = "results/draws/sib200_pooled"
RUNS = {(0, 0): "results/meta_batch_4/sib200/seed0", (1, 0): "results/meta_batch_4/sib200/seed1",
        (0, 1): "results/draws/sib200_seed0_draw1", (1, 1): "results/draws/sib200_seed1_draw1"}

pooled = json.loads(Path(POOLED, "results.json").read_text())
for language in ("jpn_Jpan", "ita_Latn"):
    print(f"## {language}")
    for method in METHODS:
        row = result_row(POOLED, method, language)
        print(f"  {method}: {accuracy_by_draw(row)}; draw-averaged {row['accuracy']:.4f} ± {row['ci95']:.4f}")
    for seed in (0, 1):
        for draw in (0, 1):
            data = json.loads(Path(RUNS[seed, draw], "results.json").read_text())
            chosen = {r["method"]: (r.get("selection", {}).get("selected_step"), r["adapt_steps"], r["lr_factor"])
                      for r in data["results"] if r["language"] == language}
            print(f"  seed {seed} draw {draw}: (checkpoint, test-time steps, lr factor) {chosen}; "
                  f"{data['wall_time_s']:.0f} s, {data['peak_memory_mib']} MiB")
    for draw in (0, 1):
        gap = [result_row(RUNS[s, draw], "protonet", language)["accuracy"]
               - result_row(RUNS[s, draw], "multitask", language)["accuracy"] for s in (0, 1)]
        print(f"  draw {draw} alone: protonet − multitask {100 * sum(gap) / 2:+.2f} points (mean over seeds)")
    for pair in pooled["pairwise"]:
        if pair["language"] == language:
            print(f"  {pair['method']} − {pair['other']}: {difference_with_retraining(pair)}")
    print()
