"""plan.md's addendum 6 (results/meta_batch_4/plan.md): the README's default job on 62040a9 (texts in groups of
similar length), each seed alone on both cores, against the same job on ff52439 (results/meta_batch_4: seed 0 alone,
seed 1 one thread beside its twin; the rows of seed 0 alone and beside were the same field by field). Run from the
repository root after pooling: python results/grouped/compare.py"""
import json
from pathlib import Path

from meta_nlp.evaluation.comparison import paired_difference, result_row, result_summary, run_choices

NEW, OLD = "results/grouped", "results/meta_batch_4"
OLD_RUNS = {0: f"{OLD}/alone_seed0", 1: f"{OLD}/default_seed1"}
METHODS = ("protonet", "finetune", "multitask")

for seed in (0, 1):
    for name in (f"{NEW}/default_seed{seed}", OLD_RUNS[seed]):
        data = json.loads(Path(name, "results.json").read_text())
        print(f"{name} (commit {data['versions']['meta_nlp_commit']}): {data['num_processes']} process(es), "
              f"scoring {data['validation_scoring_s']:.0f} s validation + {data['held_out_scoring_s']:.0f} s held out; "
              f"{run_choices(name)}")
    new, old = result_row(f"{NEW}/default_seed{seed}", "finetune", "ja"), result_row(OLD_RUNS[seed], "finetune", "ja")
    same = sum(a == b for a, b in zip(new["episode_accuracy"], old["episode_accuracy"]))
    print(f"  finetune (φ⁰): the same accuracy on {same} of {len(new['episode_accuracy'])} episodes")

print("\nPooled, 2 seeds x 200 episodes, held-out ja:")
for method in METHODS:
    new, old = result_row(f"{NEW}/default_2seeds", method, "ja"), result_row(f"{OLD}/default_2seeds", method, "ja")
    print(f"  62040a9 {result_summary(new)}; − ff52439: {paired_difference(new, old)}")
rows = {m: result_row(f"{NEW}/default_2seeds", m, "ja") for m in METHODS}
for baseline in ("multitask", "finetune"):
    print(f"  protonet − {baseline} (62040a9): {paired_difference(rows['protonet'], rows[baseline])}")
