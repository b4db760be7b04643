"""Chapter 3 checks: stable weights (float32 too), the score from the weights, the growth
exponent of the score as t -> 0, weighted data."""

from __future__ import annotations

import math

import torch

from ..schedules import VE, VP
from ..scores import empirical_score, posterior_weights
from .coercion import _call, as_float, as_tensor
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


def _logits(schedule, data, x, t) -> torch.Tensor:
    m, sig2 = schedule.m(t), schedule.sigma(t) ** 2
    return -((x[:, None, :] - m * data[None]) ** 2).sum(-1) / (2 * sig2)


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


def _why_nonfinite(fn) -> str:
    """Why the weights are NaN, from ``fn`` on three float32 points whose largest logits are
    -150, -300 and -150 (the last one near a training point far from the origin): plain
    float32 exponentials fail on all three, float64 ones on none, a maximum taken over the
    whole array (-150) only on the second, and logits without ``|x|^2`` (which overflow) on
    the third."""
    schedule, t = VE(), 1e-3
    data = torch.tensor([[0.0, 0.0], [0.0, 3.0]])
    r = (2 * float(schedule.sigma(t)) ** 2 * torch.tensor([150.0, 300.0, 150.0])).sqrt()
    x = torch.stack([r, torch.zeros(3)], 1)
    x[2] = torch.tensor([0.0, 3.0 + float(r[2])])
    try:
        finite = torch.isfinite(torch.as_tensor(fn(schedule, data, x, t))).all(1).tolist()
    except Exception:  # the diagnosis is a courtesy; the failure stands without it
        return _OVERFLOW
    if finite == [True, False, True]:
        return (
            "you subtracted the largest logit of the whole array; subtract each row's own "
            "maximum (logits.max(1, keepdim=True)), so that every row keeps a term exp(0) = 1"
        )
    if finite == [True, True, True]:
        return (
            "more precision only postpones the problem: float64 moves the underflow threshold "
            "of exp from about -104 (float32) to -745, and at small t a whole row of kernels "
            f"still underflows to 0 (0/0 = NaN). {_OVERFLOW.split('. ', 1)[1]}"
        )
    return _OVERFLOW


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
    ``t = 1, 0.3, 0.01, 1e-4``, in float64 and with float32 inputs (held to float32
    precision); requires rows that sum to one and finite weights where naive exponentials
    underflow (``0/0 = NaN``) or overflow; names a maximum taken over the whole array instead of
    per row, and float64 used in place of the log-sum-exp.
    """
    name = "stable_weights"
    data64, x64 = _points(torch.Generator().manual_seed(30))
    for dtype in (torch.float32, torch.float64):
        data, x = data64.to(dtype), x64.to(dtype)
        for schedule in (VP(), VE()):
            label = type(schedule).__name__ + ("" if dtype == torch.float64 else ", float32")
            for t in (1.0, 0.3, 0.01, 1e-4):
                want = posterior_weights(schedule, data64, x.double(), t)
                where = f"({label}, t = {t:g})"
                raw = _call(fn, name, schedule, data, x, t)
                got = as_tensor(raw, f"{name} {where}")
                if got.shape == want.shape and not torch.isfinite(got).all():
                    fail(f"{name} {where} returned NaN or inf: " + _why_nonfinite(fn))
                got = result_of(
                    lambda *a, raw=raw: raw,
                    name,
                    (),
                    want,
                    where=where,
                    shape=f"(n, N) = {tuple(want.shape)}",
                    nonfinite=_OVERFLOW,
                )
                _sum_to_one(got, f"at t = {t:g} ({label})")
                variants = _weight_variants(schedule, data64, x.double(), t)
                compare(got, want, name, where=where, rtol=1e-7, atol=1e-10, variants=variants)
    return passed(name)


def check_score_from_weights(fn) -> bool:
    """Chapter 3: ``fn(schedule, data, x, t, w)`` -> ``s^N = (m sum_n w_n y_n - x) / sigma^2``.

    ``w`` are the posterior weights ``(n, N)``. Checked on VP and VE at several ``t``, also with
    float32 inputs; names a sign error, a missing ``m(t)``, ``sigma`` instead of ``sigma^2``,
    and the denoiser returned in place of the score.
    """
    name = "score_from_weights"
    data64, x64 = _points(torch.Generator().manual_seed(31))
    for dtype in (torch.float64, torch.float32):
        data, x = data64.to(dtype), x64.to(dtype)
        for schedule in (VP(), VE()):
            for t in (1.0, 0.3, 0.02):
                w64 = posterior_weights(schedule, data64, x.double(), t)
                m, sig2 = float(schedule.m(t)), float(schedule.sigma(t)) ** 2
                xbar = w64 @ data64
                want = (m * xbar - x.double()) / sig2
                variants = {
                    "sign error: your score points away from the data; it is (m xbar - x) / "
                    "sigma^2, which points from x towards m(t) xbar": -want,
                    "missing m(t): the score is (m(t) xbar - x) / sigma^2": (xbar - x.double())
                    / sig2,
                    "divide by sigma(t)^2, not by sigma(t)": (m * xbar - x.double()) / sig2**0.5,
                    "you returned the weighted mean xbar (the denoiser), not the score": xbar,
                    "you returned m xbar - x without dividing by sigma(t)^2": m * xbar - x.double(),
                }
                kind = "" if dtype == torch.float64 else ", float32"
                diagnose(
                    fn,
                    name,
                    (schedule, data, x, t, w64.to(dtype)),
                    want,
                    where=f"({type(schedule).__name__}{kind}, t = {t:g})",
                    rtol=1e-8,
                    atol=1e-10,
                    variants=variants,
                    shape=f"{tuple(want.shape)} (hint: w @ data has shape (n, d))",
                )
    return passed(name)


def _exponent(schedule, data, x, ts, against: str = "sigma", power: int = 1) -> float:
    """``-slope`` of the least-squares fit of ``log |s^N(x, t)|^power`` on ``log sigma(t)``."""
    score = empirical_score(schedule, data.double())
    norms = torch.stack([score(x.double(), float(t)).norm() for t in ts])
    ts = torch.as_tensor(ts, dtype=torch.float64)
    u = {"sigma": schedule.sigma(ts), "sigma2": schedule.sigma(ts) ** 2, "t": ts}[against]
    u, v = u.log(), power * norms.log()
    return float(-((u - u.mean()) * (v - v.mean())).sum() / ((u - u.mean()) ** 2).sum())


def _exponent_cases() -> list:
    """``(schedule, data, x, ts, where)``: a probe point between two training points."""
    gen = torch.Generator().manual_seed(33)
    cases = []
    for schedule, d, lo, hi, k in (
        (VP(), 2, -4, -2, 9),
        (VE(), 2, -6, -4, 7),
        (VE(), 2, -3, -1, 7),
    ):
        data = torch.randn(6, d, generator=gen, dtype=torch.float64)
        x = (0.7 * data[0] + 0.3 * data[1])[None]
        ts = torch.logspace(lo, hi, k, dtype=torch.float64)
        cases.append((schedule, data, x, ts, f"{type(schedule).__name__}, t from 1e{lo} to 1e{hi}"))
    data = torch.randn(9, 3, generator=gen, dtype=torch.float64)  # d = 3, float32, VP
    ts = torch.logspace(-4, -1, 6, dtype=torch.float32)
    x = (0.6 * data[2] + 0.4 * data[5])[None].float()
    cases.append((VP(), data.float(), x, ts, "VP, d = 3, float32 inputs, t from 1e-4 to 0.1"))
    return cases


def check_score_norm_exponent(fn) -> bool:
    """Chapter 3: ``fn(schedule, data, x, ts)`` -> ``p`` with ``|s^N(x, t)| ~ sigma(t)^(-p)``.

    ``x`` is one point of shape ``(1, d)``, ``ts`` a 1-D tensor of times; ``p`` is minus the
    least-squares slope of ``log |s^N(x, t)|`` on ``log sigma(t)``. Compared with the same fit of
    the exact empirical score on VP and VE, in the collapsed regime (``p = 2``) and where the
    weights are still mixed (``p != 2``), in d = 2 and d = 3, with float32 inputs; names the
    slope returned with its sign, a fit against ``sigma^2`` or ``t``, and the squared norm.
    """
    name = "score_norm_exponent"
    for schedule, data, x, ts, where in _exponent_cases():
        want = _exponent(schedule, data, x, ts)
        got = as_float(_call(fn, name, schedule, data, x, ts), f"{name} ({where})")
        if abs(got - want) <= 2e-3:
            continue
        if not math.isfinite(got):
            fail(
                f"{name} ({where}) returned {got} (NaN or inf): a score that is NaN at some t "
                "(weights 0/0: is your part (a) stable at small t?) or the log of a zero norm"
            )
        variants = {
            "you returned the slope of log|s| on log sigma; p is minus that slope (the norm "
            "grows as sigma shrinks, so p > 0)": -want,
            "you fitted log|s| against log sigma^2; fit against log sigma(t)": want / 2,
            "you fitted log|s| against log t; fit against log sigma(t) (sigma(t)^2 is not "
            "proportional to t on VP)": _exponent(schedule, data, x, ts, against="t"),
            "you fitted the squared norm |s|^2; fit log |s|": 2 * want,
        }
        for message, value in variants.items():
            if abs(value - want) > 2e-3 and abs(got - value) <= 2e-3:
                fail(f"{name} ({where}): {message}")
        way = "larger" if got > want else "smaller"
        fail(
            f"{name} ({where}) returned {got:.4g}, {way} than the fit of the exact score, "
            f"{want:.4g}: evaluate |s^N(x, t)| at each t of ts with your score, then fit a "
            "straight line to log |s| against log sigma(t) by least squares and return minus "
            "its slope"
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
