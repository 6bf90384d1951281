"""The default job with repeated validation passes read back (code c9ae414) against the same job before: every
reported field of every method must be the same, and the wall times compare (one machine: a 2-core Intel Xeon
without native bf16, float32; "this session" = 2026-12-04 from 06:47 UTC, its runs one after the other, each alone;
final_seed0 ran in a later session, from 10:39 UTC, on the commit whose key also covers the episodes' texts, and
phases_seed0 from 11:21 UTC on the commit whose results.json also says where the time went).

The last three pairs ran in a session of 2026-12-04 from 12:53 UTC on a 2-core AMD EPYC with AVX2 only: the
thirteenth measurements' seed-1 default run and SIB-200 seed-0 ProtoNet run again on fef1008 (each with one thread,
side by side, as they first ran), and the default job on the code that keeps scores in OUTPUT_DIR/scores (118c1cb),
resumed with --resume-from-checkpoint latest once after it had finished (a SIGINT sent to it in the background was
ignored, as bash makes background jobs ignore SIGINT, so it ran to the end), and once after a SIGTERM 20 s into the
multitask baseline's held-out evaluation; that folder, once resumed, was copied without its scores/ and
results.json and resumed again by fef1008's code. Their results.json hold the resumed run's own time and passes.

    python results/reuse_scores/compare.py > results/reuse_scores/compare.txt
"""
import json
from pathlib import Path

HERE = Path(__file__).parent
RESULTS = HERE.parent
# (what is compared, the run before, the run after)
PAIRS = [("48 validation episodes (the default), before: an earlier session (committed 2026-12-04 03:11)",
          RESULTS / "phi0_selection" / "default_seed0", HERE / "default_seed0"),
         ("48 validation episodes (the default), before: this session",
          HERE / "before_07c457b", HERE / "default_seed0"),
         ("--val-episodes 12, before: an earlier session (committed 2026-12-03)",
          RESULTS / "default_unseen" / "default_seed0", HERE / "val12_seed0"),
         ("48 validation episodes (the default), the key with the episodes' texts and languages (a later session)",
          HERE / "default_seed0", HERE / "final_seed0"),
         ("48 validation episodes (the default), with where its time went in results.json (the same later session)",
          HERE / "default_seed0", HERE / "phases_seed0"),
         ("seed 1 of the default run, one thread beside another run: the thirteenth measurements' run and today's code",
          RESULTS / "phi0_selection" / "default_seed1", HERE / "head_seed1"),
         ("SIB-200 with unseen sentences, ProtoNet seed 0, one thread beside another run: the same",
          RESULTS / "phi0_selection" / "sib200" / "seed0", HERE / "head_sib200_seed0"),
         ("48 validation episodes (the default), resumed after it had finished (every pass read back from scores/)",
          HERE / "final_seed0", HERE / "finished_resumed_seed0"),
         ("48 validation episodes (the default), killed during the last held-out evaluation and resumed",
          HERE / "final_seed0", HERE / "resumed_seed0"),
         ("the same killed run's folder resumed by the code before (fef1008), which reads no scores back",
          HERE / "final_seed0", HERE / "old_code_resumed_seed0")]
FIELDS = ("method", "language", "accuracy", "episode_accuracy", "accuracy_by_step", "val_grid", "lr_factor",
          "adapt_steps", "selection")


def load(folder: Path) -> dict:
    return json.loads((folder / "results.json").read_text())


def described(folder: Path, run: dict) -> str:
    return (f"{folder.relative_to(RESULTS)} (commit {run['versions']['meta_nlp_commit']}): {run['wall_time_s']} s, "
            f"{run['peak_memory_mib']} MiB, precision {run['mixed_precision']}, {run['num_processes']} process")


def differing_values(before, after, where: str = "") -> list[tuple[str, object, object]]:
    """(where, before, after) for each value that differs between two fields (lists and dicts cell by cell)."""
    if isinstance(before, dict) and isinstance(after, dict) and before.keys() == after.keys():
        return [d for k in before for d in differing_values(before[k], after[k], f"{where}[{k}]")]
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [d for i, (b, a) in enumerate(zip(before, after)) for d in differing_values(b, a, f"{where}[{i}]")]
    return [] if before == after else [(where, before, after)]


for what, before_dir, after_dir in PAIRS:
    before, after = load(before_dir), load(after_dir)
    differ = [(r["method"], f) for r, s in zip(before["results"], after["results"])
              for f in FIELDS if r.get(f) != s.get(f)]
    print(f"{what}\n  before: {described(before_dir, before)}\n  after:  {described(after_dir, after)}")
    print(f"  {len(after['results'])} methods; fields that differ: {differ or 'none'}; training record the same: "
          f"{before['training'] == after['training']}; time after − before: "
          f"{after['wall_time_s'] - before['wall_time_s']:+.1f} s")
    for r, s in zip(before["results"], after["results"]):
        for f in FIELDS:
            for cell, b, a in differing_values(r.get(f), s.get(f)):
                print(f"    {r['method']} {r['language']} {f}{cell}: {b} before, {a} after")
    if "scoring_passes_computed" in after:
        print(f"  after: {after['scoring_passes_computed']} scoring passes computed, {after['scoring_passes_read_back']} "
              f"read back; validation {after['validation_scoring_s']} s, held-out {after['held_out_scoring_s']} s")
