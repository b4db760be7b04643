"""Figure 1: the empirical score against this machine's limit (the peers are in ``peers.py``).

The time of one call ``score(x, t)`` against ``max(4 M N d / matmul rate, M N / exp rate)``, the
time two ``(M, d) x (d, N)``-sized products and ``M N`` exponentials take at the rates measured
in the same run (float32 rates for both dtypes: float64 products run at half the float32 rate,
so float64 cannot pass 0.5 where the products dominate). This is the *dense* limit: an algorithm
that skips work (top-k where the weights are one-hot, figure 9) may pass it.
"""

from __future__ import annotations

import math

import torch

import mdiff

from .common import best_time, exp_rate, matmul_rate, row

SHAPES = [(1000, 60000, 784), (10000, 10000, 2)]
QUICK_SHAPES = [(64, 3000, 64), (600, 600, 2)]
TARGET = 0.8  # fraction of the dense limit, float32 (issue 18)
T = 0.5  # sigma(0.5) = 1.4 for VE: the weights are spread, nothing is cut short


def problem(M: int, N: int, d: int, dtype, seed: int = 0, t: float = T):
    """Gaussian training set ``(N, d)`` and ``M`` training points noised to time ``t`` (VE)."""
    g = torch.Generator().manual_seed(seed)
    schedule = mdiff.VE()
    data = torch.randn(N, d, generator=g, dtype=dtype)
    idx = torch.randint(N, (M,), generator=g)
    noise = torch.randn(M, d, generator=g, dtype=dtype)
    return schedule, data, data[idx] + float(schedule.sigma(t)) * noise


def dense_limit(rates: dict, M: int, N: int, d: int) -> float:
    """Seconds two ``(M, d) x (d, N)`` products and ``M N`` exponentials take at ``rates``."""
    return max(4 * M * N * d / rates["matmul"], M * N / rates["exp"])


def measure_rates(rates: dict, quick: bool) -> dict:
    """Fill ``rates`` with this machine's float32 matmul and exp rates (best so far)."""
    rates["matmul"] = max(rates.get("matmul", 0.0), matmul_rate(512 if quick else 4096, 1))
    rates["exp"] = max(rates.get("exp", 0.0), exp_rate(1 << (16 if quick else 24), 3))
    return rates


def limit_rows(rates: dict, quick: bool = False, repeat: int = 3) -> list[dict]:
    """Figure 1: ``limit / time`` for each shape, float32 (target >= 0.8) and float64.

    ``repeat`` rounds, each measuring the two rates and then timing every case (calls adding
    up to about half a second); each figure is the best over all calls (after an untimed
    warm-up call per case), so a busy moment of a shared machine spoils a few calls, not the
    comparison. ``rates`` is filled in.
    """
    cases = {}
    for M, N, d in QUICK_SHAPES if quick else SHAPES:
        for dtype in (torch.float32, torch.float64):
            schedule, data, x = problem(M, N, d, dtype)
            score = mdiff.empirical_score(schedule, data)
            score(x, T)  # warm-up: prepares the table
            calls = min(20, max(1, int(0.5 / best_time(lambda: score(x, T), 1, 0))))  # noqa: B023
            cases[(M, N, d, dtype)] = (score, x, calls)
    best = dict.fromkeys(cases, math.inf)
    for _ in range(repeat):
        measure_rates(rates, quick)
        for case, (score, x, calls) in cases.items():
            sec = best_time(lambda: score(x, T), calls, 0)  # noqa: B023
            best[case] = min(best[case], sec)
    rows = []
    for (M, N, d, dtype), sec in best.items():
        limit = dense_limit(rates, M, N, d)
        f32 = dtype == torch.float32
        rows.append(
            row(
                "1 score vs limit",
                f"M={M} N={N} d={d} {str(dtype)[6:]}",
                f"{sec:.4g} s",
                f"limit {limit:.4g} s",
                limit / sec,
                f">= {TARGET}" if f32 else None,
                (limit / sec >= TARGET) if f32 else None,
                seconds=sec,
                limit_seconds=limit,
            )
        )
    return rows
