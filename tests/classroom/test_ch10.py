"""Chapter 10 exercise checks: the reference solutions pass, typical wrong answers fail."""

import pytest
import torch

import mdiff
from mdiff.classroom import (
    CheckFailed,
    check_calibrated_excess,
    check_distinct_ratio_test,
    check_false_positive_rate,
    check_scale_free_fraction,
)

# ---------------------------------------------------------------------------------------
# ex-10-scale-free: the tolerance test with tol = rel x (median nearest-neighbour spacing)


def spacing_with(data, self_distance=False, stat="median"):
    dd = torch.cdist(data, data)
    if not self_distance:
        dd.fill_diagonal_(float("inf"))
    nearest = dd.min(1).values
    return nearest.median() if stat == "median" else nearest.mean()


def scale_free(samples, data, rel):
    tol = rel * spacing_with(data)
    return (torch.cdist(samples, data).min(1).values < tol).double().mean().item()


def test_scale_free_reference_passes(capsys):
    assert check_scale_free_fraction(scale_free)
    assert "Correct" in capsys.readouterr().out


def test_scale_free_accepts_a_float_tensor():
    def as_tensor(samples, data, rel):
        tol = rel * spacing_with(data)
        return (torch.cdist(samples, data).min(1).values < tol).double().mean()

    assert check_scale_free_fraction(as_tensor)


@pytest.mark.parametrize(
    "wrong, message",
    [
        (
            lambda s, d, rel: (
                (torch.cdist(s, d).min(1).values < rel * spacing_with(d, True))
                .double()
                .mean()
                .item()
            ),
            "distance 0 from itself",
        ),
        (
            lambda s, d, rel: (torch.cdist(s, d).min(1).values < rel).double().mean().item(),
            "MEDIAN",
        ),
        (
            lambda s, d, rel: (
                (torch.cdist(s, d).min(1).values < rel * spacing_with(d, stat="mean"))
                .double()
                .mean()
                .item()
            ),
            "MEDIAN",
        ),
        (
            lambda s, d, rel: (
                (torch.cdist(s, d).min(1).values < rel * spacing_with(d)).double().sum().item()
            ),
            r"lies in \[0, 1\]",
        ),
        (
            lambda s, d, rel: (torch.cdist(s, d).min(1).values < rel * spacing_with(d)).double(),
            "one number",
        ),
        (lambda s, d, rel: None, "return"),
    ],
    ids=["self-distance", "fixed-tolerance", "mean-spacing", "count", "per-sample", "none"],
)
def test_scale_free_wrong_answers(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_scale_free_fraction(wrong)


# ---------------------------------------------------------------------------------------
# ex-10-distinct-ratio: the d1/d2 test on the deduplicated training set


def distinct_ratio(samples, data, ratio=1 / 3):
    d12 = torch.cdist(samples, torch.unique(data, dim=0)).topk(2, dim=1, largest=False).values
    return d12[:, 0] < ratio * d12[:, 1]


def test_distinct_ratio_reference_passes(capsys):
    assert check_distinct_ratio_test(distinct_ratio)
    assert "Correct" in capsys.readouterr().out
    assert check_distinct_ratio_test(
        lambda s, d, ratio=1 / 3: mdiff.memorized(s, torch.unique(d, dim=0), ratio)
    )


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda s, d, ratio=1 / 3: mdiff.memorized(s, d, ratio), "appears twice"),
        (lambda s, d, ratio=1 / 3: ~distinct_ratio(s, d, ratio), "BELOW"),
        (lambda s, d, ratio=1 / 3: mdiff.nearest_ratio(s, torch.unique(d, dim=0)), "numbers"),
        (lambda s, d, ratio=1 / 3: distinct_ratio(s, d), "ratio argument"),
        (lambda s, d, ratio=1 / 3: distinct_ratio(s, d, ratio)[:-1], "shape"),
    ],
    ids=["duplicates", "direction", "ratios", "ignores-ratio", "shape"],
)
def test_distinct_ratio_wrong_answers(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_distinct_ratio_test(wrong)


# ---------------------------------------------------------------------------------------
# ex-10-false-positive: P(d1/d2 < r) = r^d for a Poisson process


def test_false_positive_rate_reference_passes(capsys):
    assert check_false_positive_rate(lambda ratio, d: ratio**d)
    assert "Correct" in capsys.readouterr().out
    assert check_false_positive_rate(lambda ratio, d: torch.tensor(ratio) ** d)
    assert check_false_positive_rate(lambda ratio, d: [ratio**d])


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda r, d: r, "depend on the dimension"),
        (lambda r, d: r**2, "not 2 in every dimension"),
        (lambda r, d: r ** (1 / d), "r\\^\\(1/d\\)"),
        (lambda r, d: 1 - r**d, "NOT flagged"),
        (lambda r, d: r ** (d - 1), "sphere"),
        (lambda r, d: 1 - (1 - r) ** d, "product over the coordinates"),
        (lambda r, d: 0.111, "expected"),
        (lambda r, d: None, "return"),
    ],
    ids=["no-d", "plane", "root", "complement", "sphere", "coordinates", "constant", "none"],
)
def test_false_positive_rate_wrong_answers(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_false_positive_rate(wrong)


# ---------------------------------------------------------------------------------------
# ex-10-assignment-b: the scale-free fraction of the samples minus that of held-out points


def excess(samples, heldout, data, rel=0.1):
    return scale_free(samples, data, rel) - scale_free(heldout, data, rel)


def test_calibrated_excess_reference_passes(capsys):
    assert check_calibrated_excess(excess)
    assert "Correct" in capsys.readouterr().out
    assert check_calibrated_excess(lambda s, h, d, rel=0.1: torch.tensor(excess(s, h, d, rel)))


def fixed_fraction(samples, data, tol):
    return (torch.cdist(samples, data).min(1).values < tol).double().mean().item()


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda s, h, d, rel=0.1: scale_free(s, d, rel), "subtract the held-out"),
        (lambda s, h, d, rel=0.1: -excess(s, h, d, rel), "sign is reversed"),
        (
            lambda s, h, d, rel=0.1: fixed_fraction(s, d, rel) - fixed_fraction(h, d, rel),
            "not rel itself",
        ),
        (lambda s, h, d, rel=0.1: excess(s, h, d), "use the rel argument"),
        (lambda s, h, d, rel=0.1: excess(h, s, d, rel) * 0 + 0.25, "expected"),
    ],
    ids=["no-subtraction", "sign", "fixed-tolerance", "ignores-rel", "constant"],
)
def test_calibrated_excess_wrong_answers(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_calibrated_excess(wrong)


def test_checks_let_not_implemented_through():
    def stub(*args, **kwargs):
        raise NotImplementedError()

    for check in (
        check_scale_free_fraction,
        check_distinct_ratio_test,
        check_false_positive_rate,
        check_calibrated_excess,
    ):
        with pytest.raises(NotImplementedError):
            check(stub)
