"""The default job with repeated validation passes read back (code c9ae414) against the same job before: every
reported field of every method must be the same, and the wall times compare (one machine: a 2-core Intel Xeon
without native bf16, float32; "this session" = 2026-12-04 from 06:47 UTC, its runs one after the other, each alone;
final_seed0 ran in a later session, from 10:39 UTC, on the commit whose key also covers the episodes' texts, and
phases_seed0 from 11:21 UTC on the commit whose results.json also says where the time went).

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
          HERE / "default_seed0", HERE / "phases_seed0")]
FIELDS = ("method", "language", "accuracy", "episode_accuracy", "accuracy_by_step", "val_grid", "lr_factor",
          "adapt_steps", "selection")


def load(folder: Path) -> dict:
    return json.loads((folder / "results.json").read_text())


def described(folder: Path, run: dict) -> str:
    return (f"{folder.relative_to(RESULTS)} (commit {run['versions']['meta_nlp_commit']}): {run['wall_time_s']} s, "
            f"{run['peak_memory_mib']} MiB, precision {run['mixed_precision']}, {run['num_processes']} process")


for what, before_dir, after_dir in PAIRS:
    before, after = load(before_dir), load(after_dir)
    differ = [(r["method"], f) for r, s in zip(before["results"], after["results"])
              for f in FIELDS if r.get(f) != s.get(f)]
    print(f"{what}\n  before: {described(before_dir, before)}\n  after:  {described(after_dir, after)}")
    print(f"  {len(after['results'])} methods; fields that differ: {differ or 'none'}; training record the same: "
          f"{before['training'] == after['training']}; time after − before: "
          f"{after['wall_time_s'] - before['wall_time_s']:+.1f} s")
