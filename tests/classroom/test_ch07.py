"""Chapter 7 exercise checks: the reference solutions pass, typical wrong answers fail."""

import pytest
import torch

from mdiff.classroom import (
    CheckFailed,
    check_penalized_dsm_loss,
    check_regularized_minimizer,
    check_terminal_offset_vp,
)

# ---------------------------------------------------------------------------------------
# ex-07-minimizer


def minimizer_variant(kind):
    def fn(s_emp, gamma):
        eye = torch.eye(gamma.shape[0], dtype=gamma.dtype)
        if kind == "minus":
            return torch.linalg.solve(eye - gamma, s_emp.T).T
        if kind == "multiply":
            return s_emp @ (eye + gamma).T
        if kind == "diagonal":
            return s_emp / (1 + gamma.diagonal())
        if kind == "first_order":
            return s_emp - s_emp @ gamma.T
        if kind == "no_transpose":
            return torch.linalg.solve(eye + gamma, s_emp)
        if kind == "none":
            return None
        return torch.linalg.solve(eye + gamma, s_emp.T).T

    return fn


def test_minimizer_reference_passes(capsys):
    assert check_regularized_minimizer(minimizer_variant("correct"))
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    "kind, message",
    [
        ("minus", r"solve \(I \+ Gamma\) v = s\^N, not \(I - Gamma\)"),
        ("multiply", r"multiplied s\^N by \(I \+ Gamma\)"),
        ("diagonal", "Gamma is not diagonal here"),
        ("first_order", "first-order expansion"),
        ("no_transpose", "solve for s_emp.T and transpose back"),
        ("none", "returned None"),
    ],
)
def test_minimizer_wrong_answers(kind, message):
    with pytest.raises(CheckFailed, match=message):
        check_regularized_minimizer(minimizer_variant(kind))


# ---------------------------------------------------------------------------------------
# ex-07-vp-offset


def offset_variant(kind):
    def fn(schedule, u1, t1, c):
        m1, s1 = schedule.m(t1), schedule.sigma(t1)
        ratio = c / (s1**2 + c)
        if kind == "ve":
            return u1 * ratio.sqrt()
        if kind == "no_m":
            return u1 * ratio ** (1 / (2 * (1 + c)))
        if kind == "exponent":
            return u1 * ratio.sqrt() * m1 ** (-c / (1 + c))
        if kind == "no_sqrt":
            return u1 * ratio ** (1 / (1 + c)) * m1 ** (-c / (1 + c))
        if kind == "float_only":
            import math

            return u1 * math.sqrt(c / (float(s1) ** 2 + c))
        return u1 * ratio ** (1 / (2 * (1 + c))) * m1 ** (-c / (1 + c))

    return fn


def test_offset_reference_passes(capsys):
    assert check_terminal_offset_vp(offset_variant("correct"))
    assert "Correct" in capsys.readouterr().out


def test_offset_reference_matches_the_ode():
    """The closed form against Heun for du/dt = (f + g^2 / (2 (sigma^2 + c))) u, fine steps."""
    import mdiff

    vp, c, t1 = mdiff.VP(), 0.3, 0.8
    ts = torch.linspace(t1, 0.0, 4001, dtype=torch.float64)
    rate = (vp.f(ts) + 0.5 * vp.g2(ts) / (vp.sigma(ts) ** 2 + c)).tolist()
    h, u = -(t1 / 4000), 1.0
    for k in range(4000):  # Heun on a linear scalar ODE with tabulated coefficients
        k1 = rate[k] * u
        k2 = rate[k + 1] * (u + h * k1)
        u += 0.5 * h * (k1 + k2)
    want = offset_variant("correct")(vp, torch.tensor([1.0], dtype=torch.float64), t1, c)
    assert float(want) == pytest.approx(u, rel=1e-6)


@pytest.mark.parametrize(
    "kind, message",
    [
        ("ve", "this is the VE answer"),
        ("float_only", "this is the VE answer"),
        ("no_m", r"m\(t1\)\^\(-c/\(1\+c\)\) from the drift term is missing"),
        ("exponent", r"exponent of c / \(sigma1\^2 \+ c\)"),
        ("no_sqrt", "a square root is missing"),
    ],
)
def test_offset_wrong_answers(kind, message):
    with pytest.raises(CheckFailed, match=message):
        check_terminal_offset_vp(offset_variant(kind))


# ---------------------------------------------------------------------------------------
# ex-07-penalized-loss


def loss_variant(kind):
    def fn(schedule, score, x0, t, z, c):
        m, sig = schedule.m(t)[:, None], schedule.sigma(t)[:, None]
        point = x0 if kind == "clean" else m * x0 + sig * z
        s = score(point, t)
        fit = ((sig * s - z) ** 2).sum(1) if kind == "minus" else ((sig * s + z) ** 2).sum(1)
        pen = (s * s).sum(1)
        if kind == "sigma2":
            return fit + c * sig[:, 0] ** 2 * pen
        if kind == "over_sigma2":
            return fit + c * pen / sig[:, 0] ** 2
        if kind == "no_penalty":
            return fit
        if kind == "mean":
            return (fit + c * pen).mean()
        return fit + c * pen

    return fn


def test_loss_reference_passes(capsys):
    assert check_penalized_dsm_loss(loss_variant("correct"))
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    "kind, message",
    [
        ("sigma2", r"you have c sigma\^2 \|s\|\^2"),
        ("over_sigma2", r"you have c \|s\|\^2 / sigma\^2"),
        ("clean", "evaluate the score at the noised point"),
        ("no_penalty", "penalty c \\|s\\|\\^2 is missing"),
        ("minus", "plus sign"),
        ("mean", "returned one number"),
    ],
)
def test_loss_wrong_answers(kind, message):
    with pytest.raises(CheckFailed, match=message):
        check_penalized_dsm_loss(loss_variant(kind))
