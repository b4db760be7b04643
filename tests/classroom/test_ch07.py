"""Chapter 7 exercise checks: the reference solutions pass, typical wrong answers fail."""

import math

import pytest
import torch

import mdiff
from mdiff.classroom import (
    CheckFailed,
    check_frac_prediction,
    check_measure_frac,
    check_regularized_minimizer,
    check_terminal_offset_vp,
    check_tikhonov_score_fixed,
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
# ex-07-assignment-a: the repaired Tikhonov score


def fixed_variant(kind):
    def make(schedule, data, c):
        def score(x, t):
            m, var = schedule.m(t), schedule.sigma(t) ** 2
            sq = ((x[:, None, :] - m * data[None]) ** 2).sum(-1)
            if kind in ("buggy", "naive"):
                w = torch.exp(-sq / (2 * var))
                w = w / w.sum(1, keepdim=True)
            else:
                w = torch.softmax(-sq / (2 * var), 1)
            xbar = w @ data
            if kind in ("buggy", "no_m"):
                return (xbar - x) / (var + c)
            if kind == "sigma":
                return (m * xbar - x) / (var**0.5 + c)
            if kind == "empirical":
                return (m * xbar - x) / var
            return (m * xbar - x) / (var + c)

        return None if kind == "none" else score

    return make


def test_fixed_reference_passes(capsys):
    assert check_tikhonov_score_fixed(fixed_variant("correct"))
    assert "Correct" in capsys.readouterr().out


def test_fixed_agrees_with_mdiff():
    vp, data = mdiff.VP(), torch.randn(5, 2, dtype=torch.float64)
    x = torch.randn(4, 2, dtype=torch.float64)
    got = fixed_variant("correct")(vp, data, 0.1)(x, 0.01)
    assert torch.allclose(got, mdiff.tikhonov_score(vp, data, 0.1)(x, 0.01), rtol=1e-10)


@pytest.mark.parametrize(
    "kind, message",
    [
        ("buggy", "weights underflow"),
        ("naive", "weights underflow"),
        ("no_m", r"m\(t\) is missing in front of xbar"),
        ("sigma", "c is added to sigma"),
        ("empirical", "this is the empirical score"),
        ("none", "should return a function"),
    ],
)
def test_fixed_wrong_answers(kind, message):
    with pytest.raises(CheckFailed, match=message):
        check_tikhonov_score_fixed(fixed_variant(kind))


# ---------------------------------------------------------------------------------------
# ex-07-assignment-b: the predicted fraction in d dimensions


def prediction_variant(kind):
    def fn(c, d, tol):
        shape = d if kind == "shape_d" else d / 2
        x = tol / (2 * c) if kind == "tol" else tol**2 / (2 * c)
        if kind == "rayleigh":
            return 1 - math.exp(-(tol**2) / (2 * c))
        p = torch.special.gammainc(torch.tensor(float(shape)), torch.tensor(x)).item()
        return 1 - p if kind == "complement" else p

    return fn


def test_prediction_reference_passes(capsys):
    assert check_frac_prediction(prediction_variant("correct"))
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    "kind, message",
    [
        ("rayleigh", r"d = 2 \(Rayleigh\)"),
        ("shape_d", "shape d/2, not d"),
        ("tol", r"tol\^2 / c"),
        ("complement", "1 - frac"),
    ],
)
def test_prediction_wrong_answers(kind, message):
    with pytest.raises(CheckFailed, match=message):
        check_frac_prediction(prediction_variant(kind))


# ---------------------------------------------------------------------------------------
# ex-07-assignment-c: the measured fraction


def measure_variant(kind):
    def fn(schedule, data, c, n_samples, seed):
        if kind == "theory":
            return prediction_variant("correct")(c, data.shape[1], 1e-2)
        gen = torch.Generator().manual_seed(seed + (1 if kind == "seed" else 0))
        x = schedule.prior(n_samples, data.shape[1], generator=gen)
        steps = 400 if kind == "finer" else 200
        method = "exponential-2m" if kind == "finer" else "heun"
        ts = mdiff.time_grid(schedule, steps, t_min=1e-8)
        out = mdiff.probability_flow(
            schedule, mdiff.tikhonov_score(schedule, data, c), x, ts, method=method
        )
        tol = 2e-2 if kind == "tol" else 1e-2
        if kind == "count":
            return int((mdiff.nearest_distance(out, data) < tol).sum())
        return mdiff.fraction_within(out, data, tol)

    return fn


@pytest.mark.parametrize("kind", ["correct", "finer"])
def test_measure_reference_passes(kind, capsys):
    assert check_measure_frac(measure_variant(kind))
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    "kind, message",
    [
        ("theory", "the prediction of part \\(b\\)"),
        ("tol", "higher than the experiment"),
        ("seed", "than the experiment"),
        ("count", "the number of memorized samples"),
    ],
)
def test_measure_wrong_answers(kind, message):
    with pytest.raises(CheckFailed, match=message):
        check_measure_frac(measure_variant(kind))
