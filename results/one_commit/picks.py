"""Which checkpoint each model-selection rule keeps, recomputed from a finished run's saved validation passes
(OUTPUT_DIR/scores, [episodes, steps 0..3] per pass): 'last' (the score after the last lr ×1 step, what runs before
--selection-steps recorded) and 'chosen' (the best step count of the same pass, --test-time-selection best). A pass is
recognised by its last column's mean, the score 'last' recorded; where two passes share it, every candidate is tried.
Where both rules keep the same checkpoint for every method, a run with --selection-steps chosen gives the same held-out
rows. Run from the repository root:
    python results/one_commit/picks.py RUN [RUN ...]      (addendum 16: results/one_commit/picks.txt)"""
import itertools
import json
import sys
from pathlib import Path

import numpy as np

from meta_nlp.engine.trainer import best_step
from meta_nlp.evaluation.comparison import validation_by_step


def passes_by_checkpoint(run: Path, method: str) -> dict[str, list[np.ndarray]]:
    """{checkpoint step: the mean accuracy by test-time step of each saved pass whose last step has the score model
    selection recorded for it} (one candidate each but where two passes share a score)."""
    episodes = json.loads((run / "results.json").read_text())["config"]["val_episodes"]  # held-out passes have more
    means = [a.mean(0) for a in map(np.load, sorted((run / "scores").glob("*.npy"))) if a.shape[0] == episodes]
    return {step: [m for m in means if round(float(m[-1]), 4) == score]
            for step, score in validation_by_step(run, method).items()}


def kept(scores: dict[str, float]) -> str:
    return str(best_step({int(step): score for step, score in scores.items()}))


def picks(run: Path, method: str) -> str:
    recorded = validation_by_step(run, method)
    candidates = passes_by_checkpoint(run, method)
    chosen = {kept({step: float(np.max(m)) for step, m in zip(candidates, combo)})
              for combo in itertools.product(*candidates.values())}
    shown = {step: [round(float(np.max(m)), 4) for m in ms] for step, ms in candidates.items()}
    return (f"{run} {method}: 'last' scores {recorded} keep {kept(recorded)}; 'chosen' scores {shown} keep "
            f"{' or '.join(sorted(chosen))}")


if __name__ == "__main__":
    lines = [picks(Path(run), method) for run in sys.argv[1:] for method in ("protonet", "multitask")]
    sys.stdout.write("\n".join(lines) + "\n")
