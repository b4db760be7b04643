"""Regularized versions of the empirical score (Baptista et al. 2025, Sec. 4)."""

from __future__ import annotations

import math

from torch import Tensor

from . import _checks as check
from ._checks import Score
from .kernel import nonsingular, prepared_like, residual
from .scores import _checked


def tikhonov_score(schedule, data: Tensor, c: float) -> Score:
    """Minimizer of the Tikhonov-regularized empirical loss with ``Gamma = (c / sigma^2) I``.

    ``s_c = (I + Gamma)^{-1} s^N = (m xbar - x) / (sigma^2 + c)``: same weights as the
    empirical score, bounded as ``t -> 0``. Source: Baptista et al. 2025, Tikhonov minimizer.

    Returns:
        A score ``score(x, t)`` returning a tensor shaped like ``x``.
    """
    data = check.data(data)
    c = check.positive(c, "c", zero=True)
    cache: dict = {}

    def unchecked(x: Tensor, m, m1, var) -> Tensor:  # the samplers' entry: checked once per run
        res, _ = residual(prepared_like(cache, data, x), x, m, m1, var)  # m xbar - x
        return res / nonsingular(var + c)  # c > 0: defined at t = 0 too

    return _checked(schedule, data, unchecked)


def empirical_bayes_score(schedule, data: Tensor, tau: float) -> Score:
    """Empirical score with a floored density, ``s_tau = grad p_hat / max(p_hat, tau)``.

    ``p_hat_t(x) = sum_n exp(-|x - m y_n|^2 / (2 sigma^2))`` is the unnormalised kernel sum (the
    authors' convention), so ``s_tau = min(1, p_hat / tau) s^N``: damped where ``p_hat < tau``.
    Source: Baptista et al. 2025, regularization promoting asymptotic consistency.

    Returns:
        A score ``score(x, t)`` returning a tensor shaped like ``x``.
    """
    data = check.data(data)
    log_tau = math.log(check.positive(tau, "tau"))
    cache: dict = {}

    def unchecked(x: Tensor, m, m1, var) -> Tensor:
        prep = prepared_like(cache, data, x)
        res, lse = residual(prep, x, m, m1, nonsingular(var), with_lse=True)
        damp = (lse - log_tau).clamp_max(0).exp()[:, None]  # (n, 1)
        return damp * res / var

    return _checked(schedule, data, unchecked)


def smoothed_score(schedule, data: Tensor, bandwidth: float) -> Score:
    """Score of the kernel-smoothed empirical law ``p_0^N * N(0, h^2 I)`` pushed forward.

    ``(m xbar_h - x) / (sigma^2 + m^2 h^2)``, weights at that variance; ``h = 0``: the empirical
    score. Source: kernel density estimation; cf. Scarvelis et al. 2023.

    Returns:
        A score ``score(x, t)`` returning a tensor shaped like ``x``.
    """
    data = check.data(data)
    h2 = check.positive(bandwidth, "bandwidth", zero=True) ** 2
    cache: dict = {}

    def unchecked(x: Tensor, m, m1, var) -> Tensor:
        var = nonsingular(var + m * m * h2)  # h > 0: defined at t = 0 too
        return residual(prepared_like(cache, data, x), x, m, m1, var)[0] / var

    return _checked(schedule, data, unchecked)
