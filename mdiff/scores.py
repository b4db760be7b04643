"""Exact scores: Gaussian data and the empirical (Gaussian-mixture) minimizer.

A score is a callable ``score(x, t)`` with ``x`` of shape ``(n, d)`` and ``t`` a float or a
tensor of shape ``(n,)``; it returns a tensor shaped like ``x``, in ``x``'s dtype and device.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import torch
from torch import Tensor

Score = Callable[[Tensor, "float | Tensor"], Tensor]

# Elements of one block of logits (rows x N) when d is small: 2**20 float32 numbers are 4 MB,
# enough rows for both threads, still near the caches (see block_rows).
_BLOCK_ELEMENTS = 1 << 20
# For large d the products dominate: blocks may then take up to this fraction of the data's size.
_DATA_FRACTION = 0.25


def check_data(data, name: str = "data") -> Tensor:
    """Validate a training set: a finite, non-empty tensor of shape ``(N, d)``."""
    data = torch.as_tensor(data)
    if data.ndim != 2:
        raise ValueError(f"{name} must have shape (N, d), got shape {tuple(data.shape)}")
    if data.shape[0] == 0 or data.shape[1] == 0:
        raise ValueError(f"{name} must be non-empty with shape (N, d), got {tuple(data.shape)}")
    if not data.is_floating_point():
        data = data.to(torch.get_default_dtype())
    rows = max(1, (1 << 22) // data.shape[1])  # blocks of rows: at most 4 MB of bools at a time
    if not all(torch.isfinite(block).all() for block in data.split(rows)):
        raise ValueError(f"{name} must be finite (found NaN or inf)")
    return data


def check_x(x: Tensor, d: int, name: str = "x") -> None:
    """Validate points of shape ``(n, d)``."""
    if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[1] != d:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a tensor of shape (n, {d}), got {shape}")


def time_column(schedule, x: Tensor, t) -> Tensor:
    """``t`` (float or shape ``(n,)``) as an ``(n, 1)`` column in ``x``'s dtype, in ``[0, T]``."""
    n = x.shape[0]
    tt = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    if tt.ndim == 0:
        tt = tt.expand(n)
    elif tt.shape != (n,):
        raise ValueError(f"t must be a float or a tensor of shape ({n},), got {tuple(tt.shape)}")
    if not torch.isfinite(tt).all() or (tt < 0).any() or (tt > schedule.T).any():
        raise ValueError(f"t must lie in [0, T={schedule.T}], got values outside it")
    return tt[:, None]


def mean_and_var(schedule, x: Tensor, t) -> tuple[Tensor, Tensor]:
    """``m(t)`` and ``sigma(t)^2`` as ``(n, 1)`` columns for the rows of ``x``."""
    tt = time_column(schedule, x, t)
    return schedule.m(tt), schedule.sigma(tt) ** 2


class Prepared(NamedTuple):
    """Training set stored once per score: centre ``mu`` and ``table = [|y - mu|^2; (y - mu)^T]``.

    ``table`` has shape ``(d + 1, N)``; ``centred = table[1:].T`` is a view of shape ``(N, d)``.
    """

    mu: Tensor
    centred: Tensor
    table: Tensor


def prepare(data: Tensor) -> Prepared:
    """Centre the data and stack squared norms over it, so the logits are one matrix product.

    The table is stored feature-major (``(d + 1, N)``, rows contiguous): both products then run
    at full speed, while ``(rows, N) @ (N, d)`` with a row-major ``(N, d)`` is slow for small d.
    """
    mu = data.mean(0)
    table = data.new_empty(data.shape[1] + 1, data.shape[0])
    torch.sub(data.T, mu[:, None], out=table[1:])
    table[0] = torch.einsum("dn,dn->n", table[1:], table[1:])  # no (d, N) temporary
    return Prepared(mu, table[1:].T, table)


def prepared_like(cache: dict, data: Tensor, x: Tensor) -> Prepared:
    """The prepared training set in ``x``'s dtype and device (converted once, then cached)."""
    key = (x.dtype, x.device)
    if key not in cache:
        cache[key] = prepare(data.to(dtype=x.dtype, device=x.device))
    return cache[key]


def block_rows(n_data: int, d: int) -> int:
    """Rows per block of logits: ``_BLOCK_ELEMENTS`` numbers, or more for large ``d``.

    Small ``d``: the softmax passes dominate, and a block of a few MB stays near the caches.
    Large ``d``: the two matrix products dominate and need many rows to run at full speed, so a
    block may hold up to ``_DATA_FRACTION`` of the data's size (memory stays within a fixed
    factor of the data).
    """
    elements = max(_BLOCK_ELEMENTS, int(_DATA_FRACTION * n_data * d))
    return max(1, elements // max(n_data, d + 1))


def logit_blocks(prep: Prepared, x: Tensor, m: Tensor, var: Tensor):
    """Yield ``(rows, logits)`` with ``logits = (2 m x.y - m^2 |y|^2) / (2 var)`` per block.

    These are ``-|x - m y_n|^2 / (2 var)`` up to the row constant ``|x|^2 / (2 var)``,
    computed on centred data as one matrix product ``[-m^2/(2 var), x m/var] @ [|y|^2; y^T]``.
    Every block is written into the same buffer (fresh multi-MB allocations cost page faults):
    use each block before asking for the next.
    """
    var = var.clamp_min(torch.finfo(x.dtype).eps ** 2)
    xc = x - m * prep.mu
    lhs = torch.cat([-0.5 * m * m / var, xc * (m / var)], 1)
    step = max(1, min(block_rows(*prep.centred.shape), x.shape[0]))
    buf = x.new_empty(step, prep.table.shape[1])
    for i in range(0, x.shape[0], step):
        block = lhs[i : i + step]
        yield slice(i, i + step), torch.mm(block, prep.table, out=buf[: len(block)])


def posterior_mean(prep: Prepared, x: Tensor, m: Tensor, var: Tensor, with_lse: bool = False):
    """Tweedie denoiser ``xbar = sum_n w_n y_n`` and, optionally, ``log sum_n exp(l_n)``.

    ``w = softmax(l)``, ``l_n = -|x - m y_n|^2 / (2 var)`` (log-sum-exp stable). The fused
    softmax subtracts the row maximum ``l_k``, so ``log sum_n exp(l_n) = l_k - log w_k``.
    Returns ``(xbar, lse)``, shapes ``(n, d)`` and ``(n,)`` (``lse`` is None unless asked).
    """
    xbar = x.new_empty(x.shape)
    lse = x.new_empty(x.shape[0]) if with_lse else None
    for rows, logits in logit_blocks(prep, x, m, var):
        if with_lse:
            top, k = logits.max(1, keepdim=True)
        w = torch.softmax(logits, 1, out=logits)  # in place: row by row, max first
        torch.mm(w, prep.centred, out=xbar[rows])
        if with_lse:
            lse[rows] = (top - w.gather(1, k).log())[:, 0]
    if with_lse:
        xc = x - m * prep.mu
        lse -= (xc * xc).sum(1) / (2 * var.clamp_min(torch.finfo(x.dtype).eps ** 2)[:, 0])
    return xbar + prep.mu, lse


def posterior_weights(schedule, data: Tensor, x: Tensor, t) -> Tensor:
    """Posterior weights ``w_n(x, t) = softmax_n(-|x - m y_n|^2 / (2 sigma^2))``.

    Source: Baptista et al. 2025, the empirical score-matching minimizer.

    Returns:
        Tensor of shape ``(n, N)``; each row sums to one.
    """
    data = check_data(data)
    check_x(x, data.shape[1])
    m, var = mean_and_var(schedule, x, t)
    prep = prepare(data.to(dtype=x.dtype, device=x.device))
    out = torch.empty(x.shape[0], data.shape[0], dtype=x.dtype, device=x.device)
    for rows, logits in logit_blocks(prep, x, m, var):
        torch.softmax(logits, 1, out=out[rows])
    return out


def denoiser(schedule, data: Tensor, x: Tensor, t) -> Tensor:
    """Tweedie denoiser of the empirical law, ``E[X_0 | X_t = x] = sum_n w_n(x, t) y_n``.

    Source: Efron 2011 (Tweedie's formula); Baptista et al. 2025.

    Returns:
        Tensor of shape ``(n, d)``.
    """
    data = check_data(data)
    check_x(x, data.shape[1])
    m, var = mean_and_var(schedule, x, t)
    return posterior_mean(prepare(data.to(dtype=x.dtype, device=x.device)), x, m, var)[0]


def empirical_score(schedule, data: Tensor) -> Score:
    """Score of the time-dependent Gaussian mixture ``p_t^N = (1/N) sum_n N(m y_n, sigma^2 I)``.

    ``s^N(x, t) = (m xbar(x, t) - x) / sigma^2``, the exact minimizer of the empirical
    denoising score-matching loss. Source: Baptista et al. 2025, Sec. 2.

    Returns:
        A score ``score(x, t)`` returning a tensor shaped like ``x``.
    """
    data = check_data(data)
    cache: dict = {}

    def score(x: Tensor, t) -> Tensor:
        check_x(x, data.shape[1])
        m, var = mean_and_var(schedule, x, t)
        xbar, _ = posterior_mean(prepared_like(cache, data, x), x, m, var)
        return (m * xbar - x) / var

    return score


def _symmetric_psd(cov: Tensor, d: int) -> tuple[Tensor, Tensor]:
    if cov.shape != (d, d):
        raise ValueError(f"cov must have shape ({d}, {d}), got {tuple(cov.shape)}")
    if not torch.isfinite(cov).all() or not torch.allclose(cov, cov.T, atol=1e-8, rtol=1e-6):
        raise ValueError("cov must be a finite symmetric matrix")
    lam, vec = torch.linalg.eigh(cov)
    if lam.min() < -1e-8 * max(1.0, float(lam.abs().max())):
        raise ValueError("cov must be positive semi-definite")
    return lam.clamp_min(0), vec


def gaussian_score(schedule, mean: Tensor, cov: Tensor) -> Score:
    """Exact score for Gaussian data ``N(mu, C)``: ``-(m^2 C + sigma^2 I)^{-1} (x - m mu)``.

    The forward marginal is ``p_t = N(m mu, m^2 C + sigma^2 I)``; the inverse uses the
    eigendecomposition ``C = U diag(lambda) U^T`` so batched ``t`` costs one matrix product.
    Source: Song et al. 2021; a standard Gaussian computation.

    Returns:
        A score ``score(x, t)`` returning a tensor shaped like ``x``.
    """
    mean = torch.as_tensor(mean)
    if mean.ndim != 1 or mean.numel() == 0 or not torch.isfinite(mean).all():
        raise ValueError(f"mean must be a finite tensor of shape (d,), got {tuple(mean.shape)}")
    d = mean.shape[0]
    lam, vec = _symmetric_psd(torch.as_tensor(cov, dtype=mean.dtype), d)

    def score(x: Tensor, t) -> Tensor:
        check_x(x, d)
        m, var = mean_and_var(schedule, x, t)
        u, lm, mu = vec.to(x), lam.to(x), mean.to(x)
        coords = (x - m * mu) @ u
        return -(coords / (m * m * lm + var)) @ u.T

    return score


def gaussian_log_density(schedule, mean: Tensor, cov: Tensor, x: Tensor, t) -> Tensor:
    """``log N(x; m mu, m^2 C + sigma^2 I)`` for each row of ``x``; shape ``(n,)``."""
    mean = torch.as_tensor(mean, dtype=x.dtype)
    d = mean.shape[0]
    lam, vec = _symmetric_psd(torch.as_tensor(cov, dtype=x.dtype), d)
    check_x(x, d)
    m, var = mean_and_var(schedule, x, t)
    ev = m * m * lam + var
    coords = (x - m * mean) @ vec
    return -0.5 * ((coords**2 / ev).sum(1) + torch.log(ev).sum(1) + d * math.log(2 * math.pi))


def _conditioning_term(data_y: Tensor, y, joint: bool) -> Tensor:
    """``(r, N)``: ``|y_r - y_n|^2`` if ``joint``, else 0 where ``y_r = y_n`` and inf elsewhere."""
    k = data_y.shape[1]
    y = torch.as_tensor(y, dtype=data_y.dtype, device=data_y.device)
    y = y[None] if y.ndim == 1 else y
    if y.ndim != 2 or y.shape[1] != k or y.shape[0] == 0:
        raise ValueError(f"y must have shape ({k},) or (n, {k}), got {tuple(y.shape)}")
    if not torch.isfinite(y).all():
        raise ValueError("y must be finite (found NaN or inf)")
    sq = torch.cdist(y, data_y, compute_mode="donot_use_mm_for_euclid_dist").square()
    if joint:
        return sq
    match = sq == 0
    if not match.any(1).all():
        raise ValueError(
            "y must equal one of the training values data_y when joint=False (the empirical "
            "conditional law is defined only there); use joint=True for other y"
        )
    return torch.zeros_like(sq).masked_fill_(~match, math.inf)


def conditional_empirical_score(
    schedule, data_x: Tensor, data_y: Tensor, y, *, joint: bool = False
) -> Score:
    """Minimizer of the conditional empirical DSM loss for pairs ``(x_n, y_n)``, at one ``y``.

    ``s(x, t) = (m xbar - x) / sigma^2`` with ``xbar = sum_n w_n x_n``. Only ``x`` noised
    (``joint=False``): ``w_n ∝ 1[y_n = y] exp(-|x - m x_n|^2 / (2 sigma^2))``, defined only for
    ``y`` equal to a training ``y_n``; for distinct ``y_n`` it is the single-Gaussian score
    ``(m x_k - x) / sigma^2`` of the paired ``x_k``, for repeated ones (labels) the empirical
    score of the matching ``x_n``. ``joint=True`` (``x`` and ``y`` noised together): the
    ``x``-score of ``p_t^N(x, y_t) ∝ sum_n N(x; m x_n, sigma^2 I) N(y_t; m y_n, sigma^2 I)``
    at ``y_t = m(t) y``, the noise-free image of the given clean ``y``, so
    ``w_n ∝ exp(-(|x - m x_n|^2 + m^2 |y - y_n|^2) / (2 sigma^2))``; defined for every ``y``.
    Source: Baptista et al. 2025, the conditional setting.

    Args:
        y: conditioning value, shape ``(k,)`` for every row of ``x``, or ``(n, k)``, one per row.

    Returns:
        A score ``score(x, t)`` returning a tensor shaped like ``x``.
    """
    data_x, data_y = check_data(data_x, "data_x"), check_data(data_y, "data_y")
    if data_x.shape[0] != data_y.shape[0]:
        raise ValueError(
            f"data_x and data_y must have the same number of rows N, got {data_x.shape[0]} "
            f"and {data_y.shape[0]}"
        )
    term = _conditioning_term(data_y, y, joint)
    cache: dict = {}

    def score(x: Tensor, t) -> Tensor:
        check_x(x, data_x.shape[1])
        if term.shape[0] not in (1, x.shape[0]):
            raise ValueError(f"y has {term.shape[0]} rows: x must have 1 or that many rows")
        m, var = mean_and_var(schedule, x, t)
        var = var.clamp_min(torch.finfo(x.dtype).eps ** 2)
        key = (x.dtype, x.device)
        if key not in cache:
            xs, mu = data_x.to(x), data_x.to(x).mean(0)
            cache[key] = (mu, xs - mu, ((xs - mu) ** 2).sum(1), term.to(x))
        mu, xc, sq, extra = cache[key]
        out = torch.empty_like(x)
        step = max(1, (1 << 19) // xc.shape[0])
        for i in range(0, x.shape[0], step):
            r = slice(i, i + step)
            mr, vr, ry = m[r], var[r], r if extra.shape[0] > 1 else slice(None)
            logits = 2 * mr * (x[r] - mr * mu) @ xc.T - mr * mr * sq  # -|x - m x_n|^2 + const
            logits -= (mr * mr if joint else 1) * extra[ry]  # joint: m^2 |y - y_n|^2; else 0/inf
            xbar = torch.softmax(logits / (2 * vr), 1) @ xc + mu
            out[r] = (mr * xbar - x[r]) / vr
        return out

    return score
