"""Pool finished distillation runs that differ only in their seed: each method's episodes (or rows) over seeds,
paired differences to student and student_kd resampled within seeds, the Distillation table over the pooled
accuracies. Writes OUTPUT_DIR/results.json and report.md.

examples:
  python scripts/pool_seeds.py runs/distill/seed0 runs/distill/seed1 --output-dir runs/distill
"""
import argparse
from pathlib import Path

from meta_nlp.cli import main_guard


def main() -> int:
    from meta_nlp.recipes.distill import pool_seeds
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="finished distillation run folders (each with results.json)")
    parser.add_argument("--output-dir", required=True, help="where the pooled results.json and report.md go")
    args = parser.parse_args()
    pool_seeds([Path(r) for r in args.runs], Path(args.output_dir))
    print((Path(args.output_dir) / "report.md").read_text())
    return 0


def run() -> None:
    """`meta-nlp-pool-seeds` (pyproject.toml [project.scripts]) and `python scripts/pool_seeds.py`."""
    main_guard(main)
