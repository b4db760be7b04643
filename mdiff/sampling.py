"""Samplers of the probability-flow ODE and the reverse SDE from ``T`` down to ``0``: schedule
first, a score, start points ``x`` ``(n, d)``, decreasing times ``ts`` (may end at exactly 0)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import torch
from torch import Tensor

from . import _checks as check
from ._checks import Score

METHODS = ("euler", "heun", "exponential", "exponential-2m")


def _coef(fn, t: float) -> float:
    return float(fn(t))  # a schedule's method reads a float as float64


def _tabulated(schedule, score: Score, times: list[float]):
    """``(schedule, score)`` for one run on the grid ``times``: the schedule's coefficients computed
    once for the whole grid (one vectorised call each, equal to the per-time values), and, for a
    score with an ``unchecked`` entry (mdiff's exact and regularized scores), that entry fed the
    grid's ``(m, m - 1, sigma^2)``: no validation and no host sync inside the loop."""
    ts = torch.tensor(times, dtype=torch.float64)
    table = {name: getattr(schedule, name)(ts).tolist() for name in ("m", "sigma", "f", "g2")}
    index = {t: i for i, t in enumerate(times)}

    def lookup(name):
        values, exact = table[name], getattr(schedule, name)
        return lambda t: values[index[t]] if t in index else float(exact(t))

    grid = SimpleNamespace(T=schedule.T, **{name: lookup(name) for name in table})
    unchecked = getattr(score, "unchecked", None)
    if unchecked is None:
        return grid, score
    m, sigma = table["m"], table["sigma"]
    coef = {t: (m[i], m[i] - 1.0, sigma[i] ** 2) for t, i in index.items()}
    return grid, lambda x, t: unchecked(x, *coef[t]) if t in coef else score(x, t)


def pf_drift(schedule, score: Score, x: Tensor, t: float) -> Tensor:
    """Probability-flow velocity ``dx/dt = f(t) x - g(t)^2 s(x, t) / 2``."""
    f, half_g2 = _coef(schedule.f, t), 0.5 * _coef(schedule.g2, t)
    s = score(x, t)
    return torch.add(f * x, s, alpha=-half_g2) if f else s * -half_g2  # VE: f = 0


def _lam(schedule, t: float) -> float:
    """``lambda(t) = log(m(t) / sigma(t))``, the log signal-to-noise ratio (inf at ``t = 0``)."""
    s = _coef(schedule.sigma, t)
    return float("inf") if s == 0 else math.log(_coef(schedule.m, t) / s)


def _extrapolate(schedule, den: Tensor, t: float, t_next: float, memory: dict) -> Tensor:
    """DPM-Solver++(2M) denoiser ``D + (D - D_prev) h / (2 h_prev)``, steps ``h`` in ``lambda``."""
    lam, lam_next = _lam(schedule, t), _lam(schedule, t_next)
    prev = memory.get("prev")
    memory["prev"] = (den, lam)
    if prev is None or math.isinf(lam_next):
        return den
    den_prev, lam_prev = prev
    return den + (den - den_prev) * ((lam_next - lam) / (2 * (lam - lam_prev)))


def exponential_step(schedule, score: Score, x, t: float, t_next: float, memory=None) -> Tensor:
    """Denoiser-form step: ``D = (x + sigma^2 s)/m``, ``x' = m' D + (sigma'/sigma)(x - m D)``.

    Exact when the score is that of a single Gaussian centred at ``m D`` (one-hot weights);
    for VP it is the DDIM update (Song, Meng, Ermon 2021). With ``memory`` (the method
    ``"exponential-2m"``), ``D`` is first extrapolated from the previous step.
    """
    m, s = _coef(schedule.m, t), _coef(schedule.sigma, t)
    m1, s1 = _coef(schedule.m, t_next), _coef(schedule.sigma, t_next)
    den = (x + s * s * score(x, t)) / m  # Tweedie: the denoiser from the score
    if memory is not None:  # 2M: extrapolate the denoiser in lambda
        den = _extrapolate(schedule, den, t, t_next, memory)
    return m1 * den + (s1 / s) * (x - m * den)  # keep the noise part, rescale to sigma(t_next)


def ode_step(schedule, score: Score, x, t: float, t_next: float, method: str, memory: dict):
    """One step of the probability-flow ODE from ``t`` to ``t_next`` with ``method``."""
    if method == "exponential":
        return exponential_step(schedule, score, x, t, t_next)
    if method == "exponential-2m":  # memory carries the previous denoiser
        return exponential_step(schedule, score, x, t, t_next, memory)
    h = t_next - t  # negative: the ODE runs backwards in time
    d1 = pf_drift(schedule, score, x, t)  # Euler predictor
    x_euler = torch.add(x, d1, alpha=h)  # x + h d1
    if method == "euler" or t_next == 0:  # the drift is singular at t = 0: last step is Euler
        return x_euler
    d2 = pf_drift(schedule, score, x_euler, t_next)  # Heun corrector: the trapezoidal rule
    return torch.add(x, d1.add_(d2), alpha=0.5 * h)  # x + h (d1 + d2) / 2


def probability_flow(
    schedule, score: Score, x: Tensor, ts, *, method: str = "heun", return_path: bool = False
) -> Tensor:
    """Integrate the probability-flow ODE ``dx/dt = f x - g^2 s(x, t) / 2`` along ``ts``.

    ``method``: ``"euler"``, ``"heun"`` (its last step to ``t = 0`` is Euler), ``"exponential"``
    (exact once the weights are one-hot) or ``"exponential-2m"`` (DPM-Solver++(2M): order 2 at one
    score evaluation per step). Source: Song et al. 2021; Karras et al. 2022; Lu et al. 2022.

    Returns:
        Final points ``(n, d)``, or the path ``(len(ts), n, d)`` if ``return_path``.
    """
    check.one_of(method, "method", METHODS)
    times = check.time_grid(schedule, ts)
    check.start(x)
    grid, lean = _tabulated(schedule, score, times)  # checked once here, not per step
    path, memory = ([x] if return_path else None), {}
    for t, t_next in zip(times[:-1], times[1:]):
        x = ode_step(grid, lean, x, t, t_next, method, memory)
        if return_path:
            path.append(x)
    check.finite(x, "the sampler's result")  # one check per run
    return torch.stack(path) if return_path else x


def euler_maruyama(
    schedule, score: Score, x: Tensor, ts, *, generator=None, return_path: bool = False
) -> Tensor:
    """Euler-Maruyama for the reverse SDE ``dX = [f X - g^2 s(X, t)] dt + g dW`` (Anderson 1982).

    ``x <- x - h (f x - g^2 s) + sqrt(g^2 h) xi``, ``h = t_k - t_{k+1}`` (Song et al. 2021).

    Returns:
        Final points ``(n, d)``, or the path ``(len(ts), n, d)`` if ``return_path``.
    """
    times = check.time_grid(schedule, ts)
    check.start(x)
    check.generator(generator)
    grid, lean = _tabulated(schedule, score, times)  # checked once here, not per step
    path = [x] if return_path else None
    for t, t_next in zip(times[:-1], times[1:]):
        h = t - t_next  # positive step size, backwards in time
        f, g2 = _coef(grid.f, t), _coef(grid.g2, t)
        drift = f * x - g2 * lean(x, t)  # reverse-time drift at t
        xi = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        x = x - h * drift + (g2 * h) ** 0.5 * xi  # (n, d)
        if return_path:
            path.append(x)
    check.finite(x, "the sampler's result")  # one check per run
    return torch.stack(path) if return_path else x
