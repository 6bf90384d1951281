"""plan.md's addendum 9 (results/meta_batch_4/plan.md): SIB-200 with unseen sentences, training draw 1, selected on
150 validation episodes (this folder) against the same training selected on 48 (results/draws/sib200_seed*_draw1).
Run from the repository root: python results/val150/compare.py   (output compare.txt)"""
import json
from functools import cache
from pathlib import Path

from meta_nlp.evaluation.comparison import validation_by_step
from meta_nlp.evaluation.stats import interval, paired_bootstrap
from meta_nlp.recipes.study import pooled

METHODS = ("protonet", "multitask")
RUNS = {48: "results/draws/sib200_seed{}_draw1", 150: "results/val150/sib200_seed{}_draw1"}
OLD, NEW = 48, 150


@cache
def run_of(episodes: int, seed: int) -> dict:
    """The run's results.json, read once."""
    return json.loads(Path(RUNS[episodes].format(seed), "results.json").read_text())


def rows_of(episodes: int, seed: int) -> dict:
    return {(r["method"], r["language"]): r for r in run_of(episodes, seed)["results"]}


def validation_of(episodes: int, seed: int, method: str) -> dict[int, float]:
    return {int(s): v for s, v in validation_by_step(RUNS[episodes].format(seed), method).items()}


for seed in (0, 1):
    print(f"## seed {seed}: validation by checkpoint (lr x1, 3 test-time steps), then the choice")
    for method in METHODS:
        old, new = validation_of(OLD, seed, method), validation_of(NEW, seed, method)
        # Episodes 0-47 are the same in both runs and the weights at every step are too: the 102 new episodes alone
        added = {s: (NEW * new[s] - OLD * old[s]) / (NEW - OLD) for s in new}
        line = "; ".join(f"step {s}: {old[s]:.4f} (48) {new[s]:.4f} (150) {added[s]:.4f} (the 102 new)" for s in new)
        print(f"  {method}: {line}")
        for episodes in (OLD, NEW):
            r = next(r for (m, _), r in rows_of(episodes, seed).items() if m == method)
            print(f"    {episodes} episodes choose checkpoint {r['selection']['selected_step']}, "
                  f"{r['adapt_steps']} test-time steps at lr x{r['lr_factor']}")
    for language in ("jpn_Jpan", "ita_Latn"):
        for method in METHODS:
            a, b = rows_of(OLD, seed)[method, language], rows_of(NEW, seed)[method, language]
            same_choice = (a["selection"]["selected_step"], a["adapt_steps"], a["lr_factor"]) == \
                (b["selection"]["selected_step"], b["adapt_steps"], b["lr_factor"])
            check = ("same choice, same scores on every episode" if a["episode_accuracy"] == b["episode_accuracy"]
                     else "same choice, DIFFERENT scores") if same_choice else "other choice"
            print(f"  {language} {method}: {a['accuracy']:.4f} (48) {b['accuracy']:.4f} (150); {check}")
    print()

for language in ("jpn_Jpan", "ita_Latn"):
    print(f"## {language}: protonet − multitask, 2 seeds × 200 episodes, training draw 1")
    for episodes in (OLD, NEW):
        rows = {m: pooled([rows_of(episodes, s)[m, language] for s in (0, 1)]) for m in METHODS}
        print(f"  selected on {episodes} validation episodes: protonet {rows['protonet']['accuracy']:.4f}, "
              f"multitask {rows['multitask']['accuracy']:.4f}, difference "
              f"{interval(paired_bootstrap(rows['protonet'], rows['multitask']))}")
    print()
for seed in (0, 1):
    data = run_of(NEW, seed)
    print(f"seed {seed}, 150 episodes: {data['wall_time_s']:.0f} s ({data['validation_scoring_s']:.0f} s validation), "
          f"{data['peak_memory_mib']} MiB, {data['mixed_precision']}")
