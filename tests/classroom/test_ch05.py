"""Chapter 5 exercise checks: the reference solutions pass, typical wrong answers fail."""

import math

import pytest
import torch

from mdiff.classroom import CheckFailed, check_heuristic_collapsed, check_points_needed

# ---------------------------------------------------------------------------------------
# ex-05-points-needed


def points_variant(kind):
    def fn(t, d, var_data=1.0, eps=0.5):
        if kind == "no_eps":
            eps = 0.5
        if kind == "no_var":
            var_data = 1.0
        ratio = (1 - eps) / eps if kind == "inverted_eps" else eps / (1 - eps)
        rate = math.expm1(t) if kind == "e_t" else math.expm1(2 * t)
        power = 2 / d if kind == "two_over_d" else d / 2
        return ratio * (1 + var_data / rate) ** power

    return fn


def test_points_reference_passes(capsys):
    assert check_points_needed(points_variant("correct"))
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    "kind, message",
    [
        ("no_eps", "eps is ignored"),
        ("inverted_eps", r"not N_eps \(1 - eps\) / eps"),
        ("no_var", "var_data is ignored"),
        ("two_over_d", "exponent is d/2"),
        ("e_t", r"not 1 / \(e\^t - 1\)"),
    ],
)
def test_points_wrong_answers(kind, message):
    with pytest.raises(CheckFailed, match=message):
        check_points_needed(points_variant(kind))


def test_points_without_keywords_fails_clearly():
    with pytest.raises(CheckFailed, match="keyword arguments var_data and eps"):
        check_points_needed(lambda t, d: 1.0)


# ---------------------------------------------------------------------------------------
# ex-05-heuristic


def heuristic_variant(kind):
    def fn(y, data, rho):
        dist = torch.cdist(y, data).topk(2, dim=1, largest=False).values
        gap = dist[:, 1] ** 2 - dist[:, 0] ** 2
        if kind == "distances":
            gap = dist[:, 1] - dist[:, 0]
        log_n = math.log10(len(data)) if kind == "log10" else math.log(len(data))
        factor = 1 if kind == "no_two" else 2
        lhs = rho if kind == "rho" else rho**2
        if kind == "reversed":
            return lhs > gap / (factor * log_n)
        return lhs < gap / (factor * log_n)

    return fn


def test_heuristic_reference_passes(capsys):
    assert check_heuristic_collapsed(heuristic_variant("correct"))
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    "kind, message",
    [
        ("distances", "squared distances"),
        ("log10", "natural logarithm"),
        ("no_two", "factor 2"),
        ("rho", "compare rho\\^2, not rho"),
        ("reversed", "reversed"),
    ],
)
def test_heuristic_wrong_answers(kind, message):
    with pytest.raises(CheckFailed, match=message):
        check_heuristic_collapsed(heuristic_variant(kind))
