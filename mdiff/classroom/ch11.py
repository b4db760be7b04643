"""Chapter 11 checks: a convergence rate by least squares, the Gaussian (Wiener) denoiser."""

from __future__ import annotations

import math

import torch

from .feedback import _call, as_float, close, diagnose, fail, passed


def _rate(ns, errors) -> float:
    """Reference: ``a`` of the least-squares fit ``log error = log C - a log N``."""
    x = torch.log(torch.as_tensor(ns, dtype=torch.float64))
    y = torch.log(torch.as_tensor(errors, dtype=torch.float64))
    xc = x - x.mean()
    return float(-(xc * (y - y.mean())).sum() / (xc * xc).sum())


def check_convergence_rate(fn) -> bool:
    """Chapter 11: ``fn(ns, errors) -> a``, the rate of ``error ~ C N^(-a)`` by least squares.

    The fit is of ``log error`` on ``log N``. Checks exact power laws, noisy data against the
    reference fit (four and five sizes N), list and tensor inputs; names a returned slope
    (``-a``), swapped axes (``1/a``) and a fit without logarithms.
    """
    name = "convergence_rate"
    gen = torch.Generator().manual_seed(13)
    ns = [25, 100, 400, 1600]
    big = torch.tensor(ns, dtype=torch.float64)
    cases = [(ns, [3.0 * n**-0.5 for n in ns]), (big, 0.2 / big)]
    for _ in range(2):
        noise = torch.exp(0.2 * torch.randn(4, generator=gen, dtype=torch.float64))
        cases.append((ns, big**-0.3 * noise))
    other = torch.tensor([10.0, 30.0, 90.0, 270.0, 810.0], dtype=torch.float64)  # another size
    cases.append(
        (other.tolist(), 5.0 * other**-0.8 * torch.exp(0.1 * torch.randn(5, generator=gen)))
    )
    for k, (n, err) in enumerate(cases):
        want = _rate(n, err)
        got = as_float(_call(fn, name, n, err), name)
        if close(got, want, rtol=1e-6, atol=0.0):
            continue
        where = "for an exact power law" if k < 2 else "for noisy errors"
        if not math.isfinite(got):
            fail(f"{name} {where} returned NaN or inf, expected {want:.4g}")
        if close(got, -want, rtol=1e-6, atol=0.0):
            fail(f"{name} {where}: you returned the slope; the rate a is MINUS the slope")
        swapped = k < 2 and not math.isclose(want * want, 1.0, rel_tol=0.05)  # 1/a differs from a
        if swapped and math.isclose(abs(got) * want, 1.0, rel_tol=0.05):
            fail(f"{name} {where}: regress log(error) on log(N), not log(N) on log(error)")
        fail(
            f"{name} {where} returned {got:.6g}, expected {want:.6g}: fit a straight line to "
            "(log N, log error) by least squares and return minus its slope"
        )
    return passed(name)


def _wiener(mean, cov, x, sigma: float) -> torch.Tensor:
    """Reference: ``E[X_0 | X_0 + sigma Z = x] = mu + C (C + sigma^2 I)^{-1} (x - mu)``."""
    d = mean.shape[0]
    gain = torch.linalg.solve(cov + sigma**2 * torch.eye(d, dtype=cov.dtype), cov)  # symmetric
    return mean + (x - mean) @ gain


def _limits(fn, name: str, mean, cov, gen) -> None:
    """The denoiser returns ``x`` as ``sigma -> 0`` and the mean as ``sigma -> infinity``."""
    x = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    limits = (
        (1e-6, x, "with almost no noise (sigma = 1e-6)", "x itself"),
        (1e6, mean.expand_as(x), "with overwhelming noise (sigma = 1e6)", "the mean"),
    )
    for sigma, want, where, limit in limits:
        advice = f"the denoiser must return {limit}"
        diagnose(
            fn, name, (mean, cov, x, sigma), want, where=where, rtol=1e-6, atol=1e-6, advice=advice
        )


def check_gaussian_denoiser(fn) -> bool:
    """Chapter 11: ``fn(mean, cov, x, sigma)``, the posterior mean for Gaussian data (Wiener).

    Checks shapes, several covariances and noise levels in d = 3 and d = 2, the limits (``x`` as
    ``sigma -> 0``, the mean as ``sigma -> infinity``), and names a forgotten mean and ``sigma``
    used in place of ``sigma^2``.
    """
    name = "gaussian_denoiser"
    gen = torch.Generator().manual_seed(14)
    mean = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    a = torch.randn(3, 3, generator=gen, dtype=torch.float64)
    formula = "mu + C (C + sigma^2 I)^(-1) (x - mu)"
    cases = []
    for cov in (a @ a.T + 0.1 * torch.eye(3, dtype=torch.float64), torch.diag(mean.abs())):
        cases.append((mean, cov, torch.randn(7, 3, generator=gen, dtype=torch.float64)))
    mean2 = torch.tensor([0.5, 1.5], dtype=torch.float64)  # another dimension
    cov2 = torch.tensor([[1.0, 0.4], [0.4, 0.6]], dtype=torch.float64)
    cases.append((mean2, cov2, torch.randn(5, 2, generator=gen, dtype=torch.float64)))
    for mu, cov, x in cases:
        for sigma in (0.3, 1.0, 2.5):
            variants = {
                f"the mean is missing: {formula}": _wiener(torch.zeros_like(mu), cov, x, sigma),
                "the noise variance is sigma^2, not sigma": _wiener(mu, cov, x, sigma**0.5),
            }
            diagnose(
                fn,
                name,
                (mu, cov, x, sigma),
                _wiener(mu, cov, x, sigma),
                where=f"at sigma = {sigma}" + (f" in d = {len(mu)}" if len(mu) != 3 else ""),
                rtol=1e-7,
                atol=1e-10,
                variants=variants,
                advice=formula,
                shape=f"x's {tuple(x.shape)}",
            )
    _limits(fn, name, mean, a @ a.T + 0.1 * torch.eye(3, dtype=torch.float64), gen)
    return passed(name)
