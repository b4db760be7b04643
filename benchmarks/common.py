"""Shared helpers: best-of-k timing, this machine's reference rates, the results table."""

from __future__ import annotations

import math
import os
import platform
import time
from pathlib import Path
from typing import Callable

import torch

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"


def best_time(fn: Callable[[], object], repeat: int = 3, warmup: int = 1) -> float:
    """Best wall time of ``repeat`` calls after ``warmup`` untimed calls (seconds)."""
    for _ in range(warmup):
        fn()
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def per_call(fn: Callable[[], object], budget: float = 0.2) -> float:
    """Mean seconds per call of ``fn``, called until ``budget`` seconds have passed (>= once)."""
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= budget:
            return elapsed / calls


def interleaved(
    versions: dict[str, Callable[[], object]], rounds: int, budget: float = 0.2, slow: float = 3.0
) -> dict[str, float]:
    """Best seconds per call of each version over ``rounds`` interleaved rounds.

    Each round times every version once (:func:`per_call`, ``budget`` seconds), so a busy moment
    of a shared machine spoils one round of all versions, not one version; a version slower than
    ``slow`` seconds per call is timed in the first round only. Warm up the versions first.
    """
    best = dict.fromkeys(versions, math.inf)
    for r in range(rounds):
        for name, fn in versions.items():
            if r == 0 or best[name] <= slow:
                best[name] = min(best[name], per_call(fn, budget))
    return best


def relative_difference(out: torch.Tensor, want: torch.Tensor) -> float:
    """``max |out - want| / max |want|`` (both cast to float64)."""
    want = want.double()
    return float((out.double() - want).abs().max() / want.abs().max().clamp_min(1e-300))


def matmul_rate(n: int = 4096, repeat: int = 3) -> float:
    """float32 matrix-product rate (flop/s) of an ``n x n`` by ``n x n`` product."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
    out = torch.empty(n, n)
    return 2 * n**3 / best_time(lambda: torch.mm(a, b, out=out), repeat)


def exp_rate(n: int = 1 << 24, repeat: int = 5) -> float:
    """float32 ``torch.exp`` rate (numbers/s) on ``n`` numbers into a preallocated output."""
    a = -10 * torch.rand(n, generator=torch.Generator().manual_seed(0))
    out = torch.empty_like(a)
    return n / best_time(lambda: torch.exp(a, out=out), repeat)


def _cpu_model() -> str:
    # Imported here, not at the top: figure 7's baseline child imports this module with the
    # baseline's mdiff on its path, which has no ``mdiff.data.cpu``.
    from tools.machine import cpu

    return cpu()[1] or platform.processor() or platform.machine()


def _blas() -> str:
    config = torch.__config__.show()
    for name in ("BLAS_INFO=", "LAPACK_INFO="):
        if name in config:
            return config.split(name, 1)[1].split(",", 1)[0]
    return "unknown"


def machine() -> dict:
    """What the numbers were measured on (cores, threads, BLAS, load average)."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": _blas(),
        "python": platform.python_version(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def row(figure, case, measured, reference, ratio=None, target=None, met=None, **extra) -> dict:
    """One line of the results table (``measured``/``reference`` are display strings)."""
    return {
        "figure": figure,
        "case": case,
        "measured": measured,
        "reference": reference,
        "ratio": ratio,
        "target": target,
        "met": met,
        **extra,
    }


COLUMNS = ("figure", "case", "measured", "reference", "ratio", "target", "met")


def verdict(met: bool | None) -> str:
    """``met``, ``not met``, or ``no verdict`` (a target whose measurement could not be made)."""
    return "no verdict" if met is None else ("met" if met else "not met")


def _cell(r: dict, key: str) -> str:
    value = r.get(key)
    if key == "met" and (value is not None or r.get("target") is not None):
        return verdict(value)
    if value is None:
        return "-"
    if key == "ratio" and isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def table(rows: list[dict]) -> str:
    """The rows as a plain-text table (also valid Markdown)."""
    cells = [[_cell(r, k) for k in COLUMNS] for r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(COLUMNS)]

    def line(parts):
        return "| " + " | ".join(p.ljust(w) for p, w in zip(parts, widths)) + " |"

    return "\n".join([line(COLUMNS), line(["-" * w for w in widths]), *map(line, cells)])
