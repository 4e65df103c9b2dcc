"""Helpers shared by the benchmark scripts: timing, peak memory and ratio lines."""

from __future__ import annotations

import resource
import time
import tracemalloc
from collections.abc import Callable
from typing import Any


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(fn: Callable[[], Any], *, repeat: int = 1) -> tuple[float, float, Any]:
    """(best seconds, peak traced allocation MB during one run, result)."""
    best = float("inf")
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return best, peak / 1e6, result


def ratio_line(
    name: str, ours: float, ref: float, unit: str, *, higher_is_better: bool = False
) -> str:
    r = (ours / ref) if higher_is_better else (ref / ours)
    return f"{name}: ours {ours:.4g} {unit}, reference {ref:.4g} {unit}, ratio {r:.1f}"
