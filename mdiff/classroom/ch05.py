"""Chapter 5 checks: the number of points whose collapse time is ``t``, the collapse heuristic."""

from __future__ import annotations

import math

import torch

from .feedback import _call, as_booleans, as_float, fail, passed, tolerance


def _points_needed(t, d, var_data=1.0, eps=0.5) -> float:
    return eps / (1 - eps) * (1 + var_data / math.expm1(2 * t)) ** (d / 2)


def _log_close(got: float, want: float, slack: float = 0.0) -> bool:
    """Agreement on a log scale (the numbers span hundreds of orders of magnitude); ``slack`` is
    the relative rounding the student's number carries (float32's, if it is a float32 number)."""
    if not got > 0:
        return False
    return abs(math.log(got) - math.log(want)) <= max(1e-8 * abs(math.log(want)) + 1e-10, slack)


def _points_variants(t, d, var, eps) -> dict:
    """Typical wrong answers (message -> value)."""
    ratio = eps / (1 - eps)
    return {
        "eps is ignored: N = N_eps eps / (1 - eps)": _points_needed(t, d, var, 0.5),
        "N_eps = N (1 - eps) / eps, so N = N_eps eps / (1 - eps), not N_eps (1 - eps) / eps": (
            _points_needed(t, d, var, 1 - eps)
        ),
        "var_data is ignored: it multiplies 1 / (e^(2t) - 1)": _points_needed(t, d, 1.0, eps),
        "the exponent is d/2: N_eps^(2/d) = 1 + var_data / (e^(2t) - 1)": ratio
        * (1 + var / math.expm1(2 * t)) ** (2 / d),
        "for OU, m^2 / sigma^2 = 1 / (e^(2t) - 1), not 1 / (e^t - 1)": ratio
        * (1 + var / math.expm1(t)) ** (d / 2),
    }


def check_points_needed(fn) -> bool:
    """Chapter 5: ``fn(t, d, var_data=1.0, eps=0.5)`` -> the N whose collapse time is ``t``.

    Inverts ``t_C(N_eps) = 1/2 log(1 + var_data / (N_eps^(2/d) - 1))``:
    ``N = eps / (1 - eps) (1 + var_data / (e^(2t) - 1))^(d/2)``. Compared on a log scale; names
    an ignored ``eps`` or ``var_data``, the exponent ``2/d`` in place of ``d/2`` and ``e^t`` in
    place of ``e^(2t)``.
    """
    name = "points_needed"
    hint = "Use the keyword arguments var_data and eps."
    cases = [(0.1, 100, 1.0, 0.5), (0.3, 20, 1.0, 0.5), (0.05, 10, 2.0, 0.5), (0.2, 50, 1.0, 0.01)]
    for t, d, var, eps in cases:
        want = _points_needed(t, d, var, eps)
        got = as_float(_call(fn, name, t, d, var_data=var, eps=eps, hint=hint), name)
        where = f"for t = {t:g}, d = {d}, var_data = {var:g}, eps = {eps:g}"
        if not math.isfinite(got):
            fail(f"{name} {where} returned NaN or inf ({got}), expected {want:.6g}")
        slack, _ = tolerance(torch.tensor(got, dtype=torch.float64), want, 0.0, 0.0)
        if _log_close(got, want, slack):
            continue
        message = next(
            (
                text
                for text, value in _points_variants(t, d, var, eps).items()
                if _log_close(got, value, slack) and not _log_close(value, want, slack)
            ),
            f"got {got:.10g}, expected {want:.10g}",
        )
        fail(f"{name} {where}: {message}")
    return passed(name)


def _collapse_cases(gen) -> list:
    """``(y, data, d1, d2, rhos)``: samples near 50 points in d = 3 and near 30 points in d = 2."""
    cases = []
    for n_data, d, n, rhos in ((50, 3, 40, (0.5, 0.3, 0.2, 0.1)), (30, 2, 25, (0.4, 0.15))):
        data = torch.randn(n_data, d, generator=gen, dtype=torch.float64)
        y = data[:n] + 0.3 * torch.randn(n, d, generator=gen, dtype=torch.float64)
        dist = torch.cdist(y, data).sort(1).values
        cases.append((y, data, dist[:, 0], dist[:, 1], rhos))
    return cases


def _collapse_rules() -> dict:
    """The rule (key None) and typical wrong rules, as functions of ``(rho, d1, d2, N)``."""
    return {
        None: lambda rho, d1, d2, n: rho**2 < (d2**2 - d1**2) / (2 * math.log(n)),
        "the gap is between squared distances, d_2^2 - d_1^2, not d_2 - d_1": (
            lambda rho, d1, d2, n: rho**2 < (d2 - d1) / (2 * math.log(n))
        ),
        "use the natural logarithm log N, not log10": (
            lambda rho, d1, d2, n: rho**2 < (d2**2 - d1**2) / (2 * math.log10(n))
        ),
        "the factor 2 in 2 log N is missing": (
            lambda rho, d1, d2, n: rho**2 < (d2**2 - d1**2) / math.log(n)
        ),
        "compare rho^2, not rho, with the gap": (
            lambda rho, d1, d2, n: rho < (d2**2 - d1**2) / (2 * math.log(n))
        ),
        "the inequality is reversed: collapsed means rho^2 below the threshold": (
            lambda rho, d1, d2, n: rho**2 > (d2**2 - d1**2) / (2 * math.log(n))
        ),
    }


def check_heuristic_collapsed(fn) -> bool:
    """Chapter 5: ``fn(y, data, rho)`` -> bool ``(n,)``: ``rho^2 < (d_2^2 - d_1^2) / (2 log N)``.

    ``d_1 <= d_2`` are the distances from ``y`` to its nearest and second-nearest training
    points. Names a gap of distances instead of squared distances, log10, a missing factor 2,
    ``rho`` in place of ``rho^2`` and the inequality reversed (judged over several ``rho``).
    """
    name = "heuristic_collapsed"
    test = "the test rho^2 < (d_2^2 - d_1^2) / (2 log N), one boolean per sample"
    answers = []  # (the student's booleans, rho, d1, d2, N)
    for y, data, d1, d2, rhos in _collapse_cases(torch.Generator().manual_seed(43)):
        for rho in rhos:
            got = as_booleans(_call(fn, name, y, data, rho), name, test)
            if got.shape != (len(y),):
                fail(f"{name} returned shape {tuple(got.shape)}, expected (n,) = ({len(y)},)")
            answers.append((got, rho, d1, d2, len(data)))

    def follows(rule) -> bool:
        return all(torch.equal(got, rule(rho, d1, d2, n)) for got, rho, d1, d2, n in answers)

    rules = _collapse_rules()
    right = rules.pop(None)
    if follows(right):
        return passed(name)
    message = next((text for text, rule in rules.items() if follows(rule)), None)
    wrong = sum(int((got != right(rho, d1, d2, n)).sum()) for got, rho, d1, d2, n in answers)
    total = sum(len(got) for got, *_ in answers)
    fail(f"{name}: {message}" if message else f"{name} disagrees on {wrong} of {total} cases")
