"""Scoring before and after episodes ran side by side on threads (results.md "twenty-sixth measurements"): one saved
learner re-evaluated on the same validation and held-out episodes by two checkouts of the code, at 2 torch threads
and at 1, each in a fresh process; the scoring seconds and every episode's accuracy after each step are compared.

    python results/scoring_threads/ab.py --old <checkout> --new <checkout> --checkpoint <learner> [--out ab.json]
"""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ONE_RUN = r"""
import json, sys, time, torch
from pathlib import Path
import meta_nlp
from meta_nlp.evaluation import evaluator
from meta_nlp.memory import run_peak_mib
from meta_nlp.recipes.meta_learn import evaluate_checkpoint
checkpoint, out, episodes, val_episodes = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
started = time.perf_counter()
with evaluator.scoring_run(out, read=False):
    run = evaluate_checkpoint(checkpoint, ["ja"], {"baselines": [], "eval_episodes": episodes,
                                                   "val_episodes": val_episodes}, out)
    cost = evaluator.scoring_cost()
r = run["results"][0]
print(json.dumps({"code": str(Path(meta_nlp.__file__).parents[1]), "peak_mib": run_peak_mib(),
                  "torch_threads": torch.get_num_threads(), "seconds": round(time.perf_counter() - started, 1), **cost,
                  "accuracy": r["accuracy"], "adapt_steps": r["adapt_steps"], "lr_factor": r["lr_factor"],
                  "accuracy_by_step": r["accuracy_by_step"], "val_grid": r["val_grid"],
                  "episode_accuracy": r["episode_accuracy"]}))
"""


def one_run(code: str, threads: int, checkpoint: str, episodes: int, val_episodes: int, scratch: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": code, "OMP_NUM_THREADS": str(threads)}
    # -P: `python -c` would put the working directory first on sys.path, and a checkout there would win over `code`
    out = subprocess.run([sys.executable, "-P", "-c", ONE_RUN, checkpoint, str(scratch), str(episodes), str(val_episodes)],
                         env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--old", required=True)
    p.add_argument("--new", required=True)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--episodes", type=int, default=40)
    p.add_argument("--val-episodes", type=int, default=16)
    p.add_argument("--scratch", default="/tmp/scoring_threads_ab")
    p.add_argument("--out", default=str(Path(__file__).with_name("ab.json")))
    a = p.parse_args()
    rows = {}
    # At 2 threads in the order old, new, new, old, so that drift over the minutes (a machine warming up) falls on
    # both sides alike; at 1 thread once each, for the scores alone.
    for run, (name, threads) in enumerate([("old", 2), ("new", 2), ("new", 2), ("old", 2), ("old", 1), ("new", 1)]):
        code = a.old if name == "old" else a.new
        rows[f"{run}: {name}, {threads} torch threads"] = row = one_run(code, threads, a.checkpoint, a.episodes,
                                                                       a.val_episodes, Path(a.scratch) / str(run))
        print(f"{run}: {name}, {threads} threads:", row, flush=True)
    runs = list(rows.values())
    rows["same scores at 1 thread"] = all(runs[4][k] == runs[5][k]
                                          for k in ("accuracy_by_step", "val_grid", "episode_accuracy"))
    scoring = lambda r: r["validation_scoring_s"] + r["held_out_scoring_s"]
    old2, new2 = scoring(runs[0]) + scoring(runs[3]), scoring(runs[1]) + scoring(runs[2])
    rows["scoring seconds at 2 threads, old and new (2 runs each)"] = [round(old2, 1), round(new2, 1)]
    rows["scoring speed-up at 2 threads"] = round(old2 / new2, 2)
    rows["args"] = vars(a)
    Path(a.out).write_text(json.dumps(rows, indent=1) + "\n")
    print({k: v for k, v in rows.items() if not isinstance(v, dict)})


if __name__ == "__main__":
    main()
