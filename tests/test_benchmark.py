"""scripts/benchmark.py --tiny: the real training step timed with 1 and 2 processes (gloo), rows merged into one table."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT


@pytest.mark.slow
def test_tiny_benchmark_times_the_real_step_with_one_and_two_processes(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "benchmark.py"), "--tiny", "--steps", "1",
                           "--warmup", "0", "--algorithms", "fomaml", "--train-languages", "en,it",
                           "--processes", "1,2", "--json", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert [(r["method"], r["processes"], r["tasks_per_step"]) for r in rows] == [
        ("REFERENCE naive higher MAML (all)", 1, 1), ("fomaml", 1, 2), ("fomaml", 2, 4)]
    assert all(r["tasks_per_s"] > 0 and r["seconds_per_step"] > 0 for r in rows)
    assert all(r["throughput_vs_reference"] > 0 for r in rows)
    table = [line for line in proc.stdout.splitlines() if line.startswith("| fomaml |")]
    assert len(table) == 2  # the 2-process row is printed once: by the main process, in the merged table
