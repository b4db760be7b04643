"""Chapter 11 exercise checks: the reference solutions pass, typical wrong answers fail."""

import pytest
import torch

from mdiff.classroom import CheckFailed, check_convergence_rate, check_gaussian_denoiser


def rate(ns, errors):
    x = torch.log(torch.as_tensor(ns, dtype=torch.float64))
    y = torch.log(torch.as_tensor(errors, dtype=torch.float64))
    slope = ((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum()
    return -slope.item()


def test_rate_reference_passes(capsys):
    assert check_convergence_rate(rate)
    assert "Correct" in capsys.readouterr().out


def test_rate_accepts_polyfit_and_tensors():
    import numpy as np

    def polyfit(ns, errors):
        ns, errors = np.asarray(ns, dtype=float), np.asarray(errors, dtype=float)
        return torch.tensor(-np.polyfit(np.log(ns), np.log(errors), 1)[0])

    assert check_convergence_rate(polyfit)


def swapped(ns, errors):
    x = torch.log(torch.as_tensor(ns, dtype=torch.float64))
    y = torch.log(torch.as_tensor(errors, dtype=torch.float64))
    return -(((x - x.mean()) * (y - y.mean())).sum() / ((y - y.mean()) ** 2).sum()).item()


def no_logs(ns, errors):
    x = torch.as_tensor(ns, dtype=torch.float64)
    y = torch.as_tensor(errors, dtype=torch.float64)
    return -(((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum()).item()


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda ns, e: -rate(ns, e), "MINUS the slope"),
        (swapped, "not log\\(N\\) on log\\(error\\)"),
        (no_logs, "straight line"),
        (lambda ns, e: torch.ones(2), "one number"),
        (lambda ns, e: "0.5", "a number"),
    ],
    ids=["slope", "swapped", "no-logs", "vector", "string"],
)
def test_rate_wrong_answers(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_convergence_rate(wrong)


def wiener(mean, cov, x, sigma):
    eye = torch.eye(len(mean), dtype=cov.dtype)
    return mean + (x - mean) @ torch.linalg.solve(cov + sigma**2 * eye, cov)


def test_gaussian_denoiser_reference_passes(capsys):
    assert check_gaussian_denoiser(wiener)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda m, c, x, s: wiener(torch.zeros_like(m), c, x, s), "mean is missing"),
        (lambda m, c, x, s: wiener(m, c, x, s**0.5), "not sigma"),
        (lambda m, c, x, s: m + (x - m) @ torch.linalg.inv(c + s**2), "off by"),
        (lambda m, c, x, s: wiener(m, c, x, s)[:, :2], "shape"),
        (lambda m, c, x, s: None, "return"),
    ],
    ids=["no-mean", "sigma-not-squared", "scalar-added", "shape", "none"],
)
def test_gaussian_denoiser_wrong_answers(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_gaussian_denoiser(wrong)


def test_checks_let_not_implemented_through():
    def stub(*args, **kwargs):
        raise NotImplementedError()

    for check in (check_convergence_rate, check_gaussian_denoiser):
        with pytest.raises(NotImplementedError):
            check(stub)
