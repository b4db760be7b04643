"""Chapter 12 checks: a convergence rate, the energy distance of the empirical measure, the
Gaussian (Wiener) denoiser."""

from __future__ import annotations

import math

import torch

from .feedback import _call, as_answer, as_float, close, diagnose, fail, passed


def _rate(ns, errors) -> float:
    """Reference: ``a`` of the least-squares fit ``log error = log C - a log N``."""
    x = torch.log(torch.as_tensor(ns, dtype=torch.float64))
    y = torch.log(torch.as_tensor(errors, dtype=torch.float64))
    xc = x - x.mean()
    return float(-(xc * (y - y.mean())).sum() / (xc * xc).sum())


def check_convergence_rate(fn) -> bool:
    """Chapter 12: ``fn(ns, errors) -> a``, the rate of ``error ~ C N^(-a)`` by least squares.

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
    """Chapter 12: ``fn(mean, cov, x, sigma)``, the posterior mean for Gaussian data (Wiener).

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


#: Relative standard deviation, per repetition, of ``N * energy / E|X - X'|`` for the protocol of
#: the exercise (a fresh sample of 4 N points per repetition): at most sqrt(2) from the training
#: set (the limit law of a degenerate V-statistic, sum_k lambda_k Z_k^2 with lambda_k >= 0, has
#: sd / mean <= sqrt(2)), plus the fresh sample's terms, whose variance relative to the squared
#: mean is at most 2 (N/n)^2 + 4 (N/n) E|X-X'|^2 / (E|X-X'|)^2 < 1.4 for n = 4 N on the ring:
#: in all at most sqrt(3.4) < 2.
ENERGY_CV = 2.0
#: A measurement is accepted within this many standard deviations (of the mean or the fit).
ENERGY_SIGMAS = 3.0


def _ring_pair_mean() -> float:
    """``E|X - X'|`` for ``mdiff.ring`` (radius 1, width 0.1), from 6000 points (error ~1e-3)."""
    from ..data import ring

    return float(torch.pdist(ring(6000, generator=torch.Generator().manual_seed(111))).mean())


def check_empirical_energy(fn) -> bool:
    """Chapter 12: ``fn(sizes, repeats, seed)`` -> mean energy distance of ``p_0^N`` to ``p_0``.

    One mean per ``N`` in ``sizes`` (the ring law, ``repeats`` training sets each). Theory:
    ``E[energy(p_0^N, p_0)] = E|X - X'| / N`` exactly, so the check compares each mean with it
    within ``ENERGY_SIGMAS`` standard deviations ``ENERGY_CV * theory / sqrt(repeats)`` and the
    exponent fitted to the means with 1 within the standard deviation of the fit that this
    implies; it names a U-statistic over the training set (means near 0), a square root (the
    rate 1/2) and says which way the values are off.
    """
    name = "empirical_energy"
    pair = _ring_pair_mean()
    for sizes, repeats, seed in (((4, 16, 64), 120, 5), ((8, 32, 128), 100, 17)):
        where = f"(sizes = {list(sizes)}, repeats = {repeats}, seed = {seed})"
        label = f"{name} {where}"
        raw = _call(fn, name, list(sizes), repeats, seed)
        want = torch.tensor([pair / n for n in sizes], dtype=torch.float64)
        got = as_answer(raw, label, want, shape=f"({len(sizes)},), one mean per size N")
        ratio = got / want  # 1 in expectation at every N
        spread = ENERGY_SIGMAS * ENERGY_CV / math.sqrt(repeats)
        if (ratio.abs() < 0.25).all() or (got <= 0).any():
            fail(
                f"{label}: your means are near 0 or negative, but p_0^N is not p_0: average "
                "|y_i - y_j| over ALL N^2 pairs of the training set (the pairs i = j, at "
                "distance 0, belong to the atomic measure p_0^N); leave out i = j only within "
                "the fresh sample (torch.pdist)"
            )
        x = torch.log(torch.tensor(sizes, dtype=torch.float64))
        xc = x - x.mean()
        rate = float(-(xc * (got.log() - got.log().mean())).sum() / (xc * xc).sum())
        if abs(rate - 0.5) < 0.15 and (ratio - 1).abs().max() > spread:
            fail(
                f"{label}: your values fall like N^(-{rate:.2f}), the rate of the square root: "
                "return the energy distance itself (the root-free form that "
                "mdiff.energy_distance computes), whose mean is E|X - X'| / N"
            )
        for k, (n, r) in enumerate(zip(sizes, ratio.tolist())):
            if abs(r - 1) > spread:
                way = "higher" if r > 1 else "lower"
                fail(
                    f"{label}: at N = {n} your mean {float(got[k]):.4g} is {r:.2f} "
                    f"times the theory E|X - X'| / N = {pair / n:.4g}, {way} than the Monte Carlo "
                    f"error allows (a factor within 1 +- {spread:.2f}); use a fresh sample of "
                    "4 N points per repetition and the V-statistic over the training set"
                )
        rate_sd = ENERGY_CV / math.sqrt(repeats) / float((xc * xc).sum().sqrt())
        if abs(rate - 1) > ENERGY_SIGMAS * rate_sd:
            way = "slower" if rate < 1 else "faster"
            fail(
                f"{label}: your means fall like N^(-{rate:.3g}), {way} than N^(-1) by more than "
                f"the Monte Carlo error of the fit ({ENERGY_SIGMAS:g} x {rate_sd:.2g})"
            )
    return passed(name)
