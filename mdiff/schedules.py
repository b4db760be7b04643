"""Noise schedules of linear forward SDEs, ``dX = f(t) X dt + g(t) dW``.

The transition kernel is ``X_t | X_0 = x_0 ~ N(m(t) x_0, sigma(t)^2 I)`` with
``m(t) = exp(int_0^t f)`` and ``d sigma^2 / dt = 2 f sigma^2 + g^2`` (Song et al. 2021).
Every method takes a float or a tensor ``t`` and returns a tensor of the same shape; a float
becomes a float64 tensor, a tensor keeps its dtype and device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


def _as_tensor(t: float | Tensor) -> Tensor:
    return t if isinstance(t, Tensor) else torch.tensor(float(t), dtype=torch.float64)


def _check_positive_finite(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")


def _prior(schedule, n: int, d: int, generator, dtype, device) -> Tensor:
    if n < 1 or d < 1:
        raise ValueError(f"prior needs n >= 1 and d >= 1, got n={n}, d={d}")
    z = torch.randn(n, d, generator=generator, dtype=dtype, device=device)
    return float(schedule.sigma(schedule.T)) * z


@dataclass(frozen=True)
class VP:
    """Variance-preserving schedule with a linear ``beta(t)``.

    ``beta(t) = beta_min + t (beta_max - beta_min)``, ``f = -beta/2``, ``g^2 = beta``,
    ``m = exp(-alpha/2)``, ``sigma^2 = 1 - exp(-alpha)`` with ``alpha = int_0^t beta``.
    Source: Song et al. 2021 (VP SDE); defaults are those of Baptista et al. 2025.
    The Ornstein-Uhlenbeck process ``dX = -X dt + sqrt(2) dW`` is ``VP(2, 2)``.
    """

    beta_min: float = 1e-3
    beta_max: float = 3.0
    T: float = 1.0

    def __post_init__(self):
        if not (math.isfinite(self.beta_min) and self.beta_min >= 0):
            raise ValueError(f"beta_min must be finite and >= 0, got {self.beta_min!r}")
        if not (math.isfinite(self.beta_max) and self.beta_max >= self.beta_min):
            raise ValueError(f"beta_max must be finite and >= beta_min, got {self.beta_max!r}")
        if self.beta_max == 0:
            raise ValueError("beta_max must be > 0 (a zero beta never adds noise)")
        _check_positive_finite("T", self.T)

    def beta(self, t):
        """``beta(t) = beta_min + t (beta_max - beta_min)``."""
        return self.beta_min + _as_tensor(t) * (self.beta_max - self.beta_min)

    def alpha(self, t):
        """``alpha(t) = int_0^t beta = beta_min t + (beta_max - beta_min) t^2 / 2``."""
        t = _as_tensor(t)
        return self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t * t

    def m(self, t):
        """Mean factor ``m(t) = exp(-alpha(t)/2)``."""
        return torch.exp(-0.5 * self.alpha(t))

    def sigma(self, t):
        """Noise level ``sigma(t) = sqrt(1 - exp(-alpha(t)))`` (``expm1`` keeps small t exact)."""
        return torch.sqrt(-torch.expm1(-self.alpha(t)))

    def f(self, t):
        """Drift coefficient ``f(t) = -beta(t)/2``."""
        return -0.5 * self.beta(t)

    def g2(self, t):
        """Squared diffusion coefficient ``g(t)^2 = beta(t)``."""
        return self.beta(t)

    def t_of_sigma(self, sigma):
        """Inverse of ``sigma(t)``: solve ``alpha(t) = -log(1 - sigma^2)`` for ``t``."""
        a = -torch.log1p(-(_as_tensor(sigma) ** 2))
        db = self.beta_max - self.beta_min
        if db == 0:
            return a / self.beta_min
        return 2 * a / (self.beta_min + torch.sqrt(self.beta_min**2 + 2 * db * a))

    def prior(self, n: int, d: int, generator=None, dtype=torch.float64, device=None):
        """Initial points ``x(T) = sigma(T) xi``, ``xi ~ N(0, I)`` (the authors' choice).

        Returns:
            Tensor of shape ``(n, d)``.
        """
        return _prior(self, n, d, generator, dtype, device)


@dataclass(frozen=True)
class VE:
    """Variance-exploding schedule ``g(t) = sigma0^t``, ``m = 1``.

    ``sigma(t)^2 = (sigma0^{2t} - 1) / (2 log sigma0)``, so ``d sigma^2/dt = g^2``.
    Source: Song et al. 2021 (VE SDE) in the form used by Baptista et al. 2025.
    """

    sigma0: float = 10.0
    T: float = 1.0

    def __post_init__(self):
        if not (math.isfinite(self.sigma0) and self.sigma0 > 1):
            raise ValueError(f"sigma0 must be finite and > 1, got {self.sigma0!r}")
        _check_positive_finite("T", self.T)

    @property
    def _log_s0(self) -> float:
        return math.log(self.sigma0)

    def m(self, t):
        """Mean factor ``m(t) = 1``."""
        return torch.ones_like(_as_tensor(t))

    def sigma(self, t):
        """Noise level ``sigma(t) = sqrt((sigma0^{2t} - 1) / (2 log sigma0))``."""
        k = 2 * self._log_s0
        return torch.sqrt(torch.expm1(k * _as_tensor(t)) / k)

    def f(self, t):
        """Drift coefficient ``f(t) = 0``."""
        return torch.zeros_like(_as_tensor(t))

    def g2(self, t):
        """Squared diffusion coefficient ``g(t)^2 = sigma0^{2t}``."""
        return torch.exp(2 * self._log_s0 * _as_tensor(t))

    def t_of_sigma(self, sigma):
        """Inverse of ``sigma(t)``: ``t = log(1 + 2 log(sigma0) sigma^2) / (2 log sigma0)``."""
        k = 2 * self._log_s0
        return torch.log1p(k * _as_tensor(sigma) ** 2) / k

    def prior(self, n: int, d: int, generator=None, dtype=torch.float64, device=None):
        """Initial points ``x(T) = sigma(T) xi``, ``xi ~ N(0, I)``.

        Returns:
            Tensor of shape ``(n, d)``.
        """
        return _prior(self, n, d, generator, dtype, device)


def time_grid(
    schedule,
    n_steps: int,
    *,
    spacing: str = "log_sigma",
    t_min: float = 1e-5,
    t_end: float = 0.0,
    dtype=torch.float64,
    device=None,
) -> Tensor:
    """Decreasing time grid from ``schedule.T`` to ``t_end`` with ``n_steps`` steps.

    ``spacing="uniform"``: equispaced in ``t``. ``spacing="log_sigma"``: ``n_steps - 1``
    steps equispaced in ``log sigma(t)`` from ``T`` down to ``t_min``, then one last step to
    ``t_end`` (``0`` by default; pass ``t_end=t_min`` to stop there).

    Returns:
        Tensor of shape ``(n_steps + 1,)``, strictly decreasing.
    """
    if int(n_steps) != n_steps or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
    T = float(schedule.T)
    if not (0 <= t_end < T):
        raise ValueError(f"t_end must lie in [0, T={T}), got {t_end!r}")
    if spacing == "uniform":
        ts = torch.linspace(T, t_end, n_steps + 1, dtype=torch.float64)
    elif spacing == "log_sigma":
        if not (t_end <= t_min < T):
            raise ValueError(f"t_min must lie in [t_end, T), got {t_min!r}")
        k = n_steps + 1 if t_end == t_min else n_steps
        lo, hi = math.log(float(schedule.sigma(t_min))), math.log(float(schedule.sigma(T)))
        ts = schedule.t_of_sigma(torch.exp(torch.linspace(hi, lo, k, dtype=torch.float64)))
        if t_end < t_min:
            ts = torch.cat([ts, torch.tensor([t_end], dtype=ts.dtype)])
        ts[0] = T
    else:
        raise ValueError(f"spacing must be 'uniform' or 'log_sigma', got {spacing!r}")
    return ts.to(dtype=dtype, device=device)
