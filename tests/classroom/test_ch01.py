"""Chapter 1 checks: the reference solutions pass, typical wrong answers fail as intended."""

import math

import pytest
import torch

from mdiff.classroom import (
    CheckFailed,
    check_heun_step_to_zero,
    check_reverse_sde_step,
    check_vp_m_sigma,
)


def _alpha(t, beta_min, beta_max):
    return beta_min * t + 0.5 * (beta_max - beta_min) * t**2


def vp_reference(t, beta_min=1e-3, beta_max=3.0):
    alpha = _alpha(t, beta_min, beta_max)
    return torch.exp(-0.5 * alpha), torch.sqrt(-torch.expm1(-alpha))


def vp_variant(kind):
    def fn(t, beta_min=1e-3, beta_max=3.0):
        alpha = _alpha(t, beta_min, beta_max)
        m, sigma = torch.exp(-0.5 * alpha), torch.sqrt(-torch.expm1(-alpha))
        if kind == "naive":
            return m, torch.sqrt(1 - torch.exp(-alpha))
        if kind == "missing half":
            return torch.exp(-alpha), sigma
        if kind == "variance":
            return m, sigma**2
        if kind == "fixed parameters":
            return vp_reference(t)
        if kind == "wrong alpha":
            alpha = (beta_min + t * (beta_max - beta_min)) * t
            return torch.exp(-0.5 * alpha), torch.sqrt(-torch.expm1(-alpha))
        if kind == "not variance preserving":
            return m, torch.sqrt(1 - m)
        if kind == "float64":
            return vp_reference(t.double(), beta_min, beta_max)
        if kind == "math.exp":
            return math.exp(-0.5 * t), 0.0
        if kind == "no return":
            return None
        if kind == "one value":
            return m
        raise AssertionError(kind)

    return fn


def test_vp_reference_passes(capsys):
    assert check_vp_m_sigma(vp_reference)
    assert "Correct: vp_m_sigma" in capsys.readouterr().out


@pytest.mark.parametrize(
    "kind,message",
    [
        ("naive", "-torch.expm1(-alpha)"),
        ("missing half", "the factor 1/2 is missing"),
        ("variance", "take the square root"),
        ("fixed parameters", "use the arguments beta_min and beta_max"),
        ("wrong alpha", "check alpha(t) = beta_min t + (beta_max - beta_min) t^2 / 2"),
        ("not variance preserving", "preserves variance: it must be 1"),
        ("float64", "keep t's dtype"),
        ("math.exp", "use torch.exp, not math.exp"),
        ("no return", "should return a pair (m, sigma), got NoneType"),
        ("one value", "should return a pair (m, sigma), got Tensor"),
    ],
)
def test_vp_wrong_answers(kind, message):
    with pytest.raises(CheckFailed) as err:
        check_vp_m_sigma(vp_variant(kind))
    assert message in str(err.value), str(err.value)


def test_naive_formula_fails_at_small_t_with_the_time_and_dtype():
    with pytest.raises(CheckFailed, match=r"sigma\(t\) at t = 1e-09 \(torch.float64\)"):
        check_vp_m_sigma(vp_variant("naive"))


def test_stub_raises_not_implemented():
    def stub(t, beta_min=1e-3, beta_max=3.0):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        check_vp_m_sigma(stub)
    with pytest.raises(NotImplementedError):
        check_reverse_sde_step(lambda *args: stub(0.0))


def reverse_reference(schedule, score, x, t, h, xi):
    f, g2 = float(schedule.f(t)), float(schedule.g2(t))
    return x - h * (f * x - g2 * score(x, t)) + math.sqrt(g2 * h) * xi


def reverse_variant(expression):
    def fn(schedule, score, x, t, h, xi):
        f, g2 = float(schedule.f(t)), float(schedule.g2(t))
        g, s = math.sqrt(g2), score(x, t)
        if expression == "end time":
            f, g2 = float(schedule.f(t - h)), float(schedule.g2(t - h))
            return x - h * (f * x - g2 * score(x, t - h)) + math.sqrt(g2 * h) * xi
        return eval(expression, {"math": math}, locals())

    return fn


def test_reverse_reference_passes(capsys):
    assert check_reverse_sde_step(reverse_reference)
    assert "Correct: reverse_sde_step" in capsys.readouterr().out


def test_reverse_step_noise_sign_is_free():
    assert check_reverse_sde_step(
        reverse_variant("x - h * (f * x - g2 * s) - g * math.sqrt(h) * xi")
    )


def test_reverse_step_in_place_update_passes():
    def in_place(schedule, score, x, t, h, xi):
        f, g2 = float(schedule.f(t)), float(schedule.g2(t))
        x += -h * (f * x - g2 * score(x, t)) + math.sqrt(g2 * h) * xi
        return x

    assert check_reverse_sde_step(in_place)


@pytest.mark.parametrize(
    "expression,message",
    [
        ("x - h * (f * x + g2 * s) + g * math.sqrt(h) * xi", "sign error in the score term"),
        ("x - h * (-f * x - g2 * s) + g * math.sqrt(h) * xi", "sign error in the f(t) x term"),
        ("x - h * (f * x - 0.5 * g2 * s) + g * math.sqrt(h) * xi", "factor 1/2 belongs to the"),
        ("x - h * (f * x - 0.5 * g2 * s)", "Euler step of the probability-flow ODE"),
        ("x + h * (f * x - g2 * s) + g * math.sqrt(h) * xi", "you stepped forwards in time"),
        ("x - h * (f * x - g2 * s)", "no noise was added"),
        ("x - h * (f * x - g2 * s) + g * h * xi", "scales like sqrt(h), not h"),
        (
            "x - h * (f * x - g2 * s) + math.sqrt(h) * xi",
            "the factor g(t) = sqrt(g2(t)) is missing",
        ),
        ("x - h * (f * x - g2 * s) + g2 * math.sqrt(h) * xi", "not g2(t)"),
        ("x - h * (f * x - g2 * s) + 0.3 * xi", "standard deviation 0.3, expected"),
        ("end time", "evaluated f, g2 or the score at t - h"),
        ("x - 2 * h * (f * x - g2 * s) + g * math.sqrt(h) * xi", "is off by up to"),
        ("x[0]", "expected x's (6, 2)"),
        ("None", "returned None"),
    ],
)
def test_reverse_step_wrong_answers(expression, message):
    with pytest.raises(CheckFailed) as err:
        check_reverse_sde_step(reverse_variant(expression))
    assert message in str(err.value), str(err.value)


def _velocity(schedule, score, x, t):
    return float(schedule.f(t)) * x - 0.5 * float(schedule.g2(t)) * score(x, t)


def heun_reference(schedule, score, x, t, t_next):
    if t_next == 0:
        m, sig = float(schedule.m(t)), float(schedule.sigma(t))
        return (x + sig**2 * score(x, t)) / m
    v = _velocity(schedule, score, x, t)
    x_pred = x + (t_next - t) * v
    return x + 0.5 * (t_next - t) * (v + _velocity(schedule, score, x_pred, t_next))


def heun_variant(kind):
    def fn(schedule, score, x, t, t_next):
        m, sig = float(schedule.m(t)), float(schedule.sigma(t))
        euler = x + (t_next - t) * _velocity(schedule, score, x, t)
        if kind == "buggy":  # the chapter's heun_step: the corrector at t_next = 0
            v = _velocity(schedule, score, x, t)
            return x + 0.5 * (t_next - t) * (v + _velocity(schedule, score, euler, t_next))
        if kind == "euler last":
            return euler if t_next == 0 else heun_reference(schedule, score, x, t, t_next)
        if kind == "euler everywhere":
            return euler
        if kind == "unchanged":
            return x if t_next == 0 else heun_reference(schedule, score, x, t, t_next)
        if kind == "no 1/m":
            if t_next == 0:
                return x + sig**2 * score(x, t)
            return heun_reference(schedule, score, x, t, t_next)
        if kind == "exponential everywhere":
            den = (x + sig**2 * score(x, t)) / m
            m1, s1 = float(schedule.m(t_next)), float(schedule.sigma(t_next))
            return m1 * den + (s1 / sig) * (x - m * den)
        raise AssertionError(kind)

    return fn


def test_heun_reference_passes(capsys):
    assert check_heun_step_to_zero(heun_reference)
    assert "Correct: heun_step_to_zero" in capsys.readouterr().out


def test_heun_with_the_chapters_exponential_last_step_passes():
    def fn(schedule, score, x, t, t_next):
        if t_next == 0:
            return heun_variant("exponential everywhere")(schedule, score, x, t, t_next)
        return heun_reference(schedule, score, x, t, t_next)

    assert check_heun_step_to_zero(fn)


@pytest.mark.parametrize(
    "kind,message",
    [
        ("buggy", "must not call the score there"),
        ("euler last", "your last step is an Euler step"),
        ("euler everywhere", "for t_next > 0 your step is an Euler step"),
        ("unchanged", "returns x unchanged"),
        ("no 1/m", "without dividing by m(t)"),
        ("exponential everywhere", "for t_next > 0 your step is the exponential step"),
    ],
)
def test_heun_wrong_answers(kind, message):
    with pytest.raises(CheckFailed) as err:
        check_heun_step_to_zero(heun_variant(kind))
    assert message in str(err.value), str(err.value)


def test_heun_nearest_point_fails_while_the_weights_compete():
    def nearest(schedule, score, x, t, t_next):
        if t_next > 0:
            return heun_reference(schedule, score, x, t, t_next)
        # the student guesses the end point instead of computing the denoiser
        den = heun_reference(schedule, score, x, t, 0.0)
        return den.round(decimals=1)

    with pytest.raises(CheckFailed, match="heun_step_to_zero"):
        check_heun_step_to_zero(nearest)


def test_heun_float32_answer_passes():
    def fn(*args):
        return heun_reference(*args).float()

    assert check_heun_step_to_zero(fn)


def test_wrong_answers_of_the_round_trip_fail():
    from wrong.ch01 import WRONG

    namespace = {"math": math, "torch": torch}
    exec(_HEUN_CONTEXT, namespace)
    for source in WRONG.values():
        exec(source, namespace)
    with pytest.raises(CheckFailed):
        check_vp_m_sigma(namespace["vp_m_sigma"])
    with pytest.raises(CheckFailed):
        check_reverse_sde_step(namespace["reverse_sde_step"])
    with pytest.raises(CheckFailed, match="your last step is an Euler step"):
        check_heun_step_to_zero(namespace["heun_step_to_zero"])


# the chapter's exercise-context cell that the Heun exercise builds on
_HEUN_CONTEXT = """
def velocity(schedule, score, x, t):
    return float(schedule.f(t)) * x - 0.5 * float(schedule.g2(t)) * score(x, t)


def euler_step(schedule, score, x, t, t_next):
    return x + (t_next - t) * velocity(schedule, score, x, t)


def heun_step(schedule, score, x, t, t_next):
    v = velocity(schedule, score, x, t)
    x_pred = x + (t_next - t) * v
    return x + 0.5 * (t_next - t) * (v + velocity(schedule, score, x_pred, t_next))
"""
