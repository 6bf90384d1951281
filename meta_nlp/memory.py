"""Peak memory on the CPU (resident set), for run records (results.json) and scripts/benchmark.py.

Linux keeps a resettable peak (VmHWM), so each run of a study, which runs many in one process, gets its own
peak; elsewhere only the process's lifetime peak (ru_maxrss) exists."""
from __future__ import annotations

import resource
import sys
from pathlib import Path

MIB = 1024 * 1024


def current_rss_bytes() -> int:
    try:
        import psutil
        return psutil.Process().memory_info().rss
    except ImportError:
        return proc_status_kib("VmRSS") * 1024


def proc_status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def ru_maxrss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux


def reset_peak_rss() -> bool:
    """Reset Linux's VmHWM (clear_refs 5); False where the kernel or OS does not allow it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        proc_status_kib("VmHWM")
        return True
    except (OSError, KeyError):
        return False


def run_peak_mib() -> int:
    """Peak resident memory since the last `reset_peak_rss()` (the run's), in MiB; the process's peak where it
    cannot be reset."""
    try:
        return proc_status_kib("VmHWM") // 1024
    except (OSError, KeyError):
        return ru_maxrss_bytes() // MIB
