#!/usr/bin/env python
"""Meta-train an encoder, evaluate it and two baselines on held-out languages, write the report.

    accelerate launch scripts/meta_train.py                      # default: FOMAML, chatterbot topics, held-out ja
    accelerate launch scripts/meta_train.py --algorithm protonet --held-out-language it
    accelerate launch scripts/meta_train.py --config configs/default.yaml --max-steps 200
    ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 scripts/meta_train.py ...

Outputs in --output-dir: results.json, report.md, accuracy_by_step.png, best/ (loadable with
meta_nlp.MetaLearner.from_pretrained), checkpoints/step_N (resumable).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a clone without installing

from meta_nlp.cli import main_guard  # noqa: E402
from meta_nlp.config import build_arg_parser, parse_config  # noqa: E402


def main() -> int:
    if "--list-tasks" in sys.argv:
        return list_tasks(sys.argv)
    description = __doc__
    cfg = parse_config(sys.argv[1:], description=description, extra=[
        (("--list-tasks",), {"action": "store_true", "help": "list the tasks and their languages, then exit"})])
    from meta_nlp.pipeline import run_experiment
    out = run_experiment(cfg)
    from accelerate.state import PartialState
    if PartialState().is_main_process:
        print(Path(cfg.output_dir, "report.md").read_text())
    return 0


def list_tasks(argv: list[str]) -> int:
    from meta_nlp.data.registry import list_tasks as all_tasks
    dirs = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ("--task-dir", "--task_dir")]
    for task in all_tasks(dirs):
        print(f"{task.name:24s} {task.type:16s} {' '.join(task.languages())}")
    return 0


if __name__ == "__main__":
    main_guard(main)
