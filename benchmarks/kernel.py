"""Figures 1 and 2: the empirical score against this machine's limit and against simpler code.

Figure 1: the time of one call ``score(x, t)`` against ``max(4 M N d / matmul rate, M N / exp
rate)``, the time two ``(M, d) x (d, N)``-sized products and ``M N`` exponentials take at the
rates measured in the same run (float32 rates for both dtypes: float64 products run at half
the float32 rate, so float64 cannot pass 0.5 where the products dominate). Figure 2: speed-up
over an unchunked ``torch.cdist`` + ``softmax`` version and over a loop over training points.
"""

from __future__ import annotations

import math

import torch

import mdiff

from .common import best_time, exp_rate, matmul_rate, row

SHAPES = [(1000, 60000, 784), (10000, 10000, 2)]
QUICK_SHAPES = [(64, 3000, 64), (600, 600, 2)]
SPEEDUP_SHAPE = (1000, 2000, 64)
QUICK_SPEEDUP_SHAPE = (50, 100, 8)
T = 0.5  # sigma(0.5) = 1.4 for VE: the weights are spread, nothing is cut short


def problem(M: int, N: int, d: int, dtype, seed: int = 0):
    """Gaussian training set ``(N, d)`` and ``M`` noisy training points at time ``T`` (VE)."""
    g = torch.Generator().manual_seed(seed)
    schedule = mdiff.VE()
    data = torch.randn(N, d, generator=g, dtype=dtype)
    idx = torch.randint(N, (M,), generator=g)
    noise = torch.randn(M, d, generator=g, dtype=dtype)
    return schedule, data, data[idx] + float(schedule.sigma(T)) * noise


def cdist_score(schedule, data, x, t):
    """Straightforward version: all pairwise distances by ``torch.cdist``, then ``softmax``."""
    m, var = float(schedule.m(t)), float(schedule.sigma(t)) ** 2
    w = torch.softmax(-torch.cdist(x, m * data).square() / (2 * var), 1)
    return (m * (w @ data) - x) / var


def loop_score(schedule, data, x, t):
    """Reference-code version: the logits filled in by a Python loop over training points."""
    m, var = float(schedule.m(t)), float(schedule.sigma(t)) ** 2
    logits = torch.empty(x.shape[0], data.shape[0], dtype=x.dtype)
    for n in range(data.shape[0]):
        diff = x - m * data[n]
        logits[:, n] = -(diff * diff).sum(1) / (2 * var)
    w = torch.softmax(logits, 1)
    return (m * (w @ data) - x) / var


def limit_rows(rates: dict, quick: bool = False, repeat: int = 3) -> list[dict]:
    """Figure 1: ``limit / time`` for each shape, float32 (target >= 0.6) and float64.

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
    rates.update(matmul=0.0, exp=0.0)
    best = dict.fromkeys(cases, math.inf)
    for _ in range(repeat):
        rates["matmul"] = max(rates["matmul"], matmul_rate(512 if quick else 4096, 1))
        rates["exp"] = max(rates["exp"], exp_rate(1 << (16 if quick else 24), 3))
        for case, (score, x, calls) in cases.items():
            sec = best_time(lambda: score(x, T), calls, 0)  # noqa: B023
            best[case] = min(best[case], sec)
    rows = []
    for (M, N, d, dtype), sec in best.items():
        limit = max(4 * M * N * d / rates["matmul"], M * N / rates["exp"])
        f32 = dtype == torch.float32
        rows.append(
            row(
                "1 score vs limit",
                f"M={M} N={N} d={d} {str(dtype)[6:]}",
                f"{sec:.4g} s",
                f"limit {limit:.4g} s",
                limit / sec,
                ">= 0.6" if f32 else None,
                (limit / sec >= 0.6) if f32 else None,
                seconds=sec,
                limit_seconds=limit,
            )
        )
    return rows


def speedup_rows(quick: bool = False, repeat: int = 3) -> list[dict]:
    """Figure 2: time of the cdist and loop versions over ``empirical_score`` (float32).

    ``repeat`` rounds, each timing all three once (after a warm-up); best over the rounds.
    """
    M, N, d = QUICK_SPEEDUP_SHAPE if quick else SPEEDUP_SHAPE
    schedule, data, x = problem(M, N, d, torch.float32)
    score = mdiff.empirical_score(schedule, data)
    versions = {
        "ours": lambda: score(x, T),
        "cdist + softmax": lambda: cdist_score(schedule, data, x, T),
        "loop": lambda: loop_score(schedule, data, x, T),
    }
    want = score(x, T)
    err = {k: float((f() - want).abs().max() / want.abs().max()) for k, f in versions.items()}
    best = dict.fromkeys(versions, math.inf)
    for _ in range(repeat):
        for name, fn in versions.items():
            best[name] = min(best[name], best_time(fn, 1, 0))
    rows = []
    for name, target in (("cdist + softmax", None), ("loop", 10)):
        ratio = best[name] / best["ours"]
        rows.append(
            row(
                f"2 speed-up vs {name}",
                f"M={M} N={N} d={d} float32",
                f"{best['ours']:.4g} s",
                f"{best[name]:.4g} s",
                ratio,
                f">= {target}" if target else None,
                (ratio >= target) if target else None,
                relative_difference=err[name],
            )
        )
    return rows
