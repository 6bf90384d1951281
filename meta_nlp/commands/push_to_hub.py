"""Publish a finished meta_train run to the Hugging Face Hub.

The repository gets the run's best/ learner at its root (loadable with
meta_nlp.MetaLearner.from_pretrained("USER/NAME")), results.json, report.md, the accuracy plot
and a model card (README.md). Resumable checkpoints are never uploaded.

    python scripts/push_to_hub.py runs/default --hub-model-id USER/NAME --hub-dry-run
    python scripts/push_to_hub.py runs/default --hub-model-id USER/NAME --private
    HF_TOKEN=hf_... python scripts/push_to_hub.py runs/default --hub-model-id ORG/NAME --hub-revision v1

--hub-dry-run writes the exact upload folder (default RUN_DIR/hub_upload/) and pushes nothing;
inspect it, or load it with MetaLearner.from_pretrained(folder). The token comes from
--hub-token, else HF_TOKEN / HUGGING_FACE_HUB_TOKEN, else `hf auth login`.
"""
import argparse
from pathlib import Path

from meta_nlp.cli import main_guard


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", metavar="RUN_DIR", type=Path, help="the --output-dir of a finished meta_train run")
    parser.add_argument("--hub-model-id", required=True, metavar="USER/NAME", help="Hub repository to create or update")
    parser.add_argument("--hub-token", help="write token (default: HF_TOKEN, HUGGING_FACE_HUB_TOKEN, or the saved login)")
    parser.add_argument("--private", action="store_true", help="create the repository as private")
    parser.add_argument("--hub-revision", metavar="BRANCH", help="push to this branch (created if missing) instead of main")
    parser.add_argument("--hub-dry-run", action="store_true", help="only write the upload folder; push nothing")
    parser.add_argument("--hub-dry-run-dir", type=Path, metavar="DIR",
                        help="where --hub-dry-run writes the folder (default: RUN_DIR/hub_upload)")
    return parser


def main() -> int:
    args = build_parser().parse_args()
    from meta_nlp.hub import push_run
    where = push_run(args.run_dir, args.hub_model_id, token=args.hub_token, private=args.private,
                     revision=args.hub_revision, dry_run=args.hub_dry_run, dry_run_dir=args.hub_dry_run_dir)
    if args.hub_dry_run:
        files = sorted(p.relative_to(where).as_posix() for p in Path(where).rglob("*") if p.is_file())
        print(f"dry run: nothing pushed; upload folder {where} ({len(files)} files: {', '.join(files)})")
    else:
        print(f"pushed {args.run_dir} to {where}")
    return 0


def run() -> None:
    """`meta-nlp-push` (pyproject.toml [project.scripts]) and `python scripts/push_to_hub.py`."""
    main_guard(main)
