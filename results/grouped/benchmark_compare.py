"""The training step of every method with texts grouped by length (benchmark_grouped.json, code of 62040a9 and its
fixes) against the same step on ff52439 (benchmark_ff52439.json), both `python scripts/benchmark.py --processes 1
--steps 5 --warmup 1` on this machine, one after the other, nothing else running. Run from the repository root:
python results/grouped/benchmark_compare.py                                     # output benchmark_compare.txt"""
import json
from pathlib import Path

HERE = Path("results/grouped")
new, old = ({r["method"]: r for r in json.loads((HERE / f"benchmark_{name}.json").read_text())["rows"]}
            for name in ("grouped", "ff52439"))
print("| method | s/step ff52439 | s/step grouped | time | peak MiB ff52439 | peak MiB grouped |")
print("|---|--:|--:|--:|--:|--:|")
for method, row in new.items():
    before = old[method]
    print(f"| {method} | {before['seconds_per_step']:.3f} | {row['seconds_per_step']:.3f} "
          f"| {row['seconds_per_step'] / before['seconds_per_step'] - 1:+.0%} | {before['peak_mib']:.0f} "
          f"| {row['peak_mib']:.0f} |")
