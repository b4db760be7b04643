"""Chapter 6 exercise checks: the reference solutions pass, typical wrong answers fail."""

import math

import pytest
import torch

from mdiff.classroom import CheckFailed, check_bridge, check_interval_coverage

# ---------------------------------------------------------------------------------------
# ex-06-bridge


def bridge_variant(kind):
    def fn(schedule, x0, xT, t):
        T = schedule.T
        m, s, mT, sT = schedule.m(t), schedule.sigma(t), schedule.m(T), schedule.sigma(T)
        gain = mT * s**2 / (m * sT**2)
        if kind == "ode":
            gain = s / sT
        if kind == "no_m":
            gain = s**2 / sT**2
        if kind == "sign":
            gain = -gain
        var = s**2 * (1 - (s * mT / (m * sT)) ** 2)
        if kind == "prior_var":
            var = s**2
        if kind == "sigma_ratio":
            var = s**2 * (1 - (s / sT) ** 2)
        if kind == "std":
            var = var.sqrt()
        return m * x0 + gain * (xT - mT * x0), var

    return fn


def test_bridge_reference_passes(capsys):
    assert check_bridge(bridge_variant("correct"))
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    "kind, message",
    [
        ("ode", "probability-flow path"),
        ("no_m", r"missing the factor m\(T\) / m\(t\)"),
        ("sign", "sign error"),
        ("prior_var", "given X_0 only"),
        ("sigma_ratio", "use rho = sigma / m"),
        ("std", "not the standard deviation"),
    ],
)
def test_bridge_wrong_answers(kind, message):
    with pytest.raises(CheckFailed, match=message):
        check_bridge(bridge_variant(kind))


def test_bridge_must_return_a_pair():
    with pytest.raises(CheckFailed, match="should return a pair"):
        check_bridge(lambda schedule, x0, xT, t: xT)


# ---------------------------------------------------------------------------------------
# ex-06-coverage


def coverage_variant(kind):
    def fn(samples, truth, level=0.9):
        if kind == "level_as_quantile":
            q = torch.tensor([1 - level, level], dtype=samples.dtype)
        else:
            q = torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=samples.dtype)
        lo, hi = torch.quantile(samples, q, dim=0)
        inside = (truth >= lo) & (truth <= hi)
        if kind == "count":
            return inside.sum().item()
        if kind == "per_coordinate":
            return inside.double().mean(0)
        if kind == "sorted":  # another quantile convention: order statistics
            s = samples.sort(0).values
            k = round((1 - level) / 2 * (len(s) - 1))
            inside = (truth >= s[k]) & (truth <= s[len(s) - 1 - k])
        return inside.double().mean().item()

    return fn


@pytest.mark.parametrize("kind", ["correct", "sorted"])
def test_coverage_reference_passes(kind, capsys):
    assert check_interval_coverage(coverage_variant(kind))
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    "kind, message",
    [
        ("level_as_quantile", r"\(1 - level\)/2"),
        ("count", "not a count"),
        ("per_coordinate", "expected one number: return the fraction"),
    ],
)
def test_coverage_wrong_answers(kind, message):
    with pytest.raises(CheckFailed, match=message):
        check_interval_coverage(coverage_variant(kind))


def test_reference_coverage_is_calibrated_for_matching_laws():
    gen = torch.Generator().manual_seed(0)
    samples = torch.randn(2000, 200, 1, generator=gen, dtype=torch.float64)
    truth = torch.randn(200, 1, generator=gen, dtype=torch.float64)
    got = coverage_variant("correct")(samples, truth, level=0.9)
    assert abs(got - 0.9) < 4 * math.sqrt(0.9 * 0.1 / 200)
