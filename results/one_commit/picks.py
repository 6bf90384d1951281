"""Which checkpoint each model-selection rule keeps, recomputed from a finished run's saved validation passes
(OUTPUT_DIR/scores, [episodes, steps 0..3] per pass): 'last' (the score after the last lr ×1 step, what runs before
--selection-steps recorded) and 'chosen' (the best step count of the same pass, --test-time-selection best). A pass is
recognised by its last column's mean, the score 'last' recorded; where two passes share it, every candidate is tried.
Where both rules keep the same checkpoint for every method, a run with --selection-steps chosen gives the same held-out
rows. Run from the repository root:
    python results/one_commit/picks.py RUN [RUN ...]      (addendum 16: results/one_commit/picks.txt)"""
import itertools
import sys
from pathlib import Path

import numpy as np

from meta_nlp.evaluation.comparison import validation_by_step


def kept(scores: dict[str, float]) -> str:
    """The selection rule's pick: the highest score, ties to the earlier step (trainer.best_step)."""
    return max(scores, key=lambda step: (scores[step], -int(step)))


def picks(run: Path, method: str) -> str:
    recorded = validation_by_step(run, method)
    passes = [np.load(f) for f in sorted((run / "scores").glob("*.npy"))]
    candidates = {step: [a.mean(0) for a in passes if round(float(a[:, -1].mean()), 4) == score]
                  for step, score in recorded.items()}
    chosen = {kept({step: float(np.max(m)) for step, m in zip(candidates, combo)})
              for combo in itertools.product(*candidates.values())}
    shown = {step: [round(float(np.max(m)), 4) for m in ms] for step, ms in candidates.items()}
    return (f"{run} {method}: 'last' scores {recorded} keep {kept(recorded)}; 'chosen' scores {shown} keep "
            f"{' or '.join(sorted(chosen))}")


lines = [picks(Path(run), method) for run in sys.argv[1:] for method in ("protonet", "multitask")]
sys.stdout.write("\n".join(lines) + "\n")
