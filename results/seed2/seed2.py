"""plan.md's addendum 11 (results/meta_batch_4/plan.md): SIB-200 with unseen sentences, a third seed (draws 0 and 1)
beside seeds 0 and 1 (draw 0: results/meta_batch_4/sib200, draw 1: results/draws). Run from the repository root
after pooling (see the addendum):   python results/seed2/seed2.py      (output seed2.txt)"""
import json
from pathlib import Path

from meta_nlp.evaluation.comparison import result_row, validation_by_step
from meta_nlp.evaluation.stats import interval

POOLED = "results/seed2/sib200_pooled"
TWO_SEEDS = "results/draws/sib200_pooled"  # seeds 0 and 1, draws 0 and 1 (twenty-first measurements)
SEED2 = {0: "results/seed2/sib200_seed2_draw0", 1: "results/seed2/sib200_seed2_draw1"}

for draw, run in SEED2.items():
    data = json.loads(Path(run, "results.json").read_text())
    multitask = next(r for r in data["results"] if r["method"] == "multitask")["selection"]
    print(f"seed 2 draw {draw}: protonet validation by step {validation_by_step(run, 'protonet')} "
          f"(kept {data['training']['selected_step']}), multitask {validation_by_step(run, 'multitask')} "
          f"(kept {multitask['selected_step']}); {data['wall_time_s']:.0f} s, {data['peak_memory_mib']} MiB, "
          f"{data['mixed_precision']}")
print()
for language in ("jpn_Jpan", "ita_Latn"):
    print(f"## {language}")
    for draw, run in SEED2.items():
        gap = result_row(run, "protonet", language)["accuracy"] - result_row(run, "multitask", language)["accuracy"]
        print(f"  seed 2 draw {draw}: protonet {result_row(run, 'protonet', language)['accuracy']:.4f}, multitask "
              f"{result_row(run, 'multitask', language)['accuracy']:.4f}, difference {100 * gap:+.2f} points")
    for name, pooled in (("seeds 0, 1", TWO_SEEDS), ("seeds 0, 1, 2", POOLED)):
        data = json.loads(Path(pooled, "results.json").read_text())
        pair = next(p for p in data["pairwise"] if p["language"] == language
                    and {p["method"], p["other"]} == {"protonet", "multitask"})
        retrained = pair["with_training_randomness"]
        print(f"  {name} × 2 draws: {pair['method']} − {pair['other']} {interval(pair)} episodes only; "
              f"with re-training {interval(retrained)} ({retrained['degrees_of_freedom']:.1f} df)")
    print()
