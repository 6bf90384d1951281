"""The comparison study: meta-learners and both baselines on the same seeded episodes, over seeds
and held-out languages; a table per held-out language (mean ± 95% CI, paired difference to the best
baseline with its bootstrap CI) and plots (per language, against shots K, against adaptation steps).

examples:
  python scripts/study.py --leave-one-out ja,it,ko --methods fomaml,mldg --seeds 0,1,2    # the study
  python scripts/study.py --methods maml,mldg --held-out-language ja --eval-mode zero_shot  # en support, ja query
  accelerate launch scripts/study.py --config configs/study_chatterbot.yaml --methods fomaml,anil,protonet,mldg --seeds 0,1 --shots 5
  python scripts/study.py --leave-one-out ja,it --max-steps 2 --eval-episodes 20 --seeds 0 --shots 1,5   # a smoke test

  python scripts/study.py --config configs/study_chatterbot.yaml --methods fomaml,anil,protonet,mldg --seeds 0,1 --shots 5 --finished-only
      # the report of what has finished so far (say, one process per language still running), running nothing
  python scripts/study.py --leave-one-out ja --methods fomaml,protonet --seeds 0,1 --shots 5 --budgets 40,160,640
      # a budget curve: the study at 40, 160 and 640 meta-training steps, accuracy against steps
  python scripts/study.py --leave-one-out ja --methods protonet --seeds 0,1 --shots 5 --training-draws 0,1,2
      # each seed trained three times on its episodes: intervals that count re-training too

Every run setting is a meta_train flag (below); the study's own flags are --methods, --seeds, --shots,
--bootstrap-resamples, --finished-only, --budgets and --training-draws. Writes OUTPUT_DIR (default runs/study)/
results.json, report.md, accuracy_by_language.png, accuracy_by_shots.png, accuracy_by_step.png, and one folder per
(held-out language, seed, training draw, method) run. Re-running the same command skips the finished runs.
Cost: (languages x seeds x draws x methods) meta-training runs plus (languages x seeds x draws) baseline runs,
each evaluated at every K: on 2 CPU cores keep --max-steps and --eval-episodes small.
"""
import sys
from dataclasses import replace
from pathlib import Path

from meta_nlp.cli import main_guard


def main() -> int:
    from meta_nlp.config import MetaConfig, parse_config_and_extras
    from meta_nlp.recipes.budget import run_budget_curve
    from meta_nlp.recipes.study import STUDY_OUTPUT_DIR, StudySpec, run_study, study_flags
    cfg, extras = parse_config_and_extras(sys.argv[1:], __doc__, study_flags())
    if cfg.output_dir == MetaConfig().output_dir:
        cfg = replace(cfg, output_dir=STUDY_OUTPUT_DIR)
    spec = StudySpec(**extras).validate()
    (run_budget_curve if spec.budgets else run_study)(cfg, spec)
    from accelerate.state import PartialState
    if PartialState().is_main_process:
        print(Path(cfg.output_dir, "budget.md" if spec.budgets else "report.md").read_text())
    return 0


def run() -> None:
    """`meta-nlp-study` (pyproject.toml [project.scripts]) and `python scripts/study.py`."""
    main_guard(main)
