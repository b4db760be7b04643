"""Samplers: the probability-flow ODE and the reverse SDE, integrated from ``T`` down to ``0``.

Both take the schedule first, a score ``score(x, t)``, initial points ``x`` of shape
``(n, d)`` and a decreasing 1-D tensor of times ``ts`` that may end at exactly ``0``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .scores import Score

METHODS = ("euler", "heun", "exponential", "exponential-2m")


def check_times(schedule, ts) -> list[float]:
    """Validate a time grid: 1-D, finite, strictly decreasing, inside ``[0, T]``."""
    ts = torch.as_tensor(ts, dtype=torch.float64)
    if ts.ndim != 1 or ts.numel() < 2:
        raise ValueError(
            f"ts must be a 1-D tensor of at least 2 times, got shape {tuple(ts.shape)}"
        )
    if not torch.isfinite(ts).all():
        raise ValueError("ts must be finite")
    if not (ts[1:] < ts[:-1]).all():
        raise ValueError("ts must be strictly decreasing (from T towards 0)")
    if ts[-1] < 0 or ts[0] > schedule.T:
        raise ValueError(f"ts must lie in [0, T={schedule.T}], got [{ts[-1]:.3g}, {ts[0]:.3g}]")
    return ts.tolist()


def _check_start(x) -> None:
    if not isinstance(x, Tensor) or x.ndim != 2 or x.numel() == 0:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"x must be a non-empty tensor of shape (n, d), got {shape}")


def _coef(fn, t: float) -> float:
    return float(fn(torch.tensor(t, dtype=torch.float64)))


def pf_drift(schedule, score: Score, x: Tensor, t: float) -> Tensor:
    """Probability-flow velocity ``dx/dt = f(t) x - g(t)^2 s(x, t) / 2``."""
    return _coef(schedule.f, t) * x - 0.5 * _coef(schedule.g2, t) * score(x, t)


def _lam(schedule, t: float) -> float:
    """``lambda(t) = log(m(t) / sigma(t))``, the log signal-to-noise ratio (inf at ``t = 0``)."""
    s = _coef(schedule.sigma, t)
    return float("inf") if s == 0 else math.log(_coef(schedule.m, t) / s)


def _extrapolate(schedule, den: Tensor, t: float, t_next: float, memory: dict) -> Tensor:
    """DPM-Solver++(2M): ``D + (D - D_prev) h / (2 h_prev)``, steps ``h`` in ``lambda``.

    The denoiser is extrapolated linearly in ``lambda`` to the middle of the step, which
    makes the step second order at one evaluation; the first step and the last one (to
    ``t = 0``, where ``h`` is infinite) use ``D`` itself. Source: Lu et al. 2022, Alg. 2.
    """
    lam, lam_next = _lam(schedule, t), _lam(schedule, t_next)
    prev = memory.get("prev")
    memory["prev"] = (den, lam)
    if prev is None or math.isinf(lam_next):
        return den
    den_prev, lam_prev = prev
    return den + (den - den_prev) * ((lam_next - lam) / (2 * (lam - lam_prev)))


def _exponential_step(schedule, score: Score, x, t: float, t_next: float, memory=None) -> Tensor:
    """Denoiser-form step: ``D = (x + sigma^2 s)/m``, ``x' = m' D + (sigma'/sigma)(x - m D)``.

    Exact when the score is that of a single Gaussian centred at ``m D`` (one-hot weights);
    for VP it is the DDIM update (Song, Meng, Ermon 2021). With ``memory`` (the method
    ``"exponential-2m"``), ``D`` is first extrapolated from the previous step.
    """
    m, s = _coef(schedule.m, t), _coef(schedule.sigma, t)
    m1, s1 = _coef(schedule.m, t_next), _coef(schedule.sigma, t_next)
    den = (x + s * s * score(x, t)) / m
    if memory is not None:
        den = _extrapolate(schedule, den, t, t_next, memory)
    return m1 * den + (s1 / s) * (x - m * den)


def _step(schedule, score, x, t, t_next, method, memory):
    h = t_next - t
    if method == "exponential":
        return _exponential_step(schedule, score, x, t, t_next)
    if method == "exponential-2m":
        return _exponential_step(schedule, score, x, t, t_next, memory)
    d1 = pf_drift(schedule, score, x, t)
    x_euler = x + h * d1
    if method == "euler" or t_next == 0:  # the drift is singular at t = 0: last step is Euler
        return x_euler
    return x + 0.5 * h * (d1 + pf_drift(schedule, score, x_euler, t_next))


def probability_flow(
    schedule, score: Score, x: Tensor, ts, *, method: str = "heun", return_path: bool = False
) -> Tensor:
    """Integrate the probability-flow ODE ``dx/dt = f x - g^2 s(x, t) / 2`` along ``ts``.

    ``method``: ``"euler"`` (order 1), ``"heun"`` (order 2; its last step to ``t = 0`` is an
    Euler step), ``"exponential"`` (denoiser form, exact once the weights are one-hot; order
    1 while they change) or ``"exponential-2m"`` (the same step with the denoiser extrapolated
    from the previous step: order 2 at one score evaluation per step, DPM-Solver++(2M)).
    Source: Song et al. 2021 (probability-flow ODE); Karras et al. 2022 (Heun);
    Lu et al. 2022 (DPM-Solver++).

    Returns:
        Final points ``(n, d)``, or the path ``(len(ts), n, d)`` if ``return_path``.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    times = check_times(schedule, ts)
    _check_start(x)
    path, memory = ([x] if return_path else None), {}
    for t, t_next in zip(times[:-1], times[1:]):
        x = _step(schedule, score, x, t, t_next, method, memory)
        if return_path:
            path.append(x)
    return torch.stack(path) if return_path else x


def euler_maruyama(
    schedule, score: Score, x: Tensor, ts, *, generator=None, return_path: bool = False
) -> Tensor:
    """Euler-Maruyama for the reverse SDE ``dX = [f X - g^2 s(X, t)] dt + g dW`` (backwards).

    Step ``h = t_k - t_{k+1}``: ``x <- x - h (f x - g^2 s) + sqrt(g^2 h) xi``, all at ``t_k``.
    Source: Anderson 1982; Song et al. 2021. Randomness comes only from ``generator``.

    Returns:
        Final points ``(n, d)``, or the path ``(len(ts), n, d)`` if ``return_path``.
    """
    times = check_times(schedule, ts)
    _check_start(x)
    path = [x] if return_path else None
    for t, t_next in zip(times[:-1], times[1:]):
        h = t - t_next
        f, g2 = _coef(schedule.f, t), _coef(schedule.g2, t)
        xi = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        x = x - h * (f * x - g2 * score(x, t)) + (g2 * h) ** 0.5 * xi
        if return_path:
            path.append(x)
    return torch.stack(path) if return_path else x
