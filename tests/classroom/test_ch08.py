"""Chapter 8 exercise checks: the reference solutions pass, typical wrong answers fail."""

import math

import pytest
import torch

import mdiff
from mdiff.classroom import (
    CheckFailed,
    check_eb_frac_prediction,
    check_energy_v,
    check_freeze_bandwidth,
)

# ---------------------------------------------------------------------------------------
# ex-08-frac-prediction


def frac_variant(kind):
    def fn(tau, d):
        x = math.log(1 / tau)
        gi = torch.special.gammainc
        if kind == "d2":
            return max(0.0, 1 - tau)
        if kind == "double":
            return float(gi(torch.tensor(d / 2), torch.tensor(max(2 * x, 0.0))))
        if kind == "shape":
            return float(gi(torch.tensor(float(d)), torch.tensor(max(x, 0.0))))
        if kind == "upper":
            return 1 - float(gi(torch.tensor(d / 2), torch.tensor(max(x, 0.0))))
        if kind == "no_clamp":
            return float(gi(torch.tensor(d / 2), torch.tensor(x)))
        if kind == "negative":
            return 1 - tau
        if tau >= 1:
            return 0.0
        return float(gi(torch.tensor(d / 2), torch.tensor(x)))

    return fn


def test_frac_reference_passes(capsys):
    assert check_eb_frac_prediction(frac_variant("correct"))
    assert "Correct" in capsys.readouterr().out


def test_frac_reference_is_one_minus_tau_in_2d():
    ref = frac_variant("correct")
    assert [ref(t, 2) for t in (0.01, 0.3, 0.9)] == pytest.approx([0.99, 0.7, 0.1])


@pytest.mark.parametrize(
    "kind, message",
    [
        ("d2", "holds only for d = 2"),
        ("double", "second argument is log"),
        ("shape", "shape parameter"),
        ("upper", "upper tail"),
        ("no_clamp", "NaN"),
        ("negative", "the fraction is 0"),
    ],
)
def test_frac_wrong_answers(kind, message):
    with pytest.raises(CheckFailed, match=message):
        check_eb_frac_prediction(frac_variant(kind))


# ---------------------------------------------------------------------------------------
# ex-08-energy


def energy_variant(kind):
    def fn(a, b):
        dab, daa, dbb = torch.cdist(a, b), torch.cdist(a, a), torch.cdist(b, b)
        if kind == "squared":
            return 2 * (dab**2).mean() - (daa**2).mean() - (dbb**2).mean()
        if kind == "no_two":
            return dab.mean() - daa.mean() - dbb.mean()
        n, m = len(a), len(b)
        if kind == "u_statistic":
            return 2 * dab.mean() - daa.sum() / (n * (n - 1)) - dbb.sum() / (m * (m - 1))
        value = 2 * dab.mean() - daa.mean() - dbb.mean()
        if kind == "root":
            return value.clamp_min(0).sqrt()
        if kind == "per_row":
            return 2 * dab.mean(1) - daa.mean(1)
        if kind == "buggy":  # the notebook's energy_buggy, unchanged
            return 2 * (dab**2).mean() - torch.pdist(a).pow(2).mean() - torch.pdist(b).pow(2).mean()
        if kind == "pdist":  # squares fixed, torch.pdist kept
            return 2 * dab.mean() - torch.pdist(a).mean() - torch.pdist(b).mean()
        return value

    return fn


def test_energy_reference_passes(capsys):
    assert check_energy_v(energy_variant("correct"))
    assert "Correct" in capsys.readouterr().out


def test_energy_reference_matches_mdiff():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(30, 2, generator=g, dtype=torch.float64)
    b = torch.randn(20, 2, generator=g, dtype=torch.float64) + 0.5
    assert float(energy_variant("correct")(a, b)) == pytest.approx(mdiff.energy_distance(a, b))


@pytest.mark.parametrize(
    "kind, message",
    [
        ("squared", "not squared distances"),
        ("no_two", "cross term counts twice"),
        ("u_statistic", "including i = j"),
        ("root", "without a square root"),
        ("per_row", "one number"),
        ("buggy", "not squared distances"),
        ("pdist", "including i = j"),
    ],
)
def test_energy_wrong_answers(kind, message):
    with pytest.raises(CheckFailed, match=message):
        check_energy_v(energy_variant(kind))


# ---------------------------------------------------------------------------------------
# ex-08-freeze-bandwidth


def bandwidth_variant(kind):
    def fn(tau, n_data, density, d):
        c = 1 / math.sqrt(2 * math.pi)
        if kind == "no_2pi":
            return (tau / (n_data * density)) ** (1 / d)
        if kind == "sqrt":
            return c * (tau / (n_data * density)) ** 0.5
        if kind == "n_up":
            return c * (tau * n_data / density) ** (1 / d)
        if kind == "p_up":
            return c * (tau * density / n_data) ** (1 / d)
        return c * (tau / (n_data * density)) ** (1 / d)

    return fn


def test_bandwidth_reference_passes(capsys):
    assert check_freeze_bandwidth(bandwidth_variant("correct"))
    assert "Correct" in capsys.readouterr().out


def test_bandwidth_reference_solves_the_defining_equation():
    p = torch.tensor([0.2, 0.7], dtype=torch.float64)
    s = bandwidth_variant("correct")(3.0, 500, p, 2)
    assert torch.allclose(500 * (2 * math.pi * s**2) * p, torch.full_like(p, 3.0))


@pytest.mark.parametrize(
    "kind, message",
    [
        ("no_2pi", r"1 / sqrt\(2 pi\) is missing"),
        ("sqrt", "the power is 1/d"),
        ("n_up", "shrinks as N grows"),
        ("p_up", "shrinks as p grows"),
    ],
)
def test_bandwidth_wrong_answers(kind, message):
    with pytest.raises(CheckFailed, match=message):
        check_freeze_bandwidth(bandwidth_variant(kind))


def test_the_debug_exercise_bug_only_compares_means():
    """The notebook's buggy version: squared distances leave 2 |mean_a - mean_b|^2 (V form)."""
    g = torch.Generator().manual_seed(3)
    a = torch.randn(200, 2, generator=g, dtype=torch.float64)
    b = 3 * torch.randn(300, 2, generator=g, dtype=torch.float64) + 0.5
    squared = energy_variant("squared")(a, b)
    assert float(squared) == pytest.approx(2 * float(((a.mean(0) - b.mean(0)) ** 2).sum()))
