"""scripts/benchmark.py --tiny: the real training step timed with 1 and 2 processes (gloo), rows merged into one table;
the students of a distillation run timed against the plain student."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT

TINY = ["--tiny", "--steps", "1", "--warmup", "0", "--train-languages", "en,it"]


def run_benchmark(*flags: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "benchmark.py"), *flags],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def written_rows(proc: subprocess.CompletedProcess, out) -> list[dict]:
    """The rows of a run that succeeded and wrote --json `out`."""
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())["rows"]


@pytest.mark.slow
def test_tiny_benchmark_times_the_real_step_with_one_and_two_processes(tmp_path):
    out = tmp_path / "bench.json"
    proc = run_benchmark(*TINY, "--algorithms", "fomaml", "--processes", "1,2", "--meta-batch-size", "2", "--json", str(out))
    rows = written_rows(proc, out)
    assert [(r["method"], r["processes"], r["tasks_per_step"]) for r in rows] == [
        ("REFERENCE naive higher MAML (all)", 1, 1), ("fomaml", 1, 2), ("fomaml", 2, 4)]
    assert all(r["tasks_per_s"] > 0 and r["seconds_per_step"] > 0 for r in rows)
    assert all(r["throughput_vs_reference"] > 0 for r in rows)
    table = [line for line in proc.stdout.splitlines() if line.startswith("| fomaml |")]
    assert len(table) == 2  # the 2-process row is printed once: by the main process, in the merged table


@pytest.mark.slow
def test_tiny_benchmark_times_the_students_of_a_distillation_run_against_the_plain_student(tmp_path):
    out = tmp_path / "bench.json"
    proc = run_benchmark(*TINY, "--algorithms", "student", "student_kd", "student_metadistil", "--json", str(out))
    rows = {r["method"]: r for r in written_rows(proc, out)}
    students = [rows[m] for m in ("student", "student_kd", "student_metadistil")]  # the tiny model taught them
    assert all(r["tasks_per_s"] > 0 and r["seconds_per_step"] > 0 for r in students)
    assert all(r["step_cost_vs_student"] > 0 and r["throughput_vs_reference"] > 0 for r in students)
    assert rows["student"]["step_cost_vs_student"] == 1.0
    assert "step_cost_vs_student" not in rows["REFERENCE naive higher MAML (all)"]
    assert "| s/step vs student |" in proc.stdout


def test_student_rows_without_a_teacher_are_refused_in_one_line():
    proc = run_benchmark("--algorithms", "student_kd", timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: --algorithms student_kd: the students need --teacher")
