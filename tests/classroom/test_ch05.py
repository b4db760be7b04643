"""Chapter 5 exercise checks: the reference solutions pass, typical wrong answers fail."""

import math

import pytest
import torch

from mdiff.classroom import (
    CheckFailed,
    check_heuristic_collapsed,
    check_measured_median_collapse,
    check_nn_collapse_prediction,
    check_nn_sq_distances,
    check_points_needed,
)

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


# ---------------------------------------------------------------------------------------
# The Part II assignment: ex-05-assignment-a, -b, -c


def nn_variant(kind):
    def fn(data):
        sq = torch.cdist(data, data, compute_mode="donot_use_mm_for_euclid_dist") ** 2
        if kind == "itself":
            return sq.min(1).values
        if kind == "no_zeros":
            return sq.masked_fill(sq == 0, math.inf).min(1).values
        sq = sq.fill_diagonal_(math.inf)
        if kind == "second":
            return sq.sort(1).values[:, 1]
        if kind == "distance":
            return sq.min(1).values.sqrt()
        return sq.min(1).values

    return fn


def test_nn_reference_passes(capsys):
    assert check_nn_sq_distances(nn_variant("correct"))
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    "kind, message",
    [
        ("itself", "exclude the point itself"),
        ("distance", "squared distances, not distances"),
        ("second", "second-nearest"),
        ("no_zeros", "not every zero distance"),
    ],
)
def test_nn_wrong_answers(kind, message):
    with pytest.raises(CheckFailed, match=message):
        check_nn_sq_distances(nn_variant(kind))


def prediction_variant(kind):
    def fn(data):
        r2s = nn_variant("correct")(data)
        r2 = float(r2s.mean() if kind == "mean" else r2s.quantile(0.5))
        log_n = math.log10(len(data)) if kind == "log10" else math.log(len(data))
        rho2 = math.sqrt(r2 / (2 * log_n)) if kind == "rho" else r2 / (2 * log_n)
        if kind == "ve":
            return rho2
        return (1.0 if kind == "no_half" else 0.5) * math.log1p(rho2)

    return fn


def test_prediction_reference_passes(capsys):
    # quantile(0.5) interpolates between the two middle values of an even N: also accepted
    assert check_nn_collapse_prediction(prediction_variant("correct"))
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    "kind, message",
    [
        ("no_half", "factor 1/2 is missing"),
        ("rho", "bounds rho\\^2, not rho"),
        ("mean", "median of r_n\\^2"),
        ("log10", "natural logarithm"),
        ("ve", "not t: invert it"),
    ],
)
def test_prediction_wrong_answers(kind, message):
    with pytest.raises(CheckFailed, match=message):
        check_nn_collapse_prediction(prediction_variant(kind))


def measured_variant(kind):
    from mdiff.classroom.ch05 import _collapse_times, _ou_and_times

    def fn(data, seed=0):
        schedule, times = _ou_and_times()
        gen = torch.Generator().manual_seed(0 if kind == "seed" else seed)
        start = schedule.prior(48, data.shape[1], generator=gen, dtype=data.dtype)
        t_eps = _collapse_times(schedule, data, start, times)
        if kind == "mean":
            return t_eps.mean().item()
        return t_eps.median() if kind == "lower" else t_eps.quantile(0.5).item()

    return fn


@pytest.mark.parametrize("kind", ["correct", "lower"])
def test_measured_reference_passes(kind, capsys):
    assert check_measured_median_collapse(measured_variant(kind))
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    "kind, message", [("seed", "drawn with the seed you are given"), ("mean", "not their mean")]
)
def test_measured_wrong_answers(kind, message):
    with pytest.raises(CheckFailed, match=message):
        check_measured_median_collapse(measured_variant(kind))


def test_measured_without_seed_keyword_fails_clearly():
    with pytest.raises(CheckFailed, match="keyword argument seed"):
        check_measured_median_collapse(lambda data: 0.1)
