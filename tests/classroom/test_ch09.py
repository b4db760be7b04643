"""Chapter 9 exercise checks: the reference solutions pass, typical wrong answers fail."""

import importlib.util
import math
from pathlib import Path

import pytest
import torch

import mdiff
from mdiff.classroom import (
    CheckFailed,
    check_displacement_budget,
    check_eps_tikhonov,
    check_fraction_table,
)

# ---------------------------------------------------------------------------------------
# ex-09-fraction-table: memorized fractions of K models at several tolerances


def table(samples, data, tols, power=1, le=False, first=False, counts=False):
    dist = torch.cdist(samples, data.expand(samples.shape[0], *data.shape)) ** power
    nearest = dist[..., 0] if first else dist.min(-1).values
    tol = torch.as_tensor(tols, dtype=nearest.dtype)
    hit = nearest[..., None] <= tol if le else nearest[..., None] < tol
    return hit.double().sum(1) if counts else hit.double().mean(1)


def test_fraction_table_reference_passes(capsys):
    assert check_fraction_table(table)
    assert "Correct" in capsys.readouterr().out


def test_fraction_table_accepts_a_loop_over_models():
    def looped(samples, data, tols):
        return torch.stack(
            [torch.tensor([mdiff.fraction_within(x, data, tol) for tol in tols]) for x in samples]
        )

    assert check_fraction_table(looped)


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda s, d, tols: table(s, d, tols, le=True), "strict"),
        (lambda s, d, tols: table(s, d, tols, power=2), "squared"),
        (lambda s, d, tols: table(s, d, tols, first=True), "NEAREST"),
        (lambda s, d, tols: table(s, d, tols, counts=True), "counts"),
        (lambda s, d, tols: table(s, d, tols).T, "transpose"),
        (lambda s, d, tols: table(s, d, tols).mean(0), "shape"),
        (lambda s, d, tols: None, "return"),
        (lambda s, d, tols: 0.5 * table(s, d, tols), "off by"),
    ],
)
def test_fraction_table_wrong_answers(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_fraction_table(wrong)


# ---------------------------------------------------------------------------------------
# ex-09-displacement-budget: (L/2) int_0^t1 g^2 rho dt for the two outputs (VP)


def budget(schedule, t1, L, output):
    alpha = float(schedule.alpha(torch.tensor(t1, dtype=torch.float64)))
    if output == "score":
        return 0.5 * L * alpha
    return L * math.acosh(math.exp(alpha / 2))


def test_displacement_budget_reference_passes(capsys):
    assert check_displacement_budget(budget)
    assert "Correct" in capsys.readouterr().out


def test_displacement_budget_accepts_a_tensor_and_the_stable_form():
    def stable(schedule, t1, L, output):
        t = torch.tensor(t1, dtype=torch.float64)
        if output == "score":
            return 0.5 * L * schedule.alpha(t)
        return L * (0.5 * schedule.alpha(t) + torch.log1p(schedule.sigma(t)))

    assert check_displacement_budget(stable)


def sigma_of(schedule, t1):
    return float(schedule.sigma(torch.tensor(t1, dtype=torch.float64)))


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda sc, t1, L, out: 2 * budget(sc, t1, L, out), "1/2"),
        (lambda sc, t1, L, out: budget(sc, t1, L, "score"), "other output"),
        (
            lambda sc, t1, L, out: budget(sc, t1, L, "eps" if out == "score" else "score"),
            "other output",
        ),
        (
            lambda sc, t1, L, out: (
                budget(sc, t1, L, "score") if out == "score" else L * sigma_of(sc, t1)
            ),
            "small-t",
        ),
        (lambda sc, t1, L, out: budget(sc, t1, L, out) * 1.01, "expected"),
        (lambda sc, t1, L, out: "a lot", "number"),
    ],
)
def test_displacement_budget_wrong_answers(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_displacement_budget(wrong)


def test_displacement_budget_names_g_for_g_squared():
    def with_g(schedule, t1, L, output):
        u = torch.linspace(0.0, math.sqrt(t1), 40001, dtype=torch.float64)[1:]
        t = u * u
        rho = 1.0 if output == "score" else 1 / schedule.sigma(t)
        return float(0.5 * L * torch.trapezoid(schedule.beta(t).sqrt() * rho * 2 * u, u))

    with pytest.raises(CheckFailed, match="g\\^2"):
        check_displacement_budget(with_g)


# ---------------------------------------------------------------------------------------
# ex-09-eps-tikhonov: the penalized minimizer in eps form, -sigma s_c


def eps_tik(schedule, data, c, variant=None):
    tik = mdiff.tikhonov_score(schedule, data, c)
    emp = mdiff.empirical_score(schedule, data)

    def eps(x, t):
        sigma = schedule.sigma(torch.as_tensor(t, dtype=x.dtype))
        if variant == "sign":
            return sigma * tik(x, t)
        if variant == "no-shrink":
            return -sigma * emp(x, t)
        if variant == "plain-penalty":
            return -sigma * emp(x, t) / (1 + c)
        if variant == "divide":
            return -tik(x, t) / sigma
        if variant == "score":
            return tik(x, t)
        return -sigma * tik(x, t)

    return eps


def test_eps_tikhonov_reference_passes(capsys):
    assert check_eps_tikhonov(eps_tik)
    assert "Correct" in capsys.readouterr().out


def test_eps_tikhonov_from_the_denoiser_passes():
    def from_denoiser(schedule, data, c):
        def eps(x, t):
            m = schedule.m(torch.as_tensor(t, dtype=x.dtype))
            sigma = schedule.sigma(torch.as_tensor(t, dtype=x.dtype))
            noise = (x - m * mdiff.denoiser(schedule, data, x, t)) / sigma  # E[z | x]
            return sigma**2 / (sigma**2 + c) * noise

        return eps

    assert check_eps_tikhonov(from_denoiser)


@pytest.mark.parametrize(
    "variant, message",
    [
        ("sign", "sign"),
        ("no-shrink", "ignores the penalty"),
        ("plain-penalty", "sigma\\^2 in eps form"),
        ("divide", "not -s / sigma"),
        ("score", "returned the score"),
    ],
)
def test_eps_tikhonov_wrong_answers(variant, message):
    with pytest.raises(CheckFailed, match=message):
        check_eps_tikhonov(lambda schedule, data, c: eps_tik(schedule, data, c, variant))


def test_eps_tikhonov_needs_a_function():
    with pytest.raises(CheckFailed, match="function"):
        check_eps_tikhonov(lambda schedule, data, c: torch.zeros(3))


# ---------------------------------------------------------------------------------------
# the typical wrong answers of the nbgrader round trip fail their checks with a message


def _wrong_answer(grade_id):
    path = Path(__file__).parent / "wrong" / "ch09.py"
    spec = importlib.util.spec_from_file_location("wrong_ch09", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    namespace = {"math": math, "torch": torch, "mdiff": mdiff}
    exec(module.WRONG[grade_id], namespace)
    return next(v for k, v in namespace.items() if callable(v) and k not in ("mdiff",))


@pytest.mark.parametrize(
    "grade_id, check, message",
    [
        ("ex-09-fraction-table-solution", check_fraction_table, "strict"),
        ("ex-09-displacement-budget-solution", check_displacement_budget, "small-t"),
        ("ex-09-eps-tikhonov-solution", check_eps_tikhonov, "ignores the penalty"),
    ],
)
def test_typical_wrong_answers_fail(grade_id, check, message):
    with pytest.raises(CheckFailed, match=message):
        check(_wrong_answer(grade_id))
