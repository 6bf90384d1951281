"""Re-evaluate a saved run on any language of its task, against the same baselines.

examples:
  python scripts/evaluate.py --checkpoint runs/default --held-out-language it
  python scripts/evaluate.py --checkpoint runs/default --held-out-language ko --baselines none --eval-episodes 100
  python scripts/evaluate.py --checkpoint runs/default --held-out-language ja --test-time-head sgd   # the older head
  python scripts/evaluate.py --checkpoint runs/default --held-out-language ja --label-name-weight 1  # + class names
  python scripts/evaluate.py --checkpoint runs/sib --held-out-language jpn_Jpan --max-length 128   # whole sentences
  python scripts/evaluate.py --checkpoint runs/default --held-out-language ja --weight-ensemble 0.5  # halfway to φ⁰

The meta-learned checkpoint is the run's best/ (chosen on meta-validation). Test-time settings of
every method are re-tuned on meta-validation episodes of the run's training languages, minus
the evaluated language. Evaluating on a language the run meta-trained on is allowed but is
flagged: that score is not a held-out score. Writes results.json, report.md and the plot to
--output-dir (default: CHECKPOINT/eval_<languages>).
"""
import argparse
from pathlib import Path

from meta_nlp.cli import main_guard
from meta_nlp.config import comma_separated


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="a meta_train --output-dir, or a saved learner folder")
    p.add_argument("--held-out-language", "--held_out_language", action="extend", type=comma_separated, required=True,
                   dest="held_out_language", help="language to evaluate on (repeatable, or comma-separated: ja,ko)")
    p.add_argument("--baselines", type=comma_separated,
                   help="comma-separated baselines (default: the run's)")
    for name, kind in (("eval_episodes", int), ("eval_inner_steps", int), ("val_episodes", int), ("n_way", int),
                       ("k_shot", int), ("n_query", int), ("seed", int), ("test_time_head", str),
                       ("test_time_selection", str), ("label_name_weight", float), ("max_length", int)):
        p.add_argument(f"--{name.replace('_', '-')}", f"--{name}", dest=name, type=kind, help="default: the run's")
    p.add_argument("--weight-ensemble", "--weight_ensemble", dest="weight_ensemble", type=float,
                   help="evaluate φ⁰ + SHARE·(φ − φ⁰): the meta-learned encoder φ moved back toward the encoder it "
                        "started from (a weight-space ensemble, WiSE-FT), saved into OUTPUT_DIR/weight_ensemble; "
                        "SHARE in (0, 1], 1 is the run's learner (default)")
    p.add_argument("--output-dir", "--output_dir", dest="output_dir", help="default: CHECKPOINT/eval_<languages>")
    return p


def main() -> int:
    args = vars(build_parser().parse_args())
    checkpoint, languages, out = args.pop("checkpoint"), args.pop("held_out_language"), args.pop("output_dir")
    weight_ensemble = args.pop("weight_ensemble")
    overrides = {k: v for k, v in args.items() if v is not None}
    if not Path(checkpoint).exists():
        from meta_nlp.errors import MetaNLPError
        raise MetaNLPError(f"checkpoint not found: {checkpoint}")
    from accelerate.state import PartialState
    from meta_nlp.recipes.meta_learn import evaluate_checkpoint, write_outputs
    out_dir = Path(out or Path(checkpoint) / f"eval_{'_'.join(languages)}")
    evaluated = evaluate_checkpoint(checkpoint, languages, overrides, out_dir, weight_ensemble=weight_ensemble)
    extra = {"checkpoint": str(checkpoint), **{k: v for k, v in evaluated.items() if k not in ("config", "results")}}
    if PartialState().is_main_process:
        write_outputs(out_dir, evaluated["config"], evaluated["results"], extra)
        print((out_dir / "report.md").read_text())
    return 0


def run() -> None:
    """`meta-nlp-evaluate` (pyproject.toml [project.scripts]) and `python scripts/evaluate.py`."""
    main_guard(main)
