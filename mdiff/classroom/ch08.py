"""Chapter 8 checks: the predicted memorized fraction, the energy distance, the freezing width."""

from __future__ import annotations

import math

import torch

from .feedback import diagnose, passed


def _frac(tau: float, d: int) -> float:
    if tau >= 1:
        return 0.0
    return float(torch.special.gammainc(torch.tensor(d / 2), torch.tensor(math.log(1 / tau))))


def _frac_variants(tau: float, d: int, want: float) -> dict:
    """Typical wrong fractions for ``tau < 1`` (message -> value)."""
    x = math.log(1 / tau)
    gi = torch.special.gammainc
    return {
        "1 - tau holds only for d = 2: use the chi-square CDF with d degrees of "
        "freedom, torch.special.gammainc(d / 2, log(1 / tau))": 1 - tau,
        "the chi-square CDF at y is gammainc(d / 2, y / 2): with y = 2 log(1/tau) the "
        "second argument is log(1 / tau)": float(gi(torch.tensor(d / 2), torch.tensor(2 * x))),
        "the shape parameter of chi-square with d degrees of freedom is d / 2, not d": (
            float(gi(torch.tensor(float(d)), torch.tensor(x)))
        ),
        "this is the fraction that escapes (the upper tail); frac is the lower tail": 1 - want,
    }


def check_eb_frac_prediction(fn) -> bool:
    """Chapter 8: ``fn(tau, d)`` -> predicted memorized fraction ``P(chi^2_d <= 2 log(1/tau))``.

    0 for ``tau >= 1``. Checked for ``d`` in 1, 2, 3, 10 and several ``tau``; names the usual
    slips (the d = 2 formula everywhere, the chi-square CDF's arguments, the upper tail).
    """
    name = "eb_frac_prediction"
    large = (
        "for tau >= 1 no sample stays inside its kernel's tau-level set, so the fraction is 0",
        "for tau >= 1, log(1/tau) <= 0 and no sample collapses, so return 0",
    )
    for d in (2, 1, 3, 10):
        for tau in (0.01, 0.1, 0.5, 0.9, 1.0, 3.0):
            want = _frac(tau, d)
            advice, nonfinite = large if tau >= 1 else ("", "")
            diagnose(
                fn,
                name,
                (tau, d),
                torch.tensor(want, dtype=torch.float64),
                where=f"(tau = {tau}, d = {d})",
                rtol=0,
                atol=1e-7,
                variants=_frac_variants(tau, d, want) if tau < 1 else None,
                advice=advice,
                nonfinite=nonfinite,
            )
    return passed(name)


def _energy_variants(a, b) -> dict:
    """The V-statistic energy distance (key ``"right"``) and typical wrong ones."""
    dab, daa, dbb = torch.cdist(a, b), torch.cdist(a, a), torch.cdist(b, b)
    n, m = len(a), len(b)
    right = 2 * dab.mean() - daa.mean() - dbb.mean()
    return {
        "right": right,
        "use distances |x - y|, not squared distances (with squares the 'distance' only "
        "compares the means)": 2 * (dab**2).mean() - (daa**2).mean() - (dbb**2).mean(),
        "the cross term counts twice: 2 E|X - Y| - E|X - X'| - E|Y - Y'|": (
            dab.mean() - daa.mean() - dbb.mean()
        ),
        "average over ALL pairs, including i = j (the V-statistic); you left out the diagonal": 2
        * dab.mean()
        - daa.sum() / (n * (n - 1))
        - dbb.sum() / (m * (m - 1)),
        "return the energy distance itself, without a square root": right.clamp_min(0).sqrt(),
        "use distances |x - y|, not squared distances (with squares the 'distance' only "
        "compares the means), and average the within-sample terms over all pairs, including "
        "i = j (torch.pdist leaves them out)": 2 * (dab**2).mean()
        - (daa**2).sum() / (n * (n - 1))
        - (dbb**2).sum() / (m * (m - 1)),
    }


def check_energy_v(fn) -> bool:
    """Chapter 8: ``fn(a, b)`` -> V-statistic energy distance ``2 E|X-Y| - E|X-X'| - E|Y-Y'|``.

    Checks zero for identical samples, hand-built cases and random samples in 1, 2 and 5
    dimensions against a direct computation; names the usual slips.
    """
    name = "energy_v"
    gen = torch.Generator().manual_seed(80)
    p = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [1.5, 1.0]], dtype=torch.float64)
    cases = [(p, p.clone()), (torch.tensor([[0.0]]), torch.tensor([[1.0]]))]
    for d, n, m in ((1, 30, 20), (2, 40, 25), (5, 15, 35)):
        a = torch.randn(n, d, generator=gen, dtype=torch.float64)
        cases.append((a, 0.7 + 1.3 * torch.randn(m, d, generator=gen, dtype=torch.float64)))
    for k, (a, b) in enumerate(cases):
        a, b = a.to(torch.float64), b.to(torch.float64)
        variants = _energy_variants(a, b)
        diagnose(
            fn,
            name,
            (a, b),
            variants.pop("right"),
            where="(a, a)" if k == 0 else f"(a: {tuple(a.shape)}, b: {tuple(b.shape)})",
            rtol=1e-9,
            atol=1e-9,
            scale=2 * float(torch.cdist(a, b).mean()),  # the size of the terms that cancel
            variants=variants,
            advice="a sample's energy distance to itself is 0" if k == 0 else "",
        )
    return passed(name)


def check_freeze_bandwidth(fn) -> bool:
    """Chapter 8: ``fn(tau, n_data, density, d)`` -> the freezing bandwidth ``sigma_f``.

    It solves ``N (2 pi sigma_f^2)^{d/2} p = tau``:
    ``sigma_f = (tau / (N p))^{1/d} / sqrt(2 pi)``; ``density`` may be a tensor. Names the usual
    slips (no 2 pi, the power 1/2 instead of 1/d, N or p on the wrong side).
    """
    name = "freeze_bandwidth"
    density = torch.tensor([0.05, 0.3, 1.2], dtype=torch.float64)
    root = math.sqrt(2 * math.pi)
    for tau, n, d in ((2.0, 100, 2), (10.0, 4096, 2), (5.0, 1000, 3), (1.5, 50, 1)):
        ratio = tau / (n * density)
        variants = {
            "the kernel's volume is (2 pi sigma^2)^(d/2): a factor 1 / sqrt(2 pi) is missing": (
                ratio ** (1 / d)
            ),
            "solve (2 pi sigma^2)^(d/2) = tau / (N p) for sigma: the power is 1/d": (
                ratio**0.5 / root
            ),
            "the training-set size multiplies the density: sigma_f shrinks as N grows": (
                (tau * n / density) ** (1 / d) / root
            ),
            "where the density is high the kernel sum reaches tau sooner: sigma_f shrinks "
            "as p grows": (tau * density / n) ** (1 / d) / root,
        }
        diagnose(
            fn,
            name,
            (tau, n, density, d),
            ratio ** (1 / d) / root,
            where=f"(tau = {tau}, N = {n}, d = {d})",
            rtol=1e-8,
            atol=1e-12,
            variants=variants,
            shape="density's (3,)",
        )
    return passed(name)
