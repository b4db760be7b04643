"""Chapter 7 checks: the regularized minimizer, the VP terminal offset, the penalized loss."""

from __future__ import annotations

import torch

from ..schedules import VE, VP
from ..scores import gaussian_score
from .feedback import diagnose, passed


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


def _loss_variants(sig, s, s_clean, z, c, fit, pen) -> dict:
    """Typical wrong penalized losses (message -> value)."""
    sig2 = sig[:, 0] ** 2
    return {
        "the penalty is c |s|^2: lambda = sigma^2 times Gamma = c / sigma^2 leaves no "
        "sigma (you have c sigma^2 |s|^2)": fit + c * sig2 * pen,
        "the penalty is c |s|^2: lambda = sigma^2 times Gamma = c / sigma^2 leaves no "
        "sigma (you have c |s|^2 / sigma^2)": fit + c * pen / sig2,
        "evaluate the score at the noised point m x0 + sigma z, not at x0": (
            ((sig * s_clean + z) ** 2).sum(1) + c * (s_clean * s_clean).sum(1)
        ),
        "the Tikhonov penalty c |s|^2 is missing": fit,
        "the fit term is |sigma s + z|^2 (plus sign: s = -z / sigma at best)": (
            ((sig * s - z) ** 2).sum(1) + c * pen
        ),
    }


def check_penalized_dsm_loss(fn) -> bool:
    """Chapter 7: ``fn(schedule, score, x0, t, z, c)`` -> ``|sigma s + z|^2 + c |s|^2`` per sample.

    ``s = score(m x0 + sigma z, t)``; shape ``(n,)``. Names the usual slips (a sigma too many
    or too few in the penalty, the score at the clean point, no penalty).
    """
    name = "penalized_dsm_loss"
    gen = torch.Generator().manual_seed(72)
    data = torch.randn(6, 2, generator=gen, dtype=torch.float64)
    mean = torch.tensor([0.5, -1.0], dtype=torch.float64)
    cov = torch.tensor([[1.0, 0.3], [0.3, 0.5]], dtype=torch.float64)
    for schedule in (VE(), VP()):
        score = gaussian_score(schedule, mean, cov)
        x0 = data[torch.randint(0, 6, (40,), generator=gen)]
        t = torch.rand(40, generator=gen, dtype=torch.float64) * 0.9 + 0.05
        z = torch.randn(40, 2, generator=gen, dtype=torch.float64)
        m, sig = schedule.m(t)[:, None], schedule.sigma(t)[:, None]
        s = score(m * x0 + sig * z, t)
        fit, pen = ((sig * s + z) ** 2).sum(1), (s * s).sum(1)
        for c in (0.0, 0.05, 1.0):
            diagnose(
                fn,
                name,
                (schedule, score, x0, t, z, c),
                fit + c * pen,
                where=f"(c = {c}, {schedule})",
                rtol=1e-8,
                atol=1e-10,
                variants=_loss_variants(sig, s, score(x0, t), z, c, fit, pen),
            )
    return passed(name)
