"""Chapter 5 checks: the number of points whose collapse time is ``t``, the collapse heuristic,
and the Part II assignment (nearest-neighbour gaps, the predicted and the measured collapse)."""

from __future__ import annotations

import math

import torch

from .feedback import _call, as_booleans, as_float, diagnose, fail, passed, tolerance


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


# ---------------------------------------------------------------------------------------
# The Part II assignment: predicting the collapse from the training set


def _nn_sq(data: torch.Tensor) -> torch.Tensor:
    """Squared distance from each training point to its nearest *other* training point."""
    sq = ((data[:, None, :] - data[None]) ** 2).sum(-1)
    sq.fill_diagonal_(math.inf)
    return sq.min(1).values


def _nn_cases() -> list:
    """Data sets ``(N, d)`` in float64: random ones, one in d = 1, one with a repeated point."""
    gen = torch.Generator().manual_seed(51)
    cases = [torch.randn(n, d, generator=gen, dtype=torch.float64) for n, d in ((30, 3), (9, 1))]
    cases.append(2.0 * torch.rand(40, 8, generator=gen, dtype=torch.float64))
    twice = torch.randn(12, 2, generator=gen, dtype=torch.float64)
    twice[5] = twice[2]  # two equal training points: their nearest neighbour is at distance 0
    cases.append(twice)
    return cases


def check_nn_sq_distances(fn) -> bool:
    """Part II assignment (a): ``fn(data)`` -> ``(N,)``, each point's squared distance to its
    nearest other training point.

    Compared on four data sets (d = 1, 2, 3, 8; one with two equal points, whose answer is 0).
    Names the distance to the point itself (all zeros), distances not squared, the
    second-nearest point, and excluding zero distances instead of the point itself.
    """
    name = "nn_sq_distances"
    for data in _nn_cases():
        want = _nn_sq(data)
        sq = ((data[:, None, :] - data[None]) ** 2).sum(-1)
        no_zeros = sq.masked_fill(sq == 0, math.inf).min(1).values
        second = sq.masked_fill(torch.eye(len(data), dtype=torch.bool), math.inf)
        second = second.sort(1).values[:, 1]
        diagnose(
            fn,
            name,
            (data,),
            want,
            where=f"for N = {len(data)} points in d = {data.shape[1]}",
            rtol=1e-9,
            atol=1e-12,
            shape=f"(N,) = ({len(data)},)",
            explain=lambda got: (
                "exclude the point itself: its distance to itself is 0, and the nearest "
                "OTHER training point is meant"
                if float(got.abs().max()) < 1e-6
                else None
            ),
            variants={
                "return squared distances, not distances": want.sqrt(),
                "that is the second-nearest other point; take the nearest": second,
                "exclude each point itself, not every zero distance: two equal training "
                "points are each other's nearest neighbour, at distance 0": no_zeros,
            },
        )
    return passed(name)


def _nn_prediction(data: torch.Tensor) -> float:
    """``1/2 log(1 + median_n r_n^2 / (2 log N))``: the heuristic collapse time under OU."""
    r2 = float(_nn_sq(data.to(torch.float64)).median())
    return 0.5 * math.log1p(r2 / (2 * math.log(len(data))))


def _prediction_variants(sq: torch.Tensor, r2: float, n: int) -> dict:
    """Typical wrong predictions (message -> value); ``r2`` the median of ``sq``."""
    log_n = math.log(n)
    return {
        "the factor 1/2 is missing: rho^2 = e^(2t) - 1, so t = 1/2 log(1 + rho^2)": math.log1p(
            r2 / (2 * log_n)
        ),
        "the heuristic bounds rho^2, not rho: rho^2 = r^2 / (2 log N)": 0.5
        * math.log1p(math.sqrt(r2 / (2 * log_n))),
        "use the median of r_n^2 over the training points, not the mean": 0.5
        * math.log1p(float(sq.mean()) / (2 * log_n)),
        "use the natural logarithm log N, not log10": 0.5 * math.log1p(r2 / (2 * math.log10(n))),
        "under OU rho(t)^2 = e^(2t) - 1, not t: invert it, t = 1/2 log(1 + rho^2)": r2
        / (2 * log_n),
        "r is a distance: the gap is the squared distance r^2": 0.5
        * math.log1p(float(sq.sqrt().median()) / (2 * log_n)),
    }


def check_nn_collapse_prediction(fn) -> bool:
    """Part II assignment (b): ``fn(data)`` -> the OU collapse time predicted from the data.

    ``t = 1/2 log(1 + r^2 / (2 log N))`` with ``r^2`` the median over the training points of the
    squared nearest-neighbour distance. Names a missing 1/2, rho in place of rho^2, the mean in
    place of the median, log10, the VE-like ``rho^2 = t`` and the distance in place of its square.
    """
    name = "nn_collapse_prediction"
    gen = torch.Generator().manual_seed(52)
    cases = [torch.randn(n, d, generator=gen, dtype=torch.float64) for n, d in ((60, 2), (25, 6))]
    cases.append(0.5 * torch.randn(80, 3, generator=gen, dtype=torch.float64))
    for data in cases:
        want = _nn_prediction(data)
        sq = _nn_sq(data)
        log_n = math.log(len(data))
        got = as_float(_call(fn, name, data), name)
        where = f"for N = {len(data)} points in d = {data.shape[1]}"
        if not math.isfinite(got):
            fail(f"{name} {where} returned NaN or inf ({got}), expected {want:.6g}")
        slack, _ = tolerance(torch.tensor(got, dtype=torch.float64), want, 1e-7, 0.0)
        # an even N has two middle values: median() takes the lower, quantile(0.5) their mean
        middle = 0.5 * math.log1p(float(sq.quantile(0.5)) / (2 * log_n))
        if min(abs(got - want), abs(got - middle)) <= slack * abs(want):
            continue
        message = next(
            (
                text
                for r2 in {float(sq.median()), float(sq.quantile(0.5))}  # either middle value
                for text, value in _prediction_variants(sq, r2, len(data)).items()
                if abs(got - value) <= max(slack, 1e-7) * abs(value)
            ),
            f"returned {got:.8g}, expected {want:.8g}",
        )
        fail(f"{name} {where}: {message}")
    return passed(name)


#: The time grid of the chapter's scale experiment: OU with T = 2, 100 log-spaced times to 1e-6.
def _ou_and_times():
    import mdiff

    schedule = mdiff.VP(beta_min=2.0, beta_max=2.0, T=2.0)
    times = torch.cat(
        [
            torch.logspace(math.log10(schedule.T), -6, 100, dtype=torch.float64),
            torch.zeros(1, dtype=torch.float64),
        ]
    )
    return schedule, times


def _collapse_times(schedule, data, x, ts, eps=0.01) -> torch.Tensor:
    """The chapter's ``collapse_times`` (the ``1 - eps`` criterion only)."""
    import mdiff

    score = mdiff.empirical_score(schedule, data)
    t_eps = torch.zeros(len(x), dtype=ts.dtype)
    for k in range(len(ts) - 1):
        top = mdiff.posterior_weights(schedule, data, x, float(ts[k])).max(1).values
        t_eps[(t_eps == 0) & (top > 1 - eps)] = ts[k]
        if (t_eps > 0).all():
            break
        x = mdiff.probability_flow(schedule, score, x, ts[k : k + 2], method="exponential")
    return t_eps


def _measured(data, seed: int) -> torch.Tensor:
    schedule, times = _ou_and_times()
    gen = torch.Generator().manual_seed(seed)
    start = schedule.prior(48, data.shape[1], generator=gen, dtype=data.dtype)
    return _collapse_times(schedule, data, start, times)


def check_measured_median_collapse(fn) -> bool:
    """Part II assignment (c): ``fn(data, seed=0)`` -> the median collapse time of 48 OU runs.

    Recomputes the experiment (the chapter's ``OU``, ``TIMES``, ``EPS`` and ``collapse_times``,
    starts ``OU.prior(48, d, generator=torch.Generator().manual_seed(seed), dtype=data.dtype)``)
    on two data sets and seeds; accepts ``quantile(0.5)`` and ``median()`` (the lower middle
    value). Names starts drawn with another seed and the mean in place of the median.
    """
    name = "measured_median_collapse"
    hint = "Use the keyword argument seed."
    cases = [((100, 2), 3), ((150, 8), 11)]
    for (n, d), seed in cases:
        data = torch.randn(
            n, d, generator=torch.Generator().manual_seed(60 + d), dtype=torch.float32
        )
        t_eps = _measured(data, seed)
        mids = {float(t_eps.quantile(0.5)), float(t_eps.median())}
        got = as_float(_call(fn, name, data, seed=seed, hint=hint), name)
        where = f"for N = {n} Gaussian points in d = {d}, seed = {seed}"
        if not math.isfinite(got):
            fail(f"{name} {where} returned NaN or inf ({got})")
        if any(abs(got - m) <= 1e-5 * m for m in mids):
            continue
        others = {
            "the starts must be OU.prior(48, d, generator=torch.Generator().manual_seed(seed), "
            "dtype=data.dtype), drawn with the seed you are given": {
                float(_measured(data, 0).quantile(0.5)),
                float(_measured(data, 0).median()),
            },
            "return the median of the collapse times, not their mean": {float(t_eps.mean())},
        }
        message = next(
            (m for m, vals in others.items() if any(abs(got - v) <= 1e-5 * v for v in vals)),
            f"returned {got:.6g}, expected {max(mids):.6g} (the median over the 48 runs)",
        )
        fail(f"{name} {where}: {message}")
    return passed(name)
