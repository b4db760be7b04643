"""Chapter 10 exercise checks: the reference solutions pass, typical wrong answers fail."""

import pytest
import torch

import mdiff
from mdiff.classroom import (
    CheckFailed,
    check_distinct_ratio_test,
    check_mmd2,
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
# ex-10-mmd: squared MMD with a Gaussian kernel, V-statistic


def gram(a, b, h, squared=True, width=2.0):
    d = torch.cdist(a, b)
    return torch.exp(-(d**2 if squared else d) / (width * h * h))


def mmd2(x, y, bandwidth):
    return (
        gram(x, x, bandwidth).mean()
        + gram(y, y, bandwidth).mean()
        - 2 * gram(x, y, bandwidth).mean()
    )


def mmd2_u(x, y, h):
    n, m = len(x), len(y)
    kxx = (gram(x, x, h).sum() - n) / (n * (n - 1))
    kyy = (gram(y, y, h).sum() - m) / (m * (m - 1))
    return kxx + kyy - 2 * gram(x, y, h).mean()


def test_mmd2_reference_passes(capsys):
    assert check_mmd2(mmd2)
    assert "Correct" in capsys.readouterr().out
    assert check_mmd2(lambda x, y, h: float(mmd2(x, y, h)))


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda x, y, h: mmd2(x, y, h).clamp_min(0).sqrt(), "not MMD\\^2"),
        (
            lambda x, y, h: gram(x, x, h).mean() + gram(y, y, h).mean() - gram(x, y, h).mean(),
            "counted twice",
        ),
        (
            lambda x, y, h: (
                gram(x, x, h, False).mean()
                + gram(y, y, h, False).mean()
                - 2 * gram(x, y, h, False).mean()
            ),
            "squared distance",
        ),
        (
            lambda x, y, h: (
                gram(x, x, h, width=1).mean()
                + gram(y, y, h, width=1).mean()
                - 2 * gram(x, y, h, width=1).mean()
            ),
            "kernel width",
        ),
        (mmd2_u, "ALL pairs"),
        (lambda x, y, h: torch.tensor(0.5, dtype=torch.float64), "itself is 0"),
        (lambda x, y, h: mmd2(x, y, 1.0), "expected"),
    ],
    ids=["sqrt", "cross-term", "unsquared", "width", "u-statistic", "not-zero", "fixed-h"],
)
def test_mmd2_wrong_answers(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_mmd2(wrong)


def test_checks_let_not_implemented_through():
    def stub(*args, **kwargs):
        raise NotImplementedError()

    for check in (check_scale_free_fraction, check_distinct_ratio_test, check_mmd2):
        with pytest.raises(NotImplementedError):
            check(stub)
