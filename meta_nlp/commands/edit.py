"""Correct a saved classifier's predictions: give each text its label, and save the edited classifier as a run
(OUTPUT_DIR/best and results.json) that loads and pushes like any run and lists the edits applied.

Edits are made with `ft` (gradient steps on the top layers and the head until the edit holds), or with an editor
trained by `meta_train.py --algorithm mend|enn` for this classifier (--editor: that run's folder).

examples:
  python scripts/edit.py runs/edit/base/multitask --text "Who won the match?" --label sports --output-dir edited/
  python scripts/edit.py runs/edit/base/multitask --editor runs/edit --csv fixes.csv --output-dir edited/
  python -c "from meta_nlp import Classifier; print(Classifier.from_pretrained('edited').predict(['Who won?']))"
  python scripts/push_to_hub.py edited --hub-model-id USER/NAME --hub-dry-run

A CSV of edits has the columns text and label. Python: meta_nlp.recipes.edit.apply_edits(run, [(text, label)], ...).
"""
import argparse
import csv
import json
from pathlib import Path

from meta_nlp.cli import main_guard
from meta_nlp.config import MetaConfig

DEFAULTS = MetaConfig()


def main() -> int:
    from meta_nlp.errors import MetaNLPError
    from meta_nlp.recipes.edit import apply_edits
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a saved classifier: a run folder or learner with a head (head.safetensors)")
    parser.add_argument("--text", action="append", default=[], help="a text to correct (repeatable, with --label)")
    parser.add_argument("--label", action="append", default=[], help="its label (one per --text)")
    parser.add_argument("--csv", help="a CSV file of edits, columns text and label")
    parser.add_argument("--output-dir", required=True, help="where the edited classifier is saved (a run folder)")
    parser.add_argument("--editor", metavar="RUN", help="edit with the trained editor of this editing run (its "
                        "folder, or its mend/best or enn/best) instead of ft; it must have been trained for this "
                        "classifier")
    parser.add_argument("--edit-layers", type=int, default=DEFAULTS.edit_layers,
                        help=f"ft: top transformer layers changed, with the head (default: {DEFAULTS.edit_layers})")
    parser.add_argument("--edit-lr", type=float, default=DEFAULTS.edit_lr, help=f"ft: SGD lr (default: {DEFAULTS.edit_lr})")
    parser.add_argument("--edit-max-steps", type=int, default=DEFAULTS.edit_max_steps,
                        help=f"ft: at most this many steps per edit (default: {DEFAULTS.edit_max_steps})")
    args = parser.parse_args()
    if len(args.text) != len(args.label):
        raise MetaNLPError("give one --label per --text")
    edits = list(zip(args.text, args.label)) + (read_edits(Path(args.csv)) if args.csv else [])
    if not edits:
        raise MetaNLPError("no edits: pass --text and --label, or --csv")
    records = apply_edits(args.run, edits, Path(args.output_dir), args.edit_layers, args.edit_lr, args.edit_max_steps,
                          args.editor)
    print(json.dumps(records, indent=2, ensure_ascii=False))
    print(f"edited classifier saved to {args.output_dir}")
    return 0


def read_edits(path: Path) -> list[tuple[str, str]]:
    from meta_nlp.errors import MetaNLPError
    if not path.is_file():
        raise MetaNLPError(f"edits file not found: {path}")
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if rows and not {"text", "label"} <= set(rows[0]):
        raise MetaNLPError(f"{path} needs the columns text and label, has {', '.join(rows[0])}")
    return [(r["text"], r["label"]) for r in rows]


def run() -> None:
    """`meta-nlp-edit` (pyproject.toml [project.scripts]) and `python scripts/edit.py`."""
    main_guard(main)
