"""Figure 10: float32 accuracy of the empirical score near the data, against float64.

VP, the paper's 20 points, and ``DRAWS`` points per training point drawn from its noised law at
each ``t`` (``m(t) y_n + sigma(t) z``, where a sampler meets them). Both scores see the same
numbers: the points and the training set are rounded to float32 once, and the float64 reference
works on exactly those values, so the error is the float32 computation's alone (rounding the
data is the input's error, not the kernel's). Error per point ``|s32 - s64| / |s64|``; the table
gives the largest and the median. Target (issue 18): at most 1e-3 at every ``t >= 1e-6``.
"""

from __future__ import annotations

import torch

import mdiff

from .common import row

TIMES = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
TARGET = 1e-3
DRAWS, QUICK_DRAWS = 50, 5


def relative_errors(schedule, data32, t: float, draws: int, seed: int = 0) -> torch.Tensor:
    """``|s32 - s64| / |s64|`` ``(draws N,)`` at points drawn near the data at time ``t``."""
    data = data32.double()  # the float32 training set, exactly
    tt = torch.tensor(t, dtype=torch.float64)
    m, s = schedule.m(tt), schedule.sigma(tt)
    z = torch.randn(draws * len(data), data.shape[1], generator=torch.Generator().manual_seed(seed))
    x32 = (m * data.repeat(draws, 1) + s * z.double()).float()  # (draws N, d)
    s32 = mdiff.empirical_score(schedule, data32)(x32, t).double()
    s64 = mdiff.empirical_score(schedule, data)(x32.double(), t)
    return (s32 - s64).norm(dim=1) / s64.norm(dim=1)


def accuracy_rows(quick: bool = False) -> list[dict]:
    """Figure 10: one row per ``t``, the largest relative error against the 1e-3 target."""
    vp, data32 = mdiff.VP(), mdiff.paper_points(torch.float32)
    draws = QUICK_DRAWS if quick else DRAWS
    rows = []
    for t in TIMES:
        err = relative_errors(vp, data32, t, draws)
        worst = float(err.max())
        rows.append(
            row(
                "10 float32 accuracy",
                f"VP, paper points, t={t:g}, {len(err)} points near the data",
                f"max rel. error {worst:.2e}",
                f"median {float(err.median()):.2e} (float64 reference)",
                None,
                f"<= {TARGET:g}",
                worst <= TARGET,
                t=t,
                max_relative_error=worst,
                median_relative_error=float(err.median()),
            )
        )
    return rows
