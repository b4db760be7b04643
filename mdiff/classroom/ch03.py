"""Chapter 3 checks: stable posterior weights, the score from the weights, weighted data."""

from __future__ import annotations

import torch

from ..schedules import VE, VP
from ..scores import posterior_weights
from .feedback import close, compare, diagnose, fail, passed, precision_note, result_of, shown

_OVERFLOW = (
    "the naive exponential overflows or underflows (every exp(-|x - m y|^2 / (2 sigma^2)) is 0 "
    "at small t, and 0/0 = NaN). Subtract each row's largest logit before exponentiating "
    "(log-sum-exp), or use torch.softmax"
)


def _points(gen) -> tuple[torch.Tensor, torch.Tensor]:
    data = torch.randn(7, 2, generator=gen, dtype=torch.float64)
    x = 1.3 * torch.randn(11, 2, generator=gen, dtype=torch.float64)
    return data, x


def _weight_variants(schedule, data, x, t: float) -> dict:
    m, sig2 = float(schedule.m(t)), float(schedule.sigma(t)) ** 2
    sq = ((x[:, None, :] - m * data[None]) ** 2).sum(-1)
    sq1 = ((x[:, None, :] - data[None]) ** 2).sum(-1)
    return {
        "missing m(t): the mixture components are centred at m(t) y_n, not y_n": torch.softmax(
            -sq1 / (2 * sig2), 1
        ),
        "sign error in the exponent: your weights favour the farthest training point; the "
        "logits are -|x - m y_n|^2 / (2 sigma^2)": torch.softmax(sq / (2 * sig2), 1),
        "divide the squared distance by 2 sigma(t)^2, not by 2 sigma(t)": torch.softmax(
            -sq / (2 * sig2**0.5), 1
        ),
        "the factor 1/2 is missing: the logits are -|x - m y_n|^2 / (2 sigma^2)": torch.softmax(
            -sq / sig2, 1
        ),
    }


def _sum_to_one(got: torch.Tensor, where: str) -> None:
    """Fail unless every row of the weights ``got`` sums to 1 (to the precision of ``got``)."""
    sums = got.sum(1)
    if close(sums, torch.ones_like(sums), rtol=1e-9, atol=1e-9, like=got):
        return
    off = (sums - 1).abs()
    worst, note = float(sums[off.argmax()]), precision_note(got, float(off.max()))
    if note:
        fail(f"your weights sum to 1 only approximately {where}: a row sums to {worst!r}{note}")
    fail(
        f"your weights do not sum to 1 {where}: a row sums to {shown(worst, 1.0, 4)}. Normalize "
        "by the sum over the training points"
    )


def check_stable_weights(fn) -> bool:
    """Chapter 3: ``fn(schedule, data, x, t)`` -> posterior weights ``(n, N)``, stably.

    Compares with :func:`mdiff.posterior_weights` on VP (where ``m(1) ~ 0.47``) and VE at
    ``t = 1, 0.3``; then requires rows that sum to one at ``t = 0.01`` and finite weights at
    ``t = 1e-4``, where naive exponentials underflow (``0/0 = NaN``) or overflow.
    """
    name = "stable_weights"
    data, x = _points(torch.Generator().manual_seed(30))
    for schedule in (VP(), VE()):
        label = type(schedule).__name__
        for t in (1.0, 0.3, 0.01, 1e-4):
            want = posterior_weights(schedule, data, x, t)
            where = f"({label}, t = {t:g})"
            shape = f"(n, N) = {tuple(want.shape)}"
            got = result_of(
                fn,
                name,
                (schedule, data, x, t),
                want,
                where=where,
                shape=shape,
                nonfinite=_OVERFLOW,
            )
            _sum_to_one(got, f"at t = {t:g} ({label})")
            variants = _weight_variants(schedule, data, x, t)
            compare(got, want, name, where=where, rtol=1e-7, atol=1e-10, variants=variants)
    return passed(name)


def check_score_from_weights(fn) -> bool:
    """Chapter 3: ``fn(schedule, data, x, t, w)`` -> ``s^N = (m sum_n w_n y_n - x) / sigma^2``.

    ``w`` are the posterior weights ``(n, N)``. Checked on VP and VE at several ``t``; names a
    sign error, a missing ``m(t)``, ``sigma`` instead of ``sigma^2``, and the denoiser
    returned in place of the score.
    """
    name = "score_from_weights"
    data, x = _points(torch.Generator().manual_seed(31))
    for schedule in (VP(), VE()):
        for t in (1.0, 0.3, 0.02):
            w = posterior_weights(schedule, data, x, t)
            m, sig2 = float(schedule.m(t)), float(schedule.sigma(t)) ** 2
            xbar = w @ data
            want = (m * xbar - x) / sig2
            variants = {
                "sign error: your score points away from the data; it is (m xbar - x) / "
                "sigma^2, which points from x towards m(t) xbar": -want,
                "missing m(t): the score is (m(t) xbar - x) / sigma^2": (xbar - x) / sig2,
                "divide by sigma(t)^2, not by sigma(t)": (m * xbar - x) / sig2**0.5,
                "you returned the weighted mean xbar (the denoiser), not the score": xbar,
                "you returned m xbar - x without dividing by sigma(t)^2": m * xbar - x,
            }
            diagnose(
                fn,
                name,
                (schedule, data, x, t, w),
                want,
                where=f"({type(schedule).__name__}, t = {t:g})",
                rtol=1e-8,
                atol=1e-10,
                variants=variants,
                shape=f"{tuple(want.shape)} (hint: w @ data has shape (n, d))",
            )
    return passed(name)


def _weighted_score(schedule, data, probs, x, t, kind: str = "correct"):
    m, sig2 = float(schedule.m(t)), float(schedule.sigma(t)) ** 2
    logits = -((x[:, None, :] - m * data[None]) ** 2).sum(-1) / (2 * sig2)
    if kind == "correct":
        w = torch.softmax(logits + probs.log(), 1)
    elif kind == "uniform":
        w = torch.softmax(logits, 1)
    elif kind == "unnormalized":
        w = probs * torch.softmax(logits, 1)
    else:  # "minus": log pi subtracted
        w = torch.softmax(logits - probs.log(), 1)
    return (m * (w @ data) - x) / sig2


_WEIGHTED_SLIPS = {
    "uniform": "your score ignores the probabilities pi_n: it is the score of the "
    "uniform empirical measure. Multiply each kernel by pi_n (add log pi_n to the logits)",
    "unnormalized": "the weights pi_n w_n do not sum to 1: renormalize them, or add "
    "log pi_n to the logits before the softmax",
    "minus": "sign error: w_n is proportional to pi_n exp(...), so log pi_n is added to "
    "the logits, not subtracted",
}


def check_weighted_score(fn) -> bool:
    """Chapter 3: ``fn(schedule, data, probs, x, t)`` -> the minimizer for weighted data.

    The training points carry probabilities ``pi_n`` (``probs``, shape ``(N,)``); the
    minimizer is ``(m xbar - x) / sigma^2`` with ``w_n ∝ pi_n exp(-|x - m y_n|^2 / (2
    sigma^2))``. Checked on VP and VE down to ``t = 1e-4`` (where naive exponentials give
    NaN); names ignoring ``pi``, forgetting to renormalize, and the sign of ``log pi``.
    """
    name = "weighted_score"
    gen = torch.Generator().manual_seed(32)
    data, x = _points(gen)
    probs = torch.rand(len(data), generator=gen, dtype=torch.float64) + 0.2
    probs = probs / probs.sum()
    for schedule in (VP(), VE()):
        for t in (1.0, 0.3, 0.01, 1e-4):
            want = _weighted_score(schedule, data, probs, x, t)
            variants = {
                text: _weighted_score(schedule, data, probs, x, t, kind)
                for kind, text in _WEIGHTED_SLIPS.items()
            }
            diagnose(
                fn,
                name,
                (schedule, data, probs, x, t),
                want,
                where=f"({type(schedule).__name__}, t = {t:g})",
                rtol=1e-8,
                atol=1e-8 * float(want.abs().max()),
                variants=variants,
                nonfinite="the naive exponential overflows or underflows at small t. Work with "
                "logits and torch.softmax (log-sum-exp)",
            )
    return passed(name)
