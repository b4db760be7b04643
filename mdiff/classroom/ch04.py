"""Chapter 4 checks: one step of the SDE in ``tau``, the Hessian of the energy ``F_tau``."""

from __future__ import annotations

import math

import torch

from .feedback import diagnose, passed


def _xbar_tau(data: torch.Tensor, y: torch.Tensor, tau: float) -> torch.Tensor:
    """Denoiser in the time-changed variables: weights ``softmax(-e^{2 tau} |y - y_n|^2 / 2)``."""
    sq = ((y[:, None, :] - data[None]) ** 2).sum(-1)
    return torch.softmax(-0.5 * math.exp(2 * tau) * sq, 1) @ data


def _tau_step_variants(y, drift, xi, tau: float, h: float) -> dict:
    """Typical wrong steps (message -> value); ``drift = -(y - xbar)``."""
    noise = math.sqrt(2 * h) * math.exp(-tau) * xi
    return {
        "the drift of the SDE is twice that of the ODE: -2 (y - xbar) dtau": y + h * drift + noise,
        "sign error in the drift: it pulls y towards xbar, -2 (y - xbar)": (
            y - 2 * h * drift + noise
        ),
        "the noise is sqrt(2) e^(-tau) dB: its size shrinks like rho = e^(-tau)": (
            y + 2 * h * drift + math.sqrt(2 * h) * xi
        ),
        "the noise amplitude is e^(-tau), not e^(-2 tau) (that is its variance)": (
            y + 2 * h * drift + math.sqrt(2 * h) * math.exp(-2 * tau) * xi
        ),
        "the factor sqrt(2) in the noise is missing: sqrt(2 h) e^(-tau) xi": (
            y + 2 * h * drift + math.sqrt(h) * math.exp(-tau) * xi
        ),
        "no noise was added: this is a step of the probability-flow ODE (with the SDE's "
        "drift); add sqrt(2 h) e^(-tau) xi": y + 2 * h * drift,
    }


def check_tau_sde_step(fn) -> bool:
    """Chapter 4: ``fn(data, y, tau, h, xi)`` -> one Euler-Maruyama step of the SDE in ``tau``.

    ``dy = -2 (y - xbar(y, tau)) dtau + sqrt(2) e^{-tau} dB``, so the step is
    ``y - 2 h (y - xbar) + sqrt(2 h) e^{-tau} xi``. Names a missing factor 2 in the drift, a
    sign error, noise without ``e^{-tau}`` or with ``e^{-2 tau}``, a missing ``sqrt(2)`` and a
    step without noise (the probability-flow ODE); in d = 2 and d = 3.
    """
    name = "tau_sde_step"
    gen = torch.Generator().manual_seed(44)
    for d, taus in ((2, (-0.5, 1.0, 4.0)), (3, (0.3, 2.0))):
        data = torch.randn(7, d, generator=gen, dtype=torch.float64)
        y = 1.5 * torch.randn(9, d, generator=gen, dtype=torch.float64)
        xi = torch.randn(9, d, generator=gen, dtype=torch.float64)
        for tau in taus:
            for h in (0.05, 0.01):
                drift = -(y - _xbar_tau(data, y, tau))
                want = y + 2 * h * drift + math.sqrt(2 * h) * math.exp(-tau) * xi
                diagnose(
                    fn,
                    name,
                    (data, y, tau, h, xi),
                    want,
                    where=f"at tau = {tau:g}, h = {h:g}" + (f" in d = {d}" if d != 2 else ""),
                    variants=_tau_step_variants(y, drift, xi, tau, h),
                )
    return passed(name)


def _energy(data: torch.Tensor, y: torch.Tensor, tau: float) -> torch.Tensor:
    """``F_tau(y) = -e^{-2 tau} log sum_n exp(-e^{2 tau} |y - y_n|^2 / 2)``; shape ``(n,)``."""
    sq = ((y[:, None, :] - data[None]) ** 2).sum(-1)
    return -math.exp(-2 * tau) * torch.logsumexp(-0.5 * math.exp(2 * tau) * sq, 1)


def _hessian_variants(pts, y, tau: float, want) -> dict:
    """Typical wrong Hessians (message -> value), from the reference ``want``."""
    a = math.exp(2 * tau)
    w = torch.softmax(-0.5 * a * ((y - pts) ** 2).sum(1), 0)
    second = (w[:, None, None] * pts[:, :, None] * pts[:, None, :]).sum(0)
    eye = torch.eye(len(y), dtype=torch.float64)
    cov = eye - want  # = e^{2 tau} Cov_w
    return {
        "missing the factor e^(2 tau): the Hessian is I - e^(2 tau) Cov_w": eye - cov / a,
        "use the covariance of the y_n under w (centred at xbar), not the second moment "
        "sum_n w_n y_n y_n^T": eye - a * second,
        "sign error: the Hessian of F_tau is I - e^(2 tau) Cov_w": cov - eye,
    }


def check_energy_hessian(fn) -> bool:
    """Chapter 4: ``fn(data, y, tau)`` -> the Hessian ``I - e^{2 tau} Cov_w`` of ``F_tau`` at ``y``.

    ``y`` has shape ``(d,)``, the result ``(d, d)``; compared with the autograd Hessian of
    ``F_tau`` at random points (d = 2 and 3) and at the centre of two points. Names a missing
    ``e^{2 tau}``, the uncentred second moment in place of the covariance, and a sign error.
    """
    name = "energy_hessian"
    gen = torch.Generator().manual_seed(42)
    data = torch.randn(6, 2, generator=gen, dtype=torch.float64)
    cases = [
        (data, 1.2 * torch.randn(2, generator=gen, dtype=torch.float64), tau)
        for tau in (-0.5, 0.5, 1.0)
    ]
    two = torch.tensor([[1.0, 0.0], [-1.0, 0.0]], dtype=torch.float64)
    cases.append((two, torch.zeros(2, dtype=torch.float64), 1.0))
    data3 = torch.randn(5, 3, generator=gen, dtype=torch.float64)  # another dimension
    cases.append((data3, torch.randn(3, generator=gen, dtype=torch.float64), 0.3))
    for pts, y, tau in cases:
        want = torch.autograd.functional.hessian(
            lambda z, pts=pts, tau=tau: _energy(pts, z[None], tau)[0], y
        )
        diagnose(
            fn,
            name,
            (pts, y, tau),
            want,
            where=f"at tau = {tau:g}, y = {y.tolist()}",
            rtol=1e-8,
            atol=1e-10,
            variants=_hessian_variants(pts, y, tau, want),
            shape=f"(d, d) = {tuple(want.shape)}",
        )
    return passed(name)
