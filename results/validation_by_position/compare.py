"""Addendum 19 (results/meta_batch_4/plan.md): the same study runs' meta-validation on the two splits, side by side.
For each held-out language and seed, on the random split (results/one_commit_fix) and on the split by position
(results/validation_by_position): ProtoNet's validation accuracy at φ⁰ and at each checkpoint (lr ×1, at the steps
selection scored), the checkpoint kept, its validation grid at lr ×0.3 / ×1 (test-time steps 0..3), the rule chosen, and
its held-out accuracy after 0..3 steps at the chosen lr. Run from the repository root:
    python results/validation_by_position/compare.py      # output results/validation_by_position/compare.txt"""
import json
from pathlib import Path

SPLITS = {"random": Path("results/one_commit_fix"), "by position": Path("results/validation_by_position")}


def line(split: str, run: Path) -> str:
    r = json.loads((run / "results.json").read_text())
    proto = next(m for m in r["results"] if m["method"] == "protonet")
    grid = " ".join(f"x{f} [{' '.join(f'{a:.3f}' for a in proto['val_grid'][f])}]" for f in ("0.3", "1"))
    checkpoints = " ".join(f"{s}:{a:.4f}" for s, a in r["training"]["val_accuracy_by_step"].items())
    held = " ".join(f"{a:.4f}" for a in proto["accuracy_by_step"])
    return (f"  {split:11s} validation {checkpoints}, kept {r['training']['selected_step']}; grid {grid}; chose "
            f"{proto['adapt_steps']} steps at x{proto['lr_factor']}; held-out by step [{held}] -> {proto['accuracy']:.4f}")


def main() -> None:
    out = []
    for lang in ("it", "ko", "uk"):
        for seed in (0, 1):
            runs = {split: folder / f"{lang}_seed{seed}" for split, folder in SPLITS.items()}
            if not all((run / "results.json").is_file() for run in runs.values()):
                out.append(f"{lang} seed {seed}: unfinished")
                continue
            out.append(f"{lang} seed {seed}:")
            out += [line(split, run) for split, run in runs.items()]
    text = "\n".join(out) + "\n"
    (SPLITS["by position"] / "compare.txt").write_text(text)
    print(text, end="")


if __name__ == "__main__":
    main()
