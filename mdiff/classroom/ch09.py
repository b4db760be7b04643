"""Chapter 9 checks: the memorized-fraction table, the displacement budget, eps-form Tikhonov."""

from __future__ import annotations

import math

import torch

from .. import paper_points, tikhonov_score
from ..schedules import VE, VP
from ..scores import empirical_score
from .feedback import _call, as_float, as_tensor, close, compare, diagnose, fail, passed


def _table(samples, data, tols, power=1, strict=True, nearest=True):
    """``(K, len(tols))`` fractions of samples whose (nearest) distance is below each tol."""
    dist = (samples[:, :, None, :] - data[None, None]).norm(dim=-1) ** power  # (K, M, N)
    dist = dist.min(-1).values if nearest else dist[..., 0]
    tol = torch.as_tensor(tols, dtype=dist.dtype)
    hit = dist[..., None] < tol if strict else dist[..., None] <= tol
    return hit.to(dist.dtype).mean(1)


def _table_case(gen):
    """Samples of K = 3 models (M = 40, d = 2) with copies, near-misses and exact ties."""
    data = torch.tensor(
        [[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [-1.5, 0.5], [2.0, 2.0]], dtype=torch.float64
    )
    samples = 1.5 * torch.randn(3, 40, 2, generator=gen, dtype=torch.float64)
    pick = torch.randint(0, 5, (3, 20), generator=gen)
    shrink = torch.tensor([0.0, 0.02, 0.3])[:, None, None].to(torch.float64)
    samples[:, :20] = data[pick] + shrink * torch.randn(
        3, 20, 2, generator=gen, dtype=torch.float64
    )
    samples[0, 20] = torch.tensor([0.5, 0.0])  # exactly at distance 0.5 from (0, 0) and (1, 0)
    samples[1, 20] = torch.tensor([0.0, 2.25])  # exactly at distance 0.25 from (0, 2)
    return samples, data, [0.01, 0.25, 0.5, 0.8]


def _table_case_3d(gen):
    """Samples of K = 2 models (M = 30, d = 3) near 6 training points, other tolerances."""
    data = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    pick = torch.randint(0, 6, (2, 30), generator=gen)
    spread = torch.tensor([0.05, 0.6], dtype=torch.float64)[:, None, None]
    samples = data[pick] + spread * torch.randn(2, 30, 3, generator=gen, dtype=torch.float64)
    samples[0, :5] = data[:5]  # exact copies
    return samples, data, (0.02, 0.1, 0.4, 1.0)


def _fraction_case(fn, name: str, samples, data, tols) -> None:
    want = _table(samples, data, tols)
    got = as_tensor(_call(fn, name, samples, data, list(tols)), name).to(torch.float64)
    where = f"(K = {samples.shape[0]}, M = {samples.shape[1]}, d = {samples.shape[2]})"
    if got.shape == want.T.shape and got.shape != want.shape:
        fail(
            f"{name} {where} returned shape {tuple(got.shape)}: one row per model and one column "
            f"per tolerance, shape {tuple(want.shape)} (did you transpose it?)"
        )
    if got.shape != want.shape:
        hint = (
            " (did you average over the models instead of the samples?)"
            if got.numel() in (samples.shape[1] * len(tols), len(tols))
            else ""
        )
        fail(
            f"{name} {where} returned shape {tuple(got.shape)}, expected {tuple(want.shape)}{hint}"
        )
    if not torch.isfinite(got).all():
        fail(f"{name} {where} returned NaN or inf")
    variants = {
        "samples exactly at distance tol are counted: the test is strict, distance < tol": (
            _table(samples, data, tols, strict=False)
        ),
        "you compared squared distances with tol; compare the distance itself": (
            _table(samples, data, tols, power=2)
        ),
        "you measured the distance to the first training point; use the NEAREST one": (
            _table(samples, data, tols, nearest=False)
        ),
        "you returned counts; divide by the number of samples M to get fractions": want
        * samples.shape[1],
    }
    advice = (
        "expected the fraction of samples with min_n |x_j - y_n| < tol, per model and tolerance"
    )
    compare(got, want, name, where=where, rtol=0, atol=1e-6, variants=variants, advice=advice)


def check_fraction_table(fn) -> bool:
    """Chapter 9: ``fn(samples, data, tols)`` -> ``(K, len(tols))`` memorized fractions.

    ``samples`` ``(K, M, d)``; entry ``[k, j]`` is the fraction of model ``k``'s samples whose
    nearest training point is strictly closer than ``tols[j]``. Checked on two tables (d = 2 with
    exact ties, d = 3 with other K, M and tolerances). Names ``<=`` for ``<``, squared distances,
    the first (not nearest) training point, counts instead of fractions, the transposed table and
    the fraction over the wrong axis.
    """
    name = "fraction_table"
    gen = torch.Generator().manual_seed(9)
    _fraction_case(fn, name, *_table_case(gen))
    _fraction_case(fn, name, *_table_case_3d(gen))
    return passed(name)


def _budget_reference(schedule, t1: float, L: float, output: str) -> float:
    """``B(t1) = (1/2) int_0^t1 g^2 |s| dt`` with ``|s| = L`` (score output) or ``L / sigma``
    (noise output): ``L alpha / 2`` or ``L arccosh(e^(alpha/2)) = L (alpha/2 + log(1 + sigma))``
    (VP)."""
    alpha = float(schedule.alpha(torch.tensor(t1, dtype=torch.float64)))
    if output == "score":
        return 0.5 * L * alpha
    return L * (0.5 * alpha + math.log1p(math.sqrt(-math.expm1(-alpha))))


def _budget_quadrature(schedule, t1: float, L: float, weight) -> float:
    """``(L/2) int_0^t1 weight(t) dt`` on a fine grid in ``sqrt(t)`` (for the wrong variants)."""
    u = torch.linspace(0.0, math.sqrt(t1), 20001, dtype=torch.float64)[1:]
    t = u * u
    values = weight(t) * 2 * u  # dt = 2 u du
    return float(0.5 * L * torch.trapezoid(values, u))


def check_displacement_budget(fn) -> bool:
    """Chapter 9: ``fn(schedule, t1, L, output)`` -> ``B(t1) = (1/2) int_0^t1 g^2 |s| dt`` (VP).

    ``|s| = L`` for ``output="score"`` and ``L / sigma(t)`` for ``"eps"``; checked for
    ``t1`` from 1e-5 to 1 on two VP schedules to a relative 1e-6. Names the missing 1/2,
    ``g`` for ``g^2``, a missing or inverted ``1/sigma``, and the small-t shortcut ``L sigma``.
    """
    name = "displacement_budget"
    for schedule in (VP(), VP(0.1, 20.0)):
        for t1 in (1e-5, 1e-3, 0.1, 1.0):
            for L, output in ((1.0, "score"), (2.5, "eps"), (2.5, "score"), (1.0, "eps")):
                want = _budget_reference(schedule, t1, L, output)
                got = as_float(_call(fn, name, schedule, t1, L, output), name)
                if close(got, want, rtol=1e-6, atol=0.0):
                    continue
                where = f"(output={output!r}, t1={t1:g}, L={L:g}, {schedule})"
                _budget_feedback(name, where, schedule, t1, L, output, got, want)
    return passed(name)


def _budget_feedback(name, where, schedule, t1, L, output, got, want) -> None:
    sigma = float(schedule.sigma(torch.tensor(t1, dtype=torch.float64)))
    other = _budget_reference(schedule, t1, L, "eps" if output == "score" else "score")
    variants = {
        "twice too large: the score enters the probability-flow ODE as (1/2) g^2 s": 2 * want,
        "you integrated g, not g^2 = beta": _budget_quadrature(
            schedule,
            t1,
            L,
            lambda t: schedule.beta(t).sqrt() * (1 if output == "score" else 1 / schedule.sigma(t)),
        ),
        "this is the budget of the other output: the noise output's score is -eps_hat/sigma, "
        "so only then the integrand has the factor 1/sigma": other,
        "you multiplied by sigma instead of dividing: |s| = |eps_hat| / sigma": (
            _budget_quadrature(schedule, t1, L, lambda t: schedule.beta(t) * schedule.sigma(t))
        ),
        "this is the small-t approximation L sigma(t1); integrate exactly (substitute u = "
        "alpha(t))": L * sigma,
    }
    for message, value in variants.items():
        if close(got, value, rtol=1e-4, atol=0.0) and not close(value, want, rtol=1e-4, atol=0.0):
            fail(f"{name} {where}: {message}")
    if not math.isfinite(got):
        fail(f"{name} {where} returned NaN or inf, expected {want:.6g}")
    compare(got, want, f"{name} {where}", rtol=1e-6, atol=0.0)


def _eps_variants(sigma: float, s_c, s_n, c: float) -> dict:
    """Typical wrong noise predictors (message -> value)."""
    return {
        "the sign is wrong: eps_hat predicts the noise z, and E[z | x] points away from "
        "the data, so eps_hat = -sigma s": sigma * s_c,
        "your eps_hat ignores the penalty: the pointwise minimizer is shrunk by "
        "sigma^2 / (sigma^2 + c)": -sigma * s_n,
        "you penalized c |eps_hat|^2; the penalty c |s|^2 reads c |eps_hat|^2 / sigma^2 "
        "in eps form": -sigma * s_n / (1 + c),
        "eps_hat = -sigma s, not -s / sigma": -s_c / sigma,
        "you returned the score s_c; the noise predictor is -sigma s_c": s_c,
    }


def check_eps_tikhonov(fn) -> bool:
    """Chapter 9: ``fn(schedule, data, c)`` -> ``eps(x, t)``, the minimizer over all functions of
    ``|eps_hat - z|^2 + c |eps_hat|^2 / sigma^2``, i.e. ``-sigma s_c`` (``s_c`` of chapter 7).

    Checked on the paper's points at small and large ``t`` for several ``c`` (VP), and on VE;
    names a missing shrinkage, the sign, ``c |eps_hat|^2`` without ``1/sigma^2``, ``-s/sigma``
    for ``-sigma s``, and returning the score itself.
    """
    name = "eps_tikhonov"
    data = paper_points()
    gen = torch.Generator().manual_seed(19)
    x = data[:6] + 0.2 * torch.randn(6, 2, generator=gen, dtype=torch.float64)
    cases = [(VP(), (0.0, 0.01, 0.5), (1e-3, 0.05, 0.5, 1.0)), (VE(), (0.05,), (0.02, 0.5))]
    for schedule, cs, times in cases:
        for c in cs:
            eps = _call(fn, name, schedule, data, c)
            if not callable(eps):
                fail(f"{name} should return a function eps(x, t), got {type(eps).__name__}")
            s_c, s_n = tikhonov_score(schedule, data, c), empirical_score(schedule, data)
            for t in times:
                sigma = float(schedule.sigma(torch.tensor(t, dtype=torch.float64)))
                diagnose(
                    eps,
                    f"{name}(...)(x, t)",
                    (x, t),
                    -sigma * s_c(x, t),
                    where=f"at c = {c:g}, t = {t:g} ({type(schedule).__name__})",
                    rtol=1e-6,
                    atol=1e-9,
                    variants=_eps_variants(sigma, s_c(x, t), s_n(x, t), c),
                    advice="expected -sigma(t) s_c(x, t)",
                )
    return passed(name)
