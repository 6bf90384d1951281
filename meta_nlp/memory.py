"""Peak memory on the CPU (resident set), for run records (results.json) and scripts/benchmark.py.

Linux keeps a resettable peak (VmHWM), so each run of a study, which runs many in one process, gets its own
peak; elsewhere only the process's lifetime peak (ru_maxrss) exists."""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
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


def release_free_memory() -> None:
    """Hand the C allocator's free memory back to the system: glibc's malloc_trim, which frees unused pages of every
    arena (elsewhere nothing). Threads that score episodes side by side allocate from arenas of their own and cannot
    reuse what the main thread freed after training, nor training what they freed; without it the default job's peak
    was training's plus scoring's (7.5 GB, against 3.6 GB before the threads; results.md "twenty-sixth measurements")."""
    trim = malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def malloc_trim():
    """glibc's malloc_trim, or None where the C library has none (macOS, musl)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
