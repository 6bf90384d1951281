"""Pool finished runs that differ only in their seed, into OUTPUT_DIR/results.json and report.md.

meta_train runs (e.g. the default job at --seed 0 and --seed 1): each method's episodes pooled over seeds, as a
study pools them: accuracy ± 95% CI, the paired difference to the best baseline and between methods (resampled
within seeds), the ranking on training-language validation, the plots. Runs of other meta-learners (another
--algorithm, the same settings otherwise, made with --baselines none) join them as methods of the same study.
Runs of one seed at several --training-draw values score each episode by the mean over their draws, and every
difference also gets an interval that counts re-training (each method's spread over its draws).
Distillation runs: each method's episodes (or rows) over seeds, paired differences to student and student_kd
resampled within seeds, the Distillation table over the pooled accuracies. Editing runs (--algorithm mend|enn;
several per seed allowed, e.g. a mend run and an enn run reusing its classifier): each editor's metrics averaged
over seeds, its one-edit generality against ft paired over all seeds' edits, and editing.png.

examples:
  python scripts/pool_seeds.py runs/default_seed0 runs/default_seed1 --output-dir runs/default_2seeds
  python scripts/pool_seeds.py runs/default_seed0 runs/default_seed1 runs/r2d2_seed0 runs/r2d2_seed1 --output-dir runs/ja
  python scripts/pool_seeds.py runs/s0_draw0 runs/s0_draw1 runs/s1_draw0 runs/s1_draw1 --output-dir runs/retrained
  python scripts/pool_seeds.py runs/distill/seed0 runs/distill/seed1 --output-dir runs/distill
  python scripts/pool_seeds.py runs/edit/seed0 runs/edit/seed0_enn runs/edit/seed1 runs/edit/seed1_enn --output-dir runs/edit
"""
import argparse
from pathlib import Path

from meta_nlp.cli import main_guard


def main() -> int:
    import json
    from meta_nlp.errors import MetaNLPError
    from meta_nlp.recipes.distill import pool_seeds
    from meta_nlp.recipes.edit import pool_editing_seeds
    from meta_nlp.recipes.study import pool_run_seeds
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="finished meta_train, distillation or editing run folders (with "
                                                "results.json)")
    parser.add_argument("--output-dir", required=True, help="where the pooled results.json and report.md go")
    args = parser.parse_args()
    runs = [Path(r) for r in args.runs]
    missing = [str(r) for r in runs if not (r / "results.json").is_file()]
    if missing:
        raise MetaNLPError(f"{missing[0]}: no results.json (not a finished run)")
    first = json.loads((runs[0] / "results.json").read_text())
    pool = pool_editing_seeds if "editing" in first else pool_seeds if "distillation" in first else pool_run_seeds
    pool(runs, Path(args.output_dir))
    print((Path(args.output_dir) / "report.md").read_text())
    return 0


def run() -> None:
    """`meta-nlp-pool-seeds` (pyproject.toml [project.scripts]) and `python scripts/pool_seeds.py`."""
    main_guard(main)
