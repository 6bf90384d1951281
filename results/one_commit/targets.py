"""Issue 17's targets read off runs of one commit (plan addenda 15 and 16 in results/meta_batch_4/plan.md), bf16 as
`--mixed-precision auto` chose on this CPU: in FOLDER, the README's default job (ja_seedS), SIB-200 with unseen
sentences (sib200_seedS), the held-out task (held_out_task_seedS) and, where they ran, `it`, `ko`, `uk` with unseen
lines (L_seedS), each 2 seeds × 200 episodes pooled with scripts/pool_seeds.py into PART_2seeds. SetFit's `ja` row is
results/setfit_fp32/pooled (it adapts φ⁰ only, float32 by design), on the same episodes. Each row is also compared
with the row it replaces on the same episodes: the same part in --against (another such folder) where it ran
there, else the older runs below; the default job's seeds also with the runs they should repeat (results/draws/default_seedS_draw0).
--part PART=OTHER reads PART from OTHER instead (a later run of it), compared with FOLDER's PART.
Run from the repository root after pooling:
    python results/one_commit/targets.py                       # addendum 15: output results/one_commit/targets.txt
    python results/one_commit/targets.py results/one_commit_fix --against results/one_commit      # addendum 16
    python results/one_commit/targets.py results/one_commit_fix --against results/one_commit \
      --part ja=results/scoring_threads --out results/scoring_threads/targets.txt                  # addendum 18"""
import argparse
import sys
from pathlib import Path

from meta_nlp.errors import MetaNLPError
from meta_nlp.evaluation.comparison import (MARGIN_OVER_BASELINE, MARGIN_OVER_FINETUNE, repeated_by, result_row,
                                            result_summary, run_choices, target_verdict)
from meta_nlp.evaluation.stats import interval, paired_bootstrap

META = "protonet"
BASELINES = ("multitask", "finetune")
# (part, held-out language) -> the older pooled rows it replaces (the same episodes)
PARTS = {("ja", "ja"): "results/draws/draw0_pooled",
         ("sib200", "jpn_Jpan"): "results/meta_batch_4/sib200/pooled",
         ("sib200", "ita_Latn"): "results/meta_batch_4/sib200/pooled",
         ("held_out_task", "ita_Latn"): "results/meta_batch_4/held_out_task",
         ("held_out_task", "jpn_Jpan"): "results/meta_batch_4/held_out_task",
         **{(lang, lang): f"results/meta_batch_4/{lang}/pooled" for lang in ("it", "ko", "uk")}}
SETFIT = "results/setfit_fp32/pooled"


def pooled(folder: Path, part: str) -> Path | None:
    run = folder / f"{part}_2seeds"
    return run if (run / "results.json").is_file() else None


def label(part: str, language: str) -> str:
    return language if part == language else f"{part} {language}"


def against_replaced(run: Path, replaced: Path | str, method: str, language: str) -> str:
    """This row − the older row of the same method on the same episodes, or why there is none."""
    try:
        return interval(paired_bootstrap(result_row(run, method, language), result_row(replaced, method, language)))
    except MetaNLPError as missing:
        return f"no such row ({missing})"


def part_lines(folder: Path, against: Path | None, part: str, language: str) -> tuple[list[str], str | None]:
    """(the part's lines on `language`: each seed's choices, each method, each against what it replaces; its row of
    the targets' table), or an 'unfinished' line and no row. `folder` holds the part's runs."""
    run = pooled(folder, part)
    if run is None:
        return [f"{label(part, language)}: unfinished"], None
    replaced = (pooled(against, part) if against else None) or PARTS[part, language]
    lines = [f"{part} seed {s}: {run_choices(folder / f'{part}_seed{s}')}" for s in (0, 1)
             if language == next(lang for (p, lang) in PARTS if p == part)]  # each run's choices once
    meta = result_row(run, META, language)
    vs_best = meta["vs_best_baseline"]  # against the most accurate baseline, as the pooled run computed it
    best = result_row(run, vs_best["baseline"], language)
    vs_finetune = paired_bootstrap(meta, result_row(run, "finetune", language))
    lines.append(f"{label(part, language)}: " + ", ".join(result_summary(result_row(run, m, language))
                                                        for m in (META, *BASELINES)))
    lines += [f"    {m} − the row it replaces ({replaced}): {against_replaced(run, replaced, m, language)}"
              for m in (META, *BASELINES)]
    if part == "ja":
        lines.append(f"    protonet − setfit ({SETFIT}): {interval(paired_bootstrap(meta, result_row(SETFIT, 'setfit', 'ja')))}")
        lines += [f"    seed {s} {m} against results/draws/default_seed{s}_draw0: "
                  f"{repeated_by(result_row(folder / f'ja_seed{s}', m, 'ja'), f'results/draws/default_seed{s}_draw0')}"
                  for s in (0, 1) for m in (META, *BASELINES)]
    target = (f"≥ finetune + 5: {target_verdict(vs_finetune, MARGIN_OVER_FINETUNE)}" if part == "held_out_task"
              else f"≥ best + 3: {target_verdict(vs_best, MARGIN_OVER_BASELINE)}")
    name = f"{language} (held-out task)" if part == "held_out_task" else language
    row = (f"| {name} | {meta['accuracy']:.4f} ± {meta['ci95']:.4f} | {best['method']} {best['accuracy']:.4f} "
           f"| {interval(vs_best)} | {target} | {interval(vs_finetune)} |")
    return lines, row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", type=Path, default=Path(__file__).parent)
    parser.add_argument("--against", type=Path, help="a folder of the same parts on other code (paired rows)")
    parser.add_argument("--part", action="append", default=[], metavar="PART=OTHER",
                        help="read PART from OTHER, compared with FOLDER's PART (repeatable)")
    parser.add_argument("--out", type=Path, help="default: FOLDER/targets.txt")
    args = parser.parse_args()
    elsewhere = dict(p.split("=", 1) for p in args.part)
    lines, table = [], ["| held-out | ProtoNet | best baseline | ProtoNet − best baseline [95%] | target | "
                        "ProtoNet − finetune [95%] |", "|---|---|---|---|---|---|"]
    for part, language in PARTS:
        if part in elsewhere:
            part_text, row = part_lines(Path(elsewhere[part]), args.folder, part, language)
        else:
            part_text, row = part_lines(args.folder, args.against, part, language)
        lines += part_text
        table += [row] if row else []
    lines += ["", *table]
    (args.out or args.folder / "targets.txt").write_text("\n".join(lines) + "\n")
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
