"""Chapter 12 exercise checks: the reference solutions pass, typical wrong answers fail."""

import pytest
import torch

import mdiff
from mdiff.classroom import (
    CheckFailed,
    check_convergence_rate,
    check_empirical_energy,
    check_gaussian_denoiser,
)
from mdiff.classroom.ch12 import ENERGY_CV, _ring_pair_mean


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

    for check in (check_convergence_rate, check_empirical_energy, check_gaussian_denoiser):
        with pytest.raises(NotImplementedError):
            check(stub)


# ---------------------------------------------------------------------------------------
# ex-12-rate, part 3: the energy distance of the empirical measure


def energy_protocol(kind="correct"):
    def fn(sizes, repeats, seed):
        gen = torch.Generator().manual_seed(seed)
        means = []
        for n in sizes:
            values = []
            for _ in range(repeats):
                train = mdiff.ring(n, generator=gen)
                fresh = mdiff.ring(4 * n, generator=gen)
                if kind == "u_statistic":  # leaves out the pairs i = j of the training set
                    values.append(mdiff.energy_distance(train, fresh, unbiased=True))
                    continue
                if kind == "small_fresh":  # V-statistic with only N fresh points: biased up
                    values.append(mdiff.energy_distance(train, fresh[:n]))
                    continue
                value = (
                    2 * torch.cdist(train, fresh).mean()
                    - torch.cdist(train, train).mean()
                    - torch.pdist(fresh).mean()
                ).item()
                values.append(value)
            means.append(sum(values) / repeats)
        out = torch.tensor(means, dtype=torch.float64)
        return out.sqrt() if kind == "root" else out

    return fn


def test_empirical_energy_reference_passes(capsys):
    assert check_empirical_energy(energy_protocol())
    assert "Correct" in capsys.readouterr().out


def test_empirical_energy_mean_is_pair_mean_over_n():
    """E energy(p_0^N, p_0) = E|X - X'| / N: the mean over many training sets agrees."""
    means = energy_protocol()([10], 400, 2)
    assert float(means[0]) * 10 / _ring_pair_mean() == pytest.approx(1.0, abs=0.15)


def test_energy_cv_bound_holds():
    """The check's spread per repetition (ENERGY_CV) bounds the measured one, with room."""
    pair = _ring_pair_mean()
    for n in (8, 64):
        gen = torch.Generator().manual_seed(n)
        values = []
        for _ in range(150):
            train, fresh = mdiff.ring(n, generator=gen), mdiff.ring(4 * n, generator=gen)
            value = 2 * torch.cdist(train, fresh).mean() - torch.cdist(train, train).mean()
            values.append(n * (value - torch.pdist(fresh).mean()).item() / pair)
        values = torch.tensor(values)
        assert float(values.std() / values.mean()) < ENERGY_CV / 1.5


@pytest.mark.parametrize(
    "kind, message",
    [
        ("u_statistic", "near 0 or negative"),
        ("root", "rate of the square root"),
        ("small_fresh", "higher than the Monte Carlo error allows"),
    ],
)
def test_empirical_energy_wrong_answers(kind, message):
    with pytest.raises(CheckFailed, match=message):
        check_empirical_energy(energy_protocol(kind))


def test_empirical_energy_per_repetition_values_are_refused():
    def per_repetition(sizes, repeats, seed):
        return torch.ones(len(sizes), repeats)

    with pytest.raises(CheckFailed, match="one mean per size"):
        check_empirical_energy(per_repetition)
