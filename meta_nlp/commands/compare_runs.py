"""Compare finished runs on the same held-out episodes: an ablation table.

Each RUN is an output folder of meta_train.py (its results.json). For every run's meta-learner
(the run's --algorithm), or for --method (any method of the runs, a baseline too), the table gives
accuracy ± 95% CI and the paired difference to the reference run's over the same seeded episodes
(mean, 95% CI, and the paired-bootstrap interval). Runs must share task, seed, held-out language, N, K
and episode count, else the pairing would be meaningless and the script stops. Seeds pooled by
scripts/pool_seeds.py compare like one run (paired within each seed).

examples:
  python scripts/compare_runs.py runs/ablation_none runs/ablation_smlmt runs/ablation_mlti \\
      --reference runs/ablation_none            # augmentation ablation
  python scripts/compare_runs.py runs/* --reference runs/default --output ablation.md
  python scripts/compare_runs.py runs/logistic_head --reference runs/default --method multitask
"""
import argparse
from pathlib import Path

from meta_nlp.cli import main_guard


def main() -> int:
    from meta_nlp.evaluation.comparison import compare_runs
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="run folders (each with results.json)")
    parser.add_argument("--reference", required=True, help="the run the others are compared with (e.g. no augmentation)")
    parser.add_argument("--method", help="compare this method's results (default: each run's --algorithm)")
    parser.add_argument("--output", help="also write the table to this markdown file")
    args = parser.parse_args()
    table = compare_runs([Path(r) for r in args.runs], Path(args.reference), args.method)
    print(table)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(table + "\n")
    return 0


def run() -> None:
    """`meta-nlp-compare` (pyproject.toml [project.scripts]) and `python scripts/compare_runs.py`."""
    main_guard(main)
