"""Chapter 7 checks: the regularized minimizer, the VP terminal offset, and the Part III
assignment (the repaired s_c, the predicted and the measured memorized fraction in d dimensions)."""

from __future__ import annotations

import functools
import math

import torch

from ..metrics import fraction_within
from ..regularized import tikhonov_score
from ..sampling import probability_flow
from ..schedules import VE, VP, time_grid
from .feedback import _call, as_float, diagnose, fail, passed


def _solve_rows(matrix: torch.Tensor, s: torch.Tensor) -> torch.Tensor | None:
    """Rows of ``matrix^{-1} s`` (None if ``matrix`` is singular)."""
    try:
        return torch.linalg.solve(matrix, s.T).T
    except RuntimeError:
        return None


def _minimizer_variants(s, gamma, eye) -> dict:
    """Typical wrong minimizers (message -> value; None where it cannot be computed)."""
    return {
        "the penalty adds Gamma: solve (I + Gamma) v = s^N, not (I - Gamma) v = s^N": (
            _solve_rows(eye - gamma, s)
        ),
        "you multiplied s^N by (I + Gamma); the minimizer solves (I + Gamma) v = s^N": (
            s @ (eye + gamma).T
        ),
        "Gamma is not diagonal here: dividing by 1 + diag(Gamma) ignores its off-diagonal "
        "entries; solve the linear system (torch.linalg.solve)": s / (1 + gamma.diagonal()),
        "the data term contributes the identity: (I + Gamma)^(-1) s^N, not Gamma^(-1) s^N": (
            _solve_rows(gamma, s)
        ),
        "s^N - Gamma s^N is only the first-order expansion of (I + Gamma)^(-1) s^N": (
            s - s @ gamma.T
        ),
    }


def check_regularized_minimizer(fn) -> bool:
    """Chapter 7: ``fn(s_emp, gamma)`` -> rows of ``(I + Gamma)^{-1} s^N``, shape ``(n, d)``.

    Uses full (non-diagonal) symmetric positive semi-definite matrices, a diagonal one, the
    scalar case ``(c / sigma^2) I`` and ``Gamma = 0``; names the usual slips.
    """
    name = "regularized_minimizer"
    gen = torch.Generator().manual_seed(70)
    a = torch.randn(3, 3, generator=gen, dtype=torch.float64)
    eye3 = torch.eye(3, dtype=torch.float64)
    cases = [
        (torch.randn(7, 3, generator=gen, dtype=torch.float64), a @ a.T / 3 + 0.05 * eye3),
        (
            torch.randn(5, 2, generator=gen, dtype=torch.float64),
            torch.diag(torch.tensor([0.5, 4.0])),
        ),
        (torch.randn(4, 2, generator=gen, dtype=torch.float64), 0.01 / 0.04 * torch.eye(2)),
        (torch.randn(6, 3, generator=gen, dtype=torch.float64), torch.zeros(3, 3)),
    ]
    hint = "The rows of s_emp are separate vectors: solve for s_emp.T and transpose back."
    for s, gamma in cases:
        gamma = gamma.to(torch.float64)
        eye = torch.eye(gamma.shape[0], dtype=torch.float64)
        diagnose(
            fn,
            name,
            (s, gamma),
            _solve_rows(eye + gamma, s),
            where=f"(for a {tuple(gamma.shape)} Gamma)",
            rtol=1e-8,
            atol=1e-10,
            variants=_minimizer_variants(s, gamma, eye),
            hint=hint,
            shape=f"s_emp's {tuple(s.shape)}",
        )
    return passed(name)


def _vp_offset(schedule, u1: torch.Tensor, t1: float, c: float) -> dict:
    """Reference (key ``"right"``) and typical wrong terminal offsets ``u(0)``, VP, one-hot."""
    m1, s1 = float(schedule.m(t1)), float(schedule.sigma(t1))
    ratio = c / (s1 * s1 + c)
    return {
        "right": u1 * ratio ** (1 / (2 * (1 + c))) * m1 ** (-c / (1 + c)),
        "this is the VE answer sqrt(c / (sigma1^2 + c)); in VP the drift f(t) x also acts on "
        "u = x - m(t) y_n, which adds the integral of f c / (sigma^2 + c)": u1 * ratio**0.5,
        "the factor m(t1)^(-c/(1+c)) from the drift term is missing": (
            u1 * ratio ** (1 / (2 * (1 + c)))
        ),
        "check the exponent of c / (sigma1^2 + c): it is 1 / (2 (1 + c))": (
            u1 * ratio**0.5 * m1 ** (-c / (1 + c))
        ),
        "a square root is missing: ln|u| grows like (1/2) ln(sigma^2 + c)": (
            u1 * ratio ** (1 / (1 + c)) * m1 ** (-c / (1 + c))
        ),
    }


def check_terminal_offset_vp(fn) -> bool:
    """Chapter 7: ``fn(schedule, u1, t1, c)`` -> ``u(0)`` for the Tikhonov score, VP, one-hot.

    ``u = x - m(t) y_n``; the reference is the closed form
    ``u(0) = u(t1) (c / (sigma1^2 + c))^{1/(2(1+c))} m(t1)^{-c/(1+c)}`` (``sigma^2 = 1 - m^2``),
    checked on the paper's VP schedule and on the OU process, for several ``c`` and ``t1``.
    """
    name = "terminal_offset_vp"
    gen = torch.Generator().manual_seed(71)
    hint = "Use schedule.m(t1) and schedule.sigma(t1) (they accept a float)."
    for schedule in (VP(), VP(2.0, 2.0)):
        for c, t1 in ((0.05, 1.0), (0.5, 0.3), (2.0, 0.7)):
            u1 = torch.randn(5, 2, generator=gen, dtype=torch.float64)
            variants = _vp_offset(schedule, u1, t1, c)
            diagnose(
                fn,
                name,
                (schedule, u1, t1, c),
                variants.pop("right"),
                where=f"(c = {c}, t1 = {t1}, {schedule})",
                rtol=1e-7,
                atol=1e-10,
                variants=variants,
                hint=hint,
                shape=f"u1's {tuple(u1.shape)}",
            )
    return passed(name)


def _stable_weights(schedule, data, x, t):
    m, var = float(schedule.m(t)), float(schedule.sigma(t)) ** 2
    logits = -((x[:, None, :] - m * data[None]) ** 2).sum(-1) / (2 * var)  # (n, N)
    return torch.softmax(logits, 1), m, var


def check_tikhonov_score_fixed(fn) -> bool:
    """Chapter 7, assignment (a): ``fn(schedule, data, c)`` -> the score ``s_c``, repaired.

    The returned ``score(x, t)`` must equal ``(m xbar - x) / (sigma^2 + c)`` for VE and VP
    (also with ``T = 2``), in d = 3, at ``t`` from ``T/2`` down to ``1e-6``. Names the two bugs
    of the chapter's broken version (weights that underflow to 0/0, ``m(t)`` missing in front of
    ``xbar``) and ``c`` added to ``sigma`` instead of ``sigma^2``.
    """
    name = "tikhonov_score_fixed"
    gen = torch.Generator().manual_seed(73)
    data = torch.randn(12, 3, generator=gen, dtype=torch.float64)
    x = 1.5 * torch.randn(9, 3, generator=gen, dtype=torch.float64)
    for schedule in (VE(), VP(), VP(T=2.0)):
        for c in (1e-3, 0.2):
            score = _call(fn, name, schedule, data.clone(), c)
            if not callable(score):
                fail(f"{name} should return a function score(x, t), got {type(score).__name__}")
            for t in (schedule.T / 2, 0.05, 1e-4, 1e-6):
                w, m, var = _stable_weights(schedule, data, x, t)
                xbar = w @ data
                where = f"({schedule}, c = {c:g}, t = {t:g})"
                diagnose(
                    score,
                    "your score",
                    (x, t),
                    (m * xbar - x) / (var + c),
                    where=where,
                    rtol=1e-8,
                    atol=1e-10,
                    nonfinite="the weights underflow: every exp(-|x - m y_n|^2 / (2 sigma^2)) "
                    "is 0 in floating point at this small t, so normalising divides 0 by 0; "
                    "compute them with torch.softmax of the logits (log-sum-exp)",
                    variants={
                        "m(t) is missing in front of xbar: the score is (m xbar - x) / "
                        "(sigma^2 + c) (VE hides the bug, m = 1)": (xbar - x) / (var + c),
                        "c is added to sigma^2, not to sigma: (m xbar - x) / (sigma^2 + c)": (
                            (m * xbar - x) / (var**0.5 + c)
                        ),
                        "this is the empirical score s^N: the denominator is sigma^2 + c": (
                            (m * xbar - x) / var
                        ),
                    },
                )
    return passed(name)


def _frac_d(c: float, d: int, tol: float) -> float:
    """``P(chi^2_d < tol^2 / c)``: the memorized fraction of ``y_n + sqrt(c) xi`` in d dims."""
    a, x = torch.tensor(d / 2, dtype=torch.float64), torch.tensor(tol * tol / (2 * c))
    return float(torch.special.gammainc(a, x.double()))


def check_frac_prediction(fn) -> bool:
    """Chapter 7, assignment (b): ``fn(c, d, tol)`` -> predicted ``frac(tol)`` in d dimensions.

    The endpoints are ``y_n + sqrt(c) xi`` with ``xi ~ N(0, I_d)``, so ``frac = P(|xi|^2 <
    tol^2 / c)``, the chi-square CDF with d degrees of freedom, ``gammainc(d/2, tol^2/(2c))``.
    Names the 2-D (Rayleigh) law, the shape d in place of d/2, tol in place of tol^2, and the
    complement.
    """
    name = "frac_prediction"
    for c, d, tol in ((1e-4, 2, 1e-2), (2e-5, 6, 1e-2), (1e-3, 4, 5e-2), (0.01, 10, 0.3)):
        want = _frac_d(c, d, tol)
        variants = {
            "this is the d = 2 (Rayleigh) answer 1 - exp(-tol^2 / 2c); in d dimensions "
            "|xi|^2 is chi-square with d degrees of freedom": 1 - math.exp(-tol * tol / (2 * c)),
            "the chi-square law with d degrees of freedom is a Gamma law of shape d/2, not d": (
                float(
                    torch.special.gammainc(torch.tensor(float(d)), torch.tensor(tol**2 / (2 * c)))
                )
            ),
            "compare |xi| with tol / sqrt(c): the squared radius is below tol^2 / c": (
                _frac_d(c, d, math.sqrt(tol))
            ),
            "this is the fraction outside the tolerance, 1 - frac": 1 - want,
        }
        diagnose(
            fn,
            name,
            (c, d, tol),
            torch.tensor(want, dtype=torch.float64),
            where=f"at c = {c:g}, d = {d}, tol = {tol:g}",
            rtol=1e-6,
            atol=1e-9,
            variants=variants,
            hint="torch.special.gammainc(a, x) takes tensors: torch.tensor(d / 2), ...",
            shape="one number",
        )
    return passed(name)


#: The measurement protocol of assignment (c): Heun on this grid, tolerance 1e-2.
MEASURE_STEPS, MEASURE_T_MIN, MEASURE_TOL = 200, 1e-8, 1e-2


def _measured_frac(schedule, data, c, n_samples, seed) -> float:
    gen = torch.Generator().manual_seed(seed)
    x = schedule.prior(n_samples, data.shape[1], generator=gen)
    ts = time_grid(schedule, MEASURE_STEPS, t_min=MEASURE_T_MIN)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small tensors: one thread is fastest (and unaffected by load)
    try:
        out = probability_flow(schedule, tikhonov_score(schedule, data, c), x, ts, method="heun")
    finally:
        torch.set_num_threads(threads)
    return fraction_within(out, data, MEASURE_TOL)


@functools.cache
def _measure_cases() -> tuple:
    """The check's experiments ``(schedule, data, c, n_samples, seed, frac)``, run once."""
    gen = torch.Generator().manual_seed(74)
    cases = [
        (VE(), torch.randn(25, 4, generator=gen, dtype=torch.float64), 2e-5, 300, 3),
        (VE(), torch.randn(30, 6, generator=gen, dtype=torch.float64), 2.5e-5, 300, 11),
    ]
    return tuple((*case, _measured_frac(*case)) for case in cases)


def check_measure_frac(fn) -> bool:
    """Chapter 7, assignment (c): ``fn(schedule, data, c, n_samples, seed)`` -> measured frac.

    Reruns the experiment (latents ``schedule.prior(n_samples, d, generator=Generator().
    manual_seed(seed))``, Heun on ``time_grid(schedule, 200, t_min=1e-8)``, ``frac(1e-2)``) on
    data in d = 4 and d = 6 and accepts the student's fraction within 2 samples (another accurate
    integrator moves a sample or two across the tolerance); says which way it is off and whether
    it is the prediction of part (b) instead of a measurement.
    """
    name = "measure_frac"
    for schedule, data, c, n, seed, want in _measure_cases():
        where = f"(d = {data.shape[1]}, c = {c:g}, n_samples = {n}, seed = {seed})"
        raw = _call(fn, name, schedule, data.clone(), c, n, seed)
        got = as_float(raw, f"{name} {where}")
        if not math.isfinite(got):
            fail(f"{name} {where} returned NaN or inf; return the measured fraction")
        slack = 2.5 / n
        if abs(got - want) <= slack:
            continue
        if abs(got - want * n) <= 2.5:
            fail(
                f"{name} {where} returned {got:.4g}, the number of memorized samples: return "
                f"the fraction (divide by n_samples = {n})"
            )
        theory = _frac_d(c, data.shape[1], MEASURE_TOL)
        if abs(got - theory) < 1e-6:
            fail(
                f"{name} {where} returned {got:.4g}, the prediction of part (b); return the "
                f"fraction your samples achieve (the experiment gives {want:.4g})"
            )
        way = "higher" if got > want else "lower"
        fail(
            f"{name} {where} returned {got:.4g}, {way} than the experiment's {want:.4g} (more "
            f"than 2 of {n} samples apart): use the latents schedule.prior(n_samples, d, "
            "generator=torch.Generator().manual_seed(seed)), the score mdiff.tikhonov_score, an "
            "accurate integration to t = 0 and the tolerance 1e-2 (strictly below)"
        )
    return passed(name)
