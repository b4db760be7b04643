"""Memorization metrics: distances of generated samples to the training set."""

from __future__ import annotations

import torch
from torch import Tensor

from . import _checks as check
from .kernel import Prepared, _direct_logits, logit_blocks, prepare

#: Extra candidates re-ranked by their exact distance in :func:`nearest`.
_RERANK = 4


def nearest(prep: Prepared, x: Tensor, k: int) -> Tensor:
    """Indices ``(n, k)`` of the ``k`` nearest training points: ``k + _RERANK`` candidates by
    the logits at ``m = 1``, ``var = 1/2``, re-ranked by ``|x - y|^2`` from differences."""
    one = x.new_ones(x.shape[0], 1)  # (n, 1)
    j = min(prep.table.shape[1], k + _RERANK)
    idx = torch.empty(x.shape[0], k, dtype=torch.long, device=x.device)  # (n, k)
    for rows, logits in logit_blocks(prep, x, one, 0.5 * one):
        cand = logits.topk(j, dim=1).indices  # (r, j)
        exact = _direct_logits(prep, x[rows], one[rows], 0.5 * one[rows], cand)  # (r, j)
        idx[rows] = cand.gather(1, exact.topk(k, dim=1).indices)
    return idx


def nearest_k(samples: Tensor, data: Tensor, k: int = 1) -> tuple[Tensor, Tensor]:
    """Distances to, and indices of, the ``k`` nearest training points of each sample:
    ``(dist, idx)``, both of shape ``(n, k)``, sorted by distance (exact copies: distance 0)."""
    data = check.data(data)
    check.points(samples, data.shape[1], "samples", empty=False)
    k = check.integer(k, "k")
    if k > data.shape[0]:
        raise ValueError(f"k must lie in [1, N={data.shape[0]}], got {k}")
    data = data.to(samples)
    idx = nearest(prepare(data), samples, k)  # (n, k)
    dist = (samples[:, None, :] - data[idx]).norm(dim=-1)  # (n, k)
    dist, order = dist.sort(dim=1)
    return dist, idx.gather(1, order)


def nearest_distance(samples: Tensor, data: Tensor) -> Tensor:
    """Distance ``(n,)`` of each sample to its nearest training point, ``min_n |x_j - y_n|``."""
    return nearest_k(samples, data, 1)[0][:, 0]


def fraction_within(samples: Tensor, data: Tensor, tol: float) -> float:
    """Memorized fraction ``frac(tol) = #{j : min_n |x_j - y_n| < tol} / M`` (Baptista et al. 2025:
    their memorization metric, ``tol = 1e-2``)."""
    check.positive(tol, "tol", zero=True)
    return float((nearest_distance(samples, data) < tol).double().mean())


def memorized(samples: Tensor, data: Tensor, ratio: float = 1 / 3) -> Tensor:
    """Nearest/second-nearest test ``d1 / d2 < ratio`` (Yoon et al. 2023; Gu et al. 2023): a boolean
    tensor of shape ``(n,)``."""
    check.in_range(ratio, "ratio", 0, 1, closed="()")  # ratio >= 1 would flag any point
    if check.data(data).shape[0] < 2:
        raise ValueError("memorized needs at least 2 training points (N >= 2)")
    dist = nearest_k(samples, data, 2)[0]
    return dist[:, 0] < ratio * dist[:, 1]


def nearest_ratio(samples: Tensor, data: Tensor) -> Tensor:
    """Nearest/second-nearest distance ratio ``d1 / d2``, shape ``(n,)``, thresholded at 1/3 by
    ``memorized`` (Yoon et al. 2023; Gu et al. 2023); NaN where ``d1 = d2 = 0``."""
    if check.data(data).shape[0] < 2:
        raise ValueError("nearest_ratio needs at least 2 training points (N >= 2)")
    dist = nearest_k(samples, data, 2)[0]
    return dist[:, 0] / dist[:, 1]


def closer_than_heldout(samples: Tensor, data: Tensor, heldout: Tensor, q: float = 0.05) -> float:
    """Fraction of samples nearer to the training set than the ``q``-quantile of held-out points:
    ``#{j : min_n |x_j - y_n| < r_q} / M``, ``r_q`` the ``q``-quantile of ``min_n |z_i - y_n|``
    over held-out ``z_i`` from the data law; about ``q`` for samples no closer than fresh data."""
    check.in_range(q, "q", 0, 1, closed="()")
    ref = nearest_distance(heldout, data).quantile(q)
    return float((nearest_distance(samples, data) < ref).double().mean())


def pair_similarity(a: Tensor, b: Tensor) -> Tensor:
    """Pearson correlation of paired rows (cosine similarity after removing each row's mean).

    Near 1 when models on disjoint halves of the data, run from the same noise, both generalize
    (Kadkhodaie et al. 2024).

    Returns:
        Tensor of shape ``(n,)`` with values in ``[-1, 1]``.
    """
    if not (isinstance(a, Tensor) and isinstance(b, Tensor)) or a.ndim != 2 or a.shape != b.shape:
        raise ValueError("a and b must be tensors of the same shape (n, d)")
    a = a - a.mean(1, keepdim=True)
    b = b - b.mean(1, keepdim=True)
    return torch.nn.functional.cosine_similarity(a, b, dim=1)


# Two-sample distances (chapter 8): energy distance and MMD, in row blocks ----------------

#: Pairwise distances computed per block (rows x columns); 2**21 float64 numbers are 16 MB.
_PAIR_BLOCK = 1 << 21


def _two_samples(a, b, unbiased: bool) -> tuple[Tensor, Tensor]:
    """Validate two samples ``(n, d)``, ``(m, d)``; return them centred, in float64."""
    a, b = check.data(a, "a"), check.data(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b must have the same d, got shapes {tuple(a.shape)}, {b.shape}")
    if unbiased and min(a.shape[0], b.shape[0]) < 2:
        raise ValueError("unbiased estimates need at least 2 rows in each of a and b")
    a, b = a.to(torch.float64), b.to(a.device, torch.float64)
    mu = (a.sum(0) + b.sum(0)) / (a.shape[0] + b.shape[0])  # centring keeps |x|^2 small
    return a - mu, b - mu


def _pair_mean(a: Tensor, b: Tensor, kernel, same: bool = False, unbiased: bool = False):
    """Mean of ``kernel(|a_i - b_j|^2)`` over all pairs, or over ``i != j`` (``a`` is ``b``)."""
    sq_b = (b * b).sum(1)
    step = max(1, _PAIR_BLOCK // b.shape[0])
    total, eps = 0.0, 8 * torch.finfo(a.dtype).eps
    for i in range(0, a.shape[0], step):
        rows = a[i : i + step]
        size = (rows * rows).sum(1, keepdim=True) + sq_b
        d2 = torch.addmm(size, rows, b.T, alpha=-2)  # |x|^2 + |y|^2 - 2 x.y
        d2.masked_fill_(d2 <= size.mul_(eps), 0)  # below its rounding error: equal rows give 0
        if same and unbiased:  # the pairs i = j are left out below
            k = torch.arange(rows.shape[0], device=a.device)
            d2[k, k + i] = 0
        total += float(kernel(d2).sum())
    n, m = a.shape[0], b.shape[0]
    if same and unbiased:
        return (total - n * float(kernel(torch.zeros((), dtype=a.dtype)))) / (n * (n - 1))
    return total / (n * m)


def energy_distance(a: Tensor, b: Tensor, *, unbiased: bool = False) -> float:
    """Energy distance ``2 E|X - Y| - E|X - X'| - E|Y - Y'|`` (Székely and Rizzo 2013).

    Zero iff the laws are equal (finite first moments). V-statistic (all pairs, biased up by
    ``O(1/n)``) by default; ``unbiased=True``: the U-statistic (no pairs ``i = j``, may be < 0).

    Returns:
        A float (the squared-distance form; take no root).
    """
    a, b = _two_samples(a, b, unbiased)

    def norm(d2):
        return d2.sqrt_()

    xx, yy = _pair_mean(a, a, norm, True, unbiased), _pair_mean(b, b, norm, True, unbiased)
    return 2 * _pair_mean(a, b, norm) - xx - yy


def mmd(a: Tensor, b: Tensor, bandwidth: float, *, unbiased: bool = False) -> float:
    """Squared MMD ``E k(X, X') + E k(Y, Y') - 2 E k(X, Y)``, ``k = exp(-|x - y|^2 / (2 h^2))``.

    ``h = bandwidth``. V-statistic (all pairs) by default; ``unbiased=True``: the U-statistic
    (pairs ``i = j`` left out, may be negative). Source: Gretton et al. 2012.

    Returns:
        A float, ``MMD^2`` (not its root).
    """
    h = check.positive(bandwidth, "bandwidth")
    a, b = _two_samples(a, b, unbiased)

    def gauss(d2):
        return d2.mul_(-0.5 / (h * h)).exp_()

    xx, yy = _pair_mean(a, a, gauss, True, unbiased), _pair_mean(b, b, gauss, True, unbiased)
    return xx + yy - 2 * _pair_mean(a, b, gauss)
