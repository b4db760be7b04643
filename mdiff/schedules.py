"""Noise schedules of linear SDEs ``dX = f X dt + g dW``, ``X_t | x_0 ~ N(m x_0, sigma^2 I)``;
methods take a float (read as float64) or a tensor ``t`` (dtype, device kept), same shape out."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from . import _checks as check


def _as_tensor(t: float | Tensor) -> Tensor:
    return t if isinstance(t, Tensor) else torch.tensor(float(t), dtype=torch.float64)


def _prior(schedule, n: int, d: int, generator, dtype, device) -> Tensor:
    n, d = check.integer(n, "n"), check.integer(d, "d")
    check.generator(generator)
    z = torch.randn(n, d, generator=generator, dtype=dtype, device=device)
    return float(schedule.sigma(schedule.T)) * z


@dataclass(frozen=True)
class VP:
    """Variance-preserving schedule: ``f = -beta/2``, ``g^2 = beta`` with a linear ``beta(t)``;
    ``m = exp(-alpha/2)``, ``sigma^2 = 1 - exp(-alpha)``, ``alpha = int_0^t beta``; ``VP(2, 2)``
    is ``dX = -X dt + sqrt(2) dW``. Song et al. 2021; defaults of Baptista et al. 2025."""

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
        check.positive(self.T, "T")

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
        """Initial points ``x(T) = sigma(T) xi`` ``(n, d)``, ``xi ~ N(0, I)`` (authors' choice)."""
        return _prior(self, n, d, generator, dtype, device)


@dataclass(frozen=True)
class VE:
    """Variance-exploding schedule ``g(t) = sigma0^t``, ``m = 1`` (Song et al. 2021), with
    ``sigma(t)^2 = (sigma0^{2t} - 1) / (2 log sigma0)`` as in Baptista et al. 2025."""

    sigma0: float = 10.0
    T: float = 1.0

    def __post_init__(self):
        if not (math.isfinite(self.sigma0) and self.sigma0 > 1):
            raise ValueError(f"sigma0 must be finite and > 1, got {self.sigma0!r}")
        check.positive(self.T, "T")
        if not math.isfinite(float(self.sigma(self.T))):
            raise ValueError(
                f"sigma(T) overflows for sigma0={self.sigma0!r}, T={self.T!r}: "
                "choose a smaller sigma0 or T"
            )

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
        """Initial points ``x(T) = sigma(T) xi`` ``(n, d)``, ``xi ~ N(0, I)``."""
        return _prior(self, n, d, generator, dtype, device)


def time_grid(
    schedule,
    n_steps: int,
    *,
    spacing: str = "log_sigma",
    t_min: float | None = None,
    t_end: float = 0.0,
    dtype=torch.float64,
    device=None,
) -> Tensor:
    """Decreasing time grid from ``schedule.T`` to ``t_end`` with ``n_steps`` steps.

    ``n_steps - 1`` steps to ``t_min``, equispaced in ``t`` (``"uniform"``; ``t_min`` defaults to
    ``t_end``) or ``log sigma(t)`` (``"log_sigma"``; default ``max(1e-5, t_end)``), then one step to
    ``t_end``; with ``t_min = t_end`` all ``n_steps`` are spaced.

    Returns:
        Tensor of shape ``(n_steps + 1,)``, strictly decreasing.
    """
    check.integer(n_steps, "n_steps")
    check.one_of(spacing, "spacing", ("uniform", "log_sigma"))
    T = float(schedule.T)
    t_end = check.in_range(t_end, "t_end", 0.0, T)
    if t_min is None:
        t_min = t_end if spacing == "uniform" else max(1e-5, t_end)
    low = "(" if spacing == "log_sigma" and t_end == 0 else "["
    t_min = check.in_range(t_min, "t_min", t_end, T, closed=low + ")")
    k = n_steps + 1 if t_end == t_min else n_steps  # points of the spaced part
    if spacing == "uniform":
        ts = torch.linspace(T, t_min, k, dtype=torch.float64)
    else:
        lo, hi = math.log(float(schedule.sigma(t_min))), math.log(float(schedule.sigma(T)))
        ts = schedule.t_of_sigma(torch.exp(torch.linspace(hi, lo, k, dtype=torch.float64)))
        ts[0] = T
    if t_end < t_min:
        ts = torch.cat([ts, torch.tensor([t_end], dtype=ts.dtype)])
    out = ts.to(dtype=dtype, device=device)
    if not (out[1:] < out[:-1]).all():
        raise ValueError(
            f"dtype {dtype} cannot tell the {n_steps + 1} times of this grid apart "
            "(rounded times coincide): use float32 or float64, or fewer steps"
        )
    return out


#: Memo of :func:`grid_coefficients` for repeated direct calls (schedules are frozen dataclasses).
_COEFFICIENTS: dict = {}


def grid_coefficients(schedule, t: float) -> tuple[float, float, float]:
    """``(m, m - 1, sigma^2)`` at a float ``t`` (unchecked), in float64: ``m - 1`` keeps its
    relative accuracy when cast to float32 (``m`` itself rounds to 1 there as ``t -> 0``)."""
    try:
        return _COEFFICIENTS[schedule, t]
    except (KeyError, TypeError):  # not yet computed, or an unhashable schedule
        m = float(schedule.m(t))
        value = (m, m - 1.0, float(schedule.sigma(t)) ** 2)
    if len(_COEFFICIENTS) >= 4096:
        _COEFFICIENTS.clear()
    try:
        _COEFFICIENTS[schedule, t] = value
    except TypeError:
        pass
    return value


def coefficients(schedule, x: Tensor, t):
    """Checked ``(m, m - 1, sigma^2)`` for the rows of ``x``: floats for a float ``t`` (no tensor
    work), else ``(n, 1)`` columns in ``x``'s dtype computed in float64 from ``t``."""
    if isinstance(t, (int, float)) and not isinstance(t, bool):
        if not (math.isfinite(t) and 0 <= t <= schedule.T):
            raise ValueError(f"t must lie in [0, T={schedule.T}], got values outside it")
        return grid_coefficients(schedule, float(t))
    check.time_column(schedule, x, t)  # the checks and their messages
    tt = torch.as_tensor(t, device=x.device).to(torch.float64).expand(x.shape[0])[:, None]
    m = schedule.m(tt)  # (n, 1), float64
    return m.to(x.dtype), (m - 1).to(x.dtype), (schedule.sigma(tt) ** 2).to(x.dtype)
