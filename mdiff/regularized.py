"""Regularized versions of the empirical score (Baptista et al. 2025, Sec. 4)."""

from __future__ import annotations

import math

from torch import Tensor

from .scores import Score, check_data, check_x, mean_and_var, posterior_mean, prepared_like


def _check_nonnegative(name: str, value: float, strict: bool = False) -> float:
    value = float(value)
    bad = not math.isfinite(value) or value < 0 or (strict and value == 0)
    if bad:
        expected = "a positive finite number" if strict else "a finite number >= 0"
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return value


def tikhonov_score(schedule, data: Tensor, c: float) -> Score:
    """Minimizer of the Tikhonov-regularized empirical loss with ``Gamma = (c / sigma^2) I``.

    ``s_c = (I + Gamma)^{-1} s^N = (m xbar - x) / (sigma^2 + c)``: same weights as the
    empirical score, bounded as ``t -> 0``. Source: Baptista et al. 2025, Tikhonov minimizer.

    Returns:
        A score ``score(x, t)`` returning a tensor shaped like ``x``.
    """
    data = check_data(data)
    c = _check_nonnegative("c", c)
    cache: dict = {}

    def score(x: Tensor, t) -> Tensor:
        check_x(x, data.shape[1])
        m, var = mean_and_var(schedule, x, t)
        xbar, _ = posterior_mean(prepared_like(cache, data, x), x, m, var)
        return (m * xbar - x) / (var + c)

    return score


def empirical_bayes_score(schedule, data: Tensor, tau: float) -> Score:
    """Empirical score with a floored density, ``s_tau = grad p_hat / max(p_hat, tau)``.

    ``p_hat_t(x) = sum_n exp(-|x - m y_n|^2 / (2 sigma^2))`` is the unnormalised kernel sum
    (the authors' convention), so ``s_tau = min(1, p_hat / tau) s^N``: unchanged where the
    kernel sum exceeds ``tau``, damped in low-density regions.
    Source: Baptista et al. 2025, regularization promoting asymptotic consistency.

    Returns:
        A score ``score(x, t)`` returning a tensor shaped like ``x``.
    """
    data = check_data(data)
    log_tau = math.log(_check_nonnegative("tau", tau, strict=True))
    cache: dict = {}

    def score(x: Tensor, t) -> Tensor:
        check_x(x, data.shape[1])
        m, var = mean_and_var(schedule, x, t)
        xbar, lse = posterior_mean(prepared_like(cache, data, x), x, m, var, with_lse=True)
        damp = (lse - log_tau).clamp_max(0).exp()[:, None]
        return damp * (m * xbar - x) / var

    return score


def smoothed_score(schedule, data: Tensor, bandwidth: float) -> Score:
    """Score of the kernel-smoothed empirical law ``p_0^N * N(0, h^2 I)`` pushed forward.

    The marginal is ``(1/N) sum_n N(m y_n, (sigma^2 + m^2 h^2) I)``, so the score is
    ``(m xbar_h - x) / (sigma^2 + m^2 h^2)`` with weights at the inflated variance.
    ``h = 0`` is the empirical score. Source: kernel density estimation; cf. Scarvelis et al. 2023.

    Returns:
        A score ``score(x, t)`` returning a tensor shaped like ``x``.
    """
    data = check_data(data)
    h2 = _check_nonnegative("bandwidth", bandwidth) ** 2
    cache: dict = {}

    def score(x: Tensor, t) -> Tensor:
        check_x(x, data.shape[1])
        m, var = mean_and_var(schedule, x, t)
        var = var + m * m * h2
        xbar, _ = posterior_mean(prepared_like(cache, data, x), x, m, var)
        return (m * xbar - x) / var

    return score
