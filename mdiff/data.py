"""Data sets of the course: the paper's point sets and images, and small toy sets."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

#: Plot window of the authors' 2-D figures: ``x1 in [-2.2, 3]``, ``x2 in [-3, 2.2]``.
PAPER_WINDOW = ((-2.2, 3.0), (-3.0, 2.2))


def paper_points(dtype=torch.float64) -> Tensor:
    """The 20 training points of Baptista et al. 2025: ``np.random.seed(1); randn(20, 2)``.

    Made with NumPy's legacy generator so it matches the authors' set exactly
    (first row ``(1.6243, -0.6118)``).

    Returns:
        Tensor of shape ``(20, 2)``.
    """
    return torch.tensor(np.random.RandomState(1).randn(20, 2), dtype=dtype)


def four_points(dtype=torch.float64) -> Tensor:
    """The symmetric set ``(1, 0), (-1, 0), (0, 1), (0, -1)``; shape ``(4, 2)``."""
    return torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]], dtype=dtype)


def two_points(dtype=torch.float64) -> Tensor:
    """The symmetric set ``(1, 0), (-1, 0)``; shape ``(2, 2)``."""
    return torch.tensor([[1.0, 0.0], [-1.0, 0.0]], dtype=dtype)


def square_boundary(n: int = 80, half_width: float = 2.1, dtype=torch.float64) -> Tensor:
    """``n`` equispaced points on the boundary of ``[-a, a]^2`` (start points of E3).

    Returns:
        Tensor of shape ``(n, 2)``, counter-clockwise from ``(a, -a)``.
    """
    if n < 4 or n % 4:
        raise ValueError(f"n must be a positive multiple of 4, got {n}")
    a = half_width
    s = torch.linspace(-a, a, n // 4 + 1, dtype=dtype)[:-1]
    sides = [(a + 0 * s, s), (-s, a + 0 * s), (-a + 0 * s, -s), (s, -a + 0 * s)]
    return torch.cat([torch.stack(p, 1) for p in sides])


def rectangles(dtype=torch.float64) -> Tensor:
    """The two binary 64x64 training images of the authors' image experiments (E5, E9).

    Image 0: a 12x12 square at rows/columns 6-17; image 1: a 14x14 square at rows/columns
    40-53 (inclusive). Returns: Tensor of shape ``(2, 4096)`` (row-major flattened images).
    """
    img = torch.zeros(2, 64, 64, dtype=dtype)
    img[0, 6:18, 6:18] = 1
    img[1, 40:54, 40:54] = 1
    return img.reshape(2, -1)


def gaussian_data(n: int, mean, cov, generator=None, dtype=torch.float64) -> Tensor:
    """``n`` samples of ``N(mean, cov)`` (Cholesky factor times standard normals).

    Returns:
        Tensor of shape ``(n, d)``.
    """
    mean = torch.as_tensor(mean, dtype=dtype)
    chol = torch.linalg.cholesky(torch.as_tensor(cov, dtype=dtype))
    z = torch.randn(n, mean.shape[0], generator=generator, dtype=dtype)
    return mean + z @ chol.T


def ring(n: int, radius: float = 1.0, width: float = 0.1, generator=None, dtype=torch.float64):
    """``n`` points near a circle: angle uniform, radius ``radius + width * N(0, 1)``.

    Returns:
        Tensor of shape ``(n, 2)``.
    """
    u = torch.rand(n, generator=generator, dtype=dtype) * 2 * math.pi
    r = radius + width * torch.randn(n, generator=generator, dtype=dtype)
    return torch.stack([r * torch.cos(u), r * torch.sin(u)], 1)


def digits(dtype=torch.float32, scale: str = "unit", return_labels: bool = False):
    """The 1797 handwritten 8x8 digits of scikit-learn (UCI optical digits), flattened.

    ``scale="unit"``: the grey levels ``0..16`` divided by 16, so pixels lie in ``[0, 1]``.
    ``scale="standard"``: minus the mean image, divided by the pixel standard deviation of the
    whole set (one number), so the set has mean zero and mean per-pixel variance one; the
    always-blank border pixels stay exactly zero. The data ship with scikit-learn (no download).
    Source: Alpaydin and Kaynak 1998, via ``sklearn.datasets.load_digits``.

    Returns:
        Tensor of shape ``(1797, 64)`` (row-major 8x8 images); with ``return_labels`` also the
        labels ``0..9`` as a long tensor of shape ``(1797,)``.
    """
    from sklearn.datasets import load_digits

    if scale not in ("unit", "standard"):
        raise ValueError(f"scale must be 'unit' or 'standard', got {scale!r}")
    bunch = load_digits()
    images = torch.tensor(bunch.data, dtype=torch.float64) / 16
    if scale == "standard":
        images = images - images.mean(0)
        images = images / images.pow(2).mean().sqrt()
    images = images.to(dtype)
    if return_labels:
        return images, torch.tensor(bunch.target, dtype=torch.long)
    return images
