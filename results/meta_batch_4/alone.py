"""plan.md's addendum 4: the README's default job on seed 0 alone on both cores (results/meta_batch_4/alone_seed0),
its time and memory, and each of its rows against the same job run one thread beside its twin
(results/meta_batch_4/default_seed0). Run from the repository root: python results/meta_batch_4/alone.py"""
import json
from pathlib import Path

from meta_nlp.evaluation.comparison import repeated_by

ALONE, BESIDE = "results/meta_batch_4/alone_seed0", "results/meta_batch_4/default_seed0"

for name in (ALONE, BESIDE):
    data = json.loads(Path(name, "results.json").read_text())
    print(f"{name}: {data['wall_time_s']:.1f} s ({data['wall_time_s'] / 60:.1f} minutes), {data['peak_memory_mib']} "
          f"MiB peak, scoring {data['validation_scoring_s']:.0f} s validation + {data['held_out_scoring_s']:.0f} s "
          f"held out, {data['num_processes']} process(es), precision {data['mixed_precision']}")
for row in json.loads(Path(ALONE, "results.json").read_text())["results"]:
    print(f"  {row['method']} {row['accuracy']:.4f}: against {BESIDE}: {repeated_by(row, BESIDE)}")
