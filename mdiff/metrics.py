"""Memorization metrics: distances of generated samples to the training set."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .scores import block_rows, check_data, check_x


def nearest_k(samples: Tensor, data: Tensor, k: int = 1) -> tuple[Tensor, Tensor]:
    """Distances to, and indices of, the ``k`` nearest training points of each sample.

    Candidates come from ``|y|^2 - 2 x.y`` (one matrix product per row block); the returned
    distances are recomputed as ``|x - y|`` so exact copies give exactly zero.

    Returns:
        ``(dist, idx)``, both of shape ``(n, k)``, sorted by distance.
    """
    data = check_data(data)
    check_x(samples, data.shape[1], "samples")
    if not 1 <= k <= data.shape[0]:
        raise ValueError(f"k must lie in [1, N={data.shape[0]}], got {k}")
    data = data.to(samples)
    sq = (data * data).sum(1)
    idx = torch.empty(samples.shape[0], k, dtype=torch.long, device=samples.device)
    step = block_rows(*data.shape)
    for i in range(0, samples.shape[0], step):
        proxy = sq - 2 * samples[i : i + step] @ data.T
        idx[i : i + step] = proxy.topk(k, dim=1, largest=False).indices
    dist = (samples[:, None, :] - data[idx]).norm(dim=-1)
    dist, order = dist.sort(dim=1)
    return dist, idx.gather(1, order)


def nearest_distance(samples: Tensor, data: Tensor) -> Tensor:
    """Distance of each sample to its nearest training point, ``min_n |x_j - y_n|``.

    Returns:
        Tensor of shape ``(n,)``.
    """
    return nearest_k(samples, data, 1)[0][:, 0]


def fraction_within(samples: Tensor, data: Tensor, tol: float) -> float:
    """Memorized fraction ``frac(tol) = #{j : min_n |x_j - y_n| < tol} / M``.

    Source: Baptista et al. 2025 (their memorization metric, ``tol = 1e-2``).
    """
    if not (math.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
    return float((nearest_distance(samples, data) < tol).double().mean())


def memorized(samples: Tensor, data: Tensor, ratio: float = 1 / 3) -> Tensor:
    """Nearest/second-nearest test ``d1 / d2 < ratio`` (Yoon et al. 2023; Gu et al. 2023).

    Returns:
        Boolean tensor of shape ``(n,)``.
    """
    if not (math.isfinite(ratio) and ratio > 0):
        raise ValueError(f"ratio must be a positive finite number, got {ratio!r}")
    if check_data(data).shape[0] < 2:
        raise ValueError("memorized needs at least 2 training points (N >= 2)")
    dist = nearest_k(samples, data, 2)[0]
    return dist[:, 0] < ratio * dist[:, 1]
