"""Exact scores: Gaussian data and the empirical (Gaussian-mixture) minimizer; each a callable
``score(x, t)`` returning a tensor shaped like ``x``, in ``x``'s dtype and device."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from . import _checks as check
from ._checks import Score
from .kernel import (
    Prepared,
    _direct_logits,
    _tracked,
    logit_blocks,
    mean_and_var,
    nonsingular,
    posterior_mean,
    prepare,
    prepared_like,
    residual,
)
from .schedules import coefficients


def weights(prep: Prepared, x: Tensor, m: Tensor, var: Tensor) -> Tensor:
    """Posterior weights ``w = softmax_n(l_n)``, shape ``(n, N)``; each row sums to one."""
    blocks = logit_blocks(prep, x, m, var)
    if _tracked(x, m, var, prep.table):
        return torch.cat([torch.softmax(logits, 1) for _, logits in blocks])  # (n, N)
    out = x.new_empty(x.shape[0], prep.table.shape[1])  # (n, N)
    for rows, logits in blocks:
        torch.softmax(logits, 1, out=out[rows])
    return out


def log_sum_exp(prep: Prepared, x: Tensor, m: Tensor, var: Tensor) -> Tensor:
    """``log sum_n exp(-|x - m y_n|^2 / (2 var))`` ``(n,)``, the top logit formed directly."""
    blocks = []
    for rows, logits in logit_blocks(prep, x, m, var):
        top, k = logits.max(1, keepdim=True)  # (r, 1)
        rest = torch.log(torch.exp(logits - top).sum(1, keepdim=True))  # (r, 1), >= 0
        blocks.append((_direct_logits(prep, x[rows], m[rows], var[rows], k) + rest)[:, 0])
    return torch.cat(blocks)  # (n,)


def posterior_weights(schedule, data: Tensor, x: Tensor, t) -> Tensor:
    """Posterior weights ``w_n(x, t) = softmax_n(-|x - m y_n|^2 / (2 sigma^2))``.

    Source: Baptista et al. 2025, the empirical score-matching minimizer.

    Returns:
        Tensor of shape ``(n, N)``; each row sums to one.
    """
    data = check.data(data)
    check.points(x, data.shape[1])
    m, var = mean_and_var(schedule, x, t)
    return weights(prepare(data.to(dtype=x.dtype, device=x.device)), x, m, var)


def denoiser(schedule, data: Tensor, x: Tensor, t) -> Tensor:
    """Empirical Tweedie denoiser ``E[X_0 | X_t = x] = sum_n w_n(x, t) y_n`` (Efron 2011), a tensor
    of shape ``(n, d)``."""
    data = check.data(data)
    check.points(x, data.shape[1])
    m, var = mean_and_var(schedule, x, t)
    return posterior_mean(prepare(data.to(dtype=x.dtype, device=x.device)), x, m, var)[0]


def _checked(schedule, data: Tensor, unchecked) -> Score:
    """``score(x, t)``: checks ``x`` and ``t``, then ``unchecked(x, m, m - 1, sigma^2)``, which the
    samplers call directly (as ``score.unchecked``) with coefficients computed once per run."""

    def score(x: Tensor, t) -> Tensor:
        check.points(x, data.shape[1])
        return unchecked(x, *coefficients(schedule, x, t))

    score.unchecked = unchecked
    return score


def empirical_score(schedule, data: Tensor) -> Score:
    """Score of the time-dependent Gaussian mixture ``p_t^N = (1/N) sum_n N(m y_n, sigma^2 I)``.

    ``s^N(x, t) = (m xbar(x, t) - x) / sigma^2``, the exact minimizer of the empirical
    denoising score-matching loss. Source: Baptista et al. 2025, Sec. 2.

    Returns:
        A score ``score(x, t)`` returning a tensor shaped like ``x``.
    """
    data = check.data(data)
    cache: dict = {}

    def unchecked(x: Tensor, m, m1, var) -> Tensor:  # the samplers' entry: checked once per run
        return residual(prepared_like(cache, data, x), x, m, m1, nonsingular(var))[0] / var

    return _checked(schedule, data, unchecked)


def empirical_log_density(schedule, data: Tensor, x: Tensor, t) -> Tensor:
    """Log-density of the mixture ``p_t^N = (1/N) sum_n N(m y_n, sigma^2 I)`` at each row of ``x``.

    ``logsumexp_n(-|x - m y_n|^2 / (2 sigma^2)) - log N - (d/2) log(2 pi sigma^2)``, whose gradient
    in ``x`` is ``s^N``. Source: Baptista et al. 2025, Sec. 2.

    Returns:
        Tensor of shape ``(n,)``.
    """
    data = check.data(data)
    check.points(x, data.shape[1])
    m, var = mean_and_var(schedule, x, t)
    var = nonsingular(var, "the log-density")
    lse = log_sum_exp(prepare(data.to(dtype=x.dtype, device=x.device)), x, m, var)
    d = data.shape[1]
    return lse - math.log(data.shape[0]) - 0.5 * d * torch.log(2 * math.pi * var[:, 0])


def _gaussian(mean, cov, dtype=None) -> tuple[Tensor, Tensor, Tensor]:
    """Validated ``mean`` ``(d,)`` and the eigenpairs of a symmetric PSD ``cov`` ``(d, d)``."""
    mean = torch.as_tensor(mean) if dtype is None else torch.as_tensor(mean, dtype=dtype)
    if mean.ndim != 1 or mean.numel() == 0:
        raise ValueError(f"mean must be a finite tensor of shape (d,), got {tuple(mean.shape)}")
    mean = check.data(mean[None], "mean")[0]  # real, finite, float
    d = mean.shape[0]
    cov = torch.as_tensor(cov)
    if cov.is_complex():
        raise ValueError(f"cov must be real, got the complex dtype {cov.dtype}")
    cov = cov.to(mean.dtype)
    if cov.shape != (d, d):
        raise ValueError(f"cov must have shape ({d}, {d}), got {tuple(cov.shape)}")
    if not torch.isfinite(cov).all() or not torch.allclose(cov, cov.T, atol=1e-8, rtol=1e-6):
        raise ValueError("cov must be a finite symmetric matrix")
    lam, vec = torch.linalg.eigh(cov)
    if lam.min() < -1e-8 * max(1.0, float(lam.abs().max())):
        raise ValueError("cov must be positive semi-definite")
    return mean, lam.clamp_min(0), vec


def gaussian_score(schedule, mean: Tensor, cov: Tensor) -> Score:
    """Exact score for Gaussian data ``N(mu, C)``: ``-(m^2 C + sigma^2 I)^{-1} (x - m mu)``.

    The forward marginal is ``N(m mu, m^2 C + sigma^2 I)`` (Song et al. 2021).

    Returns:
        A score ``score(x, t)`` returning a tensor shaped like ``x``.
    """
    mean, lam, vec = _gaussian(mean, cov)
    d = mean.shape[0]

    def score(x: Tensor, t) -> Tensor:
        check.points(x, d)
        m, var = mean_and_var(schedule, x, t)
        u, lm, mu = vec.to(x), lam.to(x), mean.to(x)
        coords = (x - m * mu) @ u
        return -(coords / nonsingular(m * m * lm + var)) @ u.T

    return score


def gaussian_log_density(schedule, mean: Tensor, cov: Tensor, x: Tensor, t) -> Tensor:
    """``log N(x; m mu, m^2 C + sigma^2 I)`` for each row of ``x``; shape ``(n,)``."""
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise ValueError("x must be a real floating-point tensor of shape (n, d)")
    mean, lam, vec = _gaussian(mean, cov, x.dtype)
    d = mean.shape[0]
    check.points(x, d)
    m, var = mean_and_var(schedule, x, t)
    ev = nonsingular(m * m * lam + var, "the log-density")
    coords = (x - m * mean) @ vec
    return -0.5 * ((coords**2 / ev).sum(1) + torch.log(ev).sum(1) + d * math.log(2 * math.pi))


def _conditioning(data_y: Tensor, y, joint: bool):
    """``(n_y, sq)``, ``sq(rows) = |y_r - y_n|^2`` ``(r, N)``; ``y`` in ``data_y`` or joint."""
    k = data_y.shape[1]
    y = torch.as_tensor(y, dtype=data_y.dtype, device=data_y.device)
    y = y[None] if y.ndim == 1 else y
    if y.ndim != 2 or y.shape[1] != k or y.shape[0] == 0:
        raise ValueError(f"y must have shape ({k},) or (n, {k}), got {tuple(y.shape)}")
    if not torch.isfinite(y).all():
        raise ValueError("y must be finite (found NaN or inf)")

    def sq(rows: slice) -> Tensor:
        exact = "donot_use_mm_for_euclid_dist"  # exact zeros for equal values
        return torch.cdist(y[rows], data_y, compute_mode=exact).square()  # (r, N)

    step = max(1, (1 << 20) // data_y.shape[0])  # rows of y compared at a time
    blocks = [] if joint else range(0, y.shape[0], step)
    if not all((sq(slice(i, i + step)) == 0).any(1).all() for i in blocks):
        raise ValueError(
            "y must equal one of the training values data_y when joint=False (the empirical "
            "conditional law is defined only there); use joint=True for other y"
        )
    return y.shape[0], sq


def _conditional_bias(sq, per_row: bool, joint: bool, m: Tensor, var: Tensor):
    """The conditioning as a logit bias, built for each row block from ``sq(rows)``."""

    def bias(rows: slice, logits: Tensor) -> None:
        d2 = sq(rows if per_row else slice(None))  # (r, N) or (1, N)
        if joint:  # the y-part of the joint kernel, m^2 |y - y_n|^2 / (2 sigma^2)
            mr, vr = (v[rows] if isinstance(v, Tensor) else v for v in (m, var))
            logits.sub_(d2.to(logits) * (mr**2 / (2 * vr)))
        else:  # only the pairs with y_n = y
            logits.masked_fill_(d2 != 0, -math.inf)

    return bias


def conditional_empirical_score(
    schedule, data_x: Tensor, data_y: Tensor, y, *, joint: bool = False
) -> Score:
    """Minimizer of the conditional empirical DSM loss for pairs ``(x_n, y_n)``, at one ``y``.

    ``s(x, t) = (m xbar - x) / sigma^2`` with ``xbar = sum_n w_n x_n``. ``joint=False`` (only ``x``
    noised): ``w_n ∝ 1[y_n = y] exp(-|x - m x_n|^2 / (2 sigma^2))``, defined only for ``y`` equal to
    a training ``y_n``. ``joint=True`` (``x`` and ``y`` noised together): the ``x``-score of
    ``p_t^N(x, y_t) ∝ sum_n N(x; m x_n, sigma^2 I) N(y_t; m y_n, sigma^2 I)`` at ``y_t = m(t) y``,
    the noise-free image of the clean ``y``, so ``w_n ∝ exp(-(|x - m x_n|^2 + m^2 |y - y_n|^2) /
    (2 sigma^2))``, defined for every ``y``. Source: Baptista et al. 2025, the conditional setting.

    Args:
        y: conditioning value, shape ``(k,)`` for every row of ``x``, or ``(n, k)``, one per row.

    Returns:
        A score ``score(x, t)`` returning a tensor shaped like ``x``.
    """
    data_x, data_y = check.data(data_x, "data_x"), check.data(data_y, "data_y")
    if data_x.shape[0] != data_y.shape[0]:
        raise ValueError(
            f"data_x and data_y must have the same number of rows N, got {data_x.shape[0]} "
            f"and {data_y.shape[0]}"
        )
    n_y, sq = _conditioning(data_y, y, joint)
    cache: dict = {}

    def unchecked(x: Tensor, m, m1, var) -> Tensor:
        if n_y not in (1, x.shape[0]):
            raise ValueError(f"y has {n_y} rows: x must have 1 or that many rows")
        bias = _conditional_bias(sq, n_y > 1, joint, m, nonsingular(var))
        return residual(prepared_like(cache, data_x, x), x, m, m1, var, bias)[0] / var

    return _checked(schedule, data_x, unchecked)
