"""Meta-train an encoder, evaluate it and two baselines on held-out languages, write the report.

examples:
  accelerate launch scripts/meta_train.py                       # default: ProtoNet on chatterbot topics, held-out ja
  accelerate launch scripts/meta_train.py --algorithm fomaml --held-out-language it
  accelerate launch scripts/meta_train.py --algorithm mldg --leave-one-out ja,it,ko   # one run per held-out language
  accelerate launch scripts/meta_train.py --eval-mode zero_shot                 # support in en, query in ja
  accelerate launch scripts/meta_train.py --teacher runs/protonet --student-layers 3 --algorithm protonet \
      --output-dir runs/distill    # distil a run into a 3-layer student: teacher, finetune, student, KD, MetaDistil
  accelerate launch scripts/meta_train.py --algorithm mend --output-dir runs/edit   # model editing: mend vs ft, ft_kl, memory
  accelerate launch scripts/meta_train.py --config configs/default.yaml --max-steps 200
  ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 scripts/meta_train.py   # 2 CPU processes (gloo)
  accelerate launch scripts/meta_train.py --resume-from-checkpoint latest --output-dir runs/default
  accelerate launch scripts/meta_train.py --push-to-hub --hub-model-id me/minilm-protonet-topics
  python scripts/meta_train.py --list-tasks
  meta-nlp-train --algorithm fomaml                             # the console command: one process, as python scripts/meta_train.py

Outputs in --output-dir: results.json, report.md, accuracy_by_step.png, best/ (the checkpoint
chosen on meta-validation; load it with meta_nlp.MetaLearner.from_pretrained), checkpoints/checkpoint_N
(resumable; the newest --save-total-limit kept), multitask/ (the baseline's own best/ and checkpoints). With --leave-one-out: one such folder per held-out language, OUTPUT_DIR/<lang>/, and
the aggregated results.json and report.md in OUTPUT_DIR; re-running skips finished languages.
Flags override --config; underscore spellings (--k_shot) are accepted too.
"""
import shlex
import sys
from pathlib import Path

from meta_nlp.cli import main_guard
from meta_nlp.config import EDITORS, MetaConfig, parse_config_and_extras

HUB_FLAGS = [
    (("--list-tasks",), {"action": "store_true", "help": "list the tasks and their languages, then exit "
                                                         "(with --data-dir: --task's languages found there)"}),
    (("--push-to-hub",), {"action": "store_true", "help": "push best/ with a model card when the run ends"}),
    (("--hub-model-id",), {"help": "USER/NAME of the Hub repository (with --push-to-hub)"}),
    (("--hub-token",), {"help": "Hub token (default: HF_TOKEN, then the saved login)"}),
    (("--private",), {"action": "store_true", "help": "create the Hub repository as private"}),
    (("--hub-revision",), {"help": "branch to push to (default: main)"}),
    (("--hub-dry-run",), {"action": "store_true", "help": "write OUTPUT_DIR/hub_upload/ (what would be pushed) and stop"}),
]


def main() -> int:
    cfg, hub = parse_config_and_extras(sys.argv[1:], __doc__, HUB_FLAGS)
    if hub["list_tasks"]:
        return list_tasks(cfg)
    if (hub["push_to_hub"] or hub["hub_dry_run"]) and not hub["hub_model_id"]:
        from meta_nlp.errors import MetaNLPError
        raise MetaNLPError("--push-to-hub needs --hub-model-id USER/NAME")
    from accelerate.state import PartialState
    from meta_nlp.recipes.meta_learn import run_experiment, run_sweep
    if cfg.leave_one_out and (hub["push_to_hub"] or hub["hub_dry_run"]):
        from meta_nlp.errors import MetaNLPError
        raise MetaNLPError("--push-to-hub pushes one run: push OUTPUT_DIR/<lang> of a --leave-one-out sweep")
    if cfg.teacher:
        from meta_nlp.recipes.distill import run_distillation
        run_distillation(cfg)
    elif cfg.algorithm in EDITORS:
        from meta_nlp.recipes.edit import run_editing
        run_editing(cfg)
    elif cfg.leave_one_out:
        run_sweep(cfg)
    else:
        run_experiment(cfg)
    if PartialState().is_main_process:  # only the main process writes the report and talks to the Hub
        print(Path(cfg.output_dir, "report.md").read_text())
        if hub["push_to_hub"] or hub["hub_dry_run"]:
            from meta_nlp.hub import push_run
            # the model card shows a console command by its name, not its installed path
            argv = sys.argv if sys.argv[0].endswith(".py") else [Path(sys.argv[0]).name, *sys.argv[1:]]
            where = push_run(Path(cfg.output_dir), hub["hub_model_id"], token=hub["hub_token"], private=hub["private"],
                             revision=hub["hub_revision"], dry_run=hub["hub_dry_run"], command=shlex.join(argv))
            print(f"{'dry run: upload folder written to' if hub['hub_dry_run'] else 'pushed to'} {where}")
    return 0


def list_tasks(cfg: MetaConfig) -> int:
    """Every task with its languages; offline and fast (a Hub task's languages are not asked for)."""
    from meta_nlp.data.registry import find_task, list_tasks as all_tasks, listed_languages
    # --data-dir belongs to one task's layout, so with it only --task is listed, read from that folder.
    tasks = [find_task(cfg.task, cfg.task_dir, cfg.data_dir)] if cfg.data_dir else all_tasks(cfg.task_dir)
    for task in tasks:
        print(f"{task.name:24s} {task.type:20s} {listed_languages(task)}")
    return 0


def run() -> None:
    """`meta-nlp-train` (pyproject.toml [project.scripts]) and `python scripts/meta_train.py`."""
    main_guard(main)
