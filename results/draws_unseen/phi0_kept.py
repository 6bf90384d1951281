"""Where model selection kept φ⁰ (step 0) in the committed runs: every results.json under results/ with a training
record (a meta-learner's run), its folder, method, seed, training draw, meta-steps and validation by step, for those
that kept φ⁰; then the count by seed. Analysis only (twenty-third measurements). Run from the repository root:
    python results/draws_unseen/phi0_kept.py                                    (output phi0_kept.txt)"""
import json
from collections import Counter
from pathlib import Path

runs, kept = [], []
for path in sorted(Path("results").rglob("results.json")):
    data = json.loads(path.read_text())
    training = data.get("training") if isinstance(data, dict) else None
    if not isinstance(training, dict) or "val_accuracy_by_step" not in training:
        continue
    cfg = data["config"]
    run = (str(path.parent), cfg["algorithm"], cfg["seed"], cfg.get("training_draw", 0), cfg["max_steps"])
    runs.append(run)
    if training["selected_step"] == 0:
        kept.append(run)
        print(f"{run[0]}: {run[1]}, seed {run[2]}, draw {run[3]}, {run[4]} steps; validation {training['val_accuracy_by_step']}")
print(f"\nkept φ⁰: {len(kept)} of {len(runs)} runs with a training record")
for seed, n in sorted(Counter(r[2] for r in runs).items()):
    print(f"  seed {seed}: {sum(r[2] == seed for r in kept)} of {n}")
print(f"  runs of more than 40 meta-steps: {sum(r[4] > 40 for r in kept)} of {sum(r[4] > 40 for r in runs)}")
