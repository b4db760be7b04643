"""Chapter 6 checks: the bridge given both ends, the coverage of central intervals."""

from __future__ import annotations

import math

import torch

from ..schedules import VE, VP
from .feedback import _call, as_answer, compare, diagnose, fail, passed


def _bridge(schedule, x0, xT, t) -> dict:
    """``{"mean": (value, wrong), "variance": (value, wrong)}`` of ``X_t`` given ``X_T = xT``.

    ``wrong`` maps the message of a typical slip to its value.
    """
    T = schedule.T
    m, s, mT, sT = (
        float(v) for v in (schedule.m(t), schedule.sigma(t), schedule.m(T), schedule.sigma(T))
    )
    gain = mT * s * s / (m * sT * sT)
    var = s * s * (1 - (s * mT / (m * sT)) ** 2)
    mean = m * x0 + gain * (xT - mT * x0)
    means = {
        "this is the probability-flow path; the bridge mean moves like sigma(t)^2, "
        "not sigma(t): m x0 + (m(T) sigma^2 / (m sigma(T)^2)) (xT - m(T) x0)": (
            m * x0 + (s / sT) * (xT - mT * x0)
        ),
        "missing the factor m(T) / m(t) (VE hides it, m = 1)": (
            m * x0 + (s * s / (sT * sT)) * (xT - mT * x0)
        ),
        "sign error: the mean moves from m(t) x0 towards xT": m * x0 - gain * (xT - mT * x0),
    }
    variances = {
        "this is the variance of X_t given X_0 only; knowing X_T = xT reduces it to "
        "sigma(t)^2 (1 - rho(t)^2 / rho(T)^2)": s * s,
        "use rho = sigma / m in the bracket: 1 - rho(t)^2 / rho(T)^2": s * s * (1 - (s / sT) ** 2),
        "return the variance, not the standard deviation": math.sqrt(var),
    }
    if T != 1:  # the end time hard-coded as 1
        m1, s1 = float(schedule.m(1.0)), float(schedule.sigma(1.0))
        pinned = f"the bridge ends at the schedule's final time schedule.T = {T:g}, not at 1"
        means[pinned] = m * x0 + (m1 * s * s / (m * s1 * s1)) * (xT - m1 * x0)
        variances[pinned] = s * s * (1 - (s * m1 / (m * s1)) ** 2)
    return {"mean": (mean, means), "variance": (var, variances)}


def check_bridge(fn) -> bool:
    """Chapter 6: ``fn(schedule, x0, xT, t)`` -> ``(mean, var)`` of ``X_t`` given ``X_T = xT``.

    For data ``delta(x0)`` (the single-Gaussian score), the reverse SDE from ``xT`` has the law
    of the forward process conditioned on both ends: mean
    ``m(t) x0 + (m(T) sigma(t)^2 / (m(t) sigma(T)^2)) (xT - m(T) x0)`` and variance
    ``sigma(t)^2 (1 - rho(t)^2 / rho(T)^2)`` in each coordinate; on VP, VE and VP with T = 2.
    Names the probability-flow
    path in place of the mean, a missing ``m(T)/m(t)``, the unconditioned variance, ``sigma``
    in place of ``rho`` and a standard deviation in place of the variance.
    """
    name = "bridge"
    gen = torch.Generator().manual_seed(62)
    x0 = torch.tensor([0.7, -1.2], dtype=torch.float64)
    xT = 2 * torch.randn(6, 2, generator=gen, dtype=torch.float64)
    cases = [(VP(), (0.7, 0.3, 0.01)), (VE(), (0.7, 0.3, 0.01)), (VP(T=2.0), (1.5, 0.3))]
    for schedule, times in cases:  # the last has T = 2: use schedule.T, not 1
        for t in times:
            want = _bridge(schedule, x0, xT, t)
            result = _call(fn, name, schedule, x0, xT, t)
            if not isinstance(result, (tuple, list)) or len(result) != 2:
                fail(f"{name} should return a pair (mean, var), got {type(result).__name__}")
            where = f"({type(schedule).__name__}, t = {t:g})"
            where = where if schedule.T == 1 else f"{where[:-1]}, T = {schedule.T:g})"
            shapes = (f"xT's {tuple(xT.shape)}", "one number (the same in every coordinate)")
            for what, raw, shape in zip(("mean", "variance"), result, shapes):
                value, wrong = want[what]
                label = f"{name}: the {what}"
                got = as_answer(raw, f"{label} {where}", value, shape=shape)
                compare(got, value, label, where=where, rtol=1e-10, atol=1e-12, variants=wrong)
    return passed(name)


def _coverage(samples, truth, level):
    q = torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=samples.dtype)
    lo, hi = torch.quantile(samples, q, dim=0)
    return ((truth >= lo) & (truth <= hi)).double().mean().item()


def check_interval_coverage(fn) -> bool:
    """Chapter 6: ``fn(samples, truth, level=0.9)`` -> fraction of central intervals covering truth.

    ``samples`` has shape ``(S, n, d)`` (S posterior samples for each of n problems), ``truth``
    shape ``(n, d)``; the interval of each coordinate runs from the ``(1 - level)/2`` to the
    ``(1 + level)/2`` sample quantile. Names the quantiles ``1 - level`` and ``level``, a
    count instead of a fraction, quantiles over the wrong axis, and a tensor in place of a number.
    """
    name = "interval_coverage"
    gen = torch.Generator().manual_seed(63)
    samples = torch.randn(400, 50, 4, generator=gen, dtype=torch.float64)
    cases = [
        (samples, torch.randn(50, 4, generator=gen, dtype=torch.float64), 0.9),
        (samples, 0.7 * torch.randn(50, 4, generator=gen, dtype=torch.float64), 0.5),
        (0.01 * samples, torch.randn(50, 4, generator=gen, dtype=torch.float64), 0.9),
    ]
    for s, truth, level in cases:
        want = _coverage(s, truth, level)
        variants = {
            "use the (1 - level)/2 and (1 + level)/2 quantiles: level is the probability "
            "inside the interval": (
                _coverage(s, truth, 1 - 2 * (1 - level)) if level > 0.5 else None
            ),
            "return a fraction, not a count: divide by the number of (problem, coordinate) pairs": (
                want * truth.numel()
            ),
        }
        diagnose(
            fn,
            name,
            (s, truth),
            torch.tensor(want, dtype=torch.float64),
            kwargs={"level": level},
            where=f"at level = {level:g}",
            rtol=0,
            atol=0.015,
            variants=variants,
            hint="Use the keyword level.",
            shape="one number: return the fraction over all problems and coordinates (take the "
            "mean)",
            advice="quantiles over the samples, dim=0, one interval per problem and coordinate",
        )
    return passed(name)
