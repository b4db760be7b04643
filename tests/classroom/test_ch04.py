"""Chapter 4 exercise checks: the reference solutions pass, typical wrong answers fail."""

import math

import pytest
import torch

from mdiff.classroom import CheckFailed, check_energy_hessian, check_tau_sde_step

# ---------------------------------------------------------------------------------------
# ex-04-tau-sde


def tau_sde_variant(kind):
    def fn(data, y, tau, h, xi):
        w = torch.softmax(-0.5 * math.exp(2 * tau) * ((y[:, None] - data[None]) ** 2).sum(-1), 1)
        drift = -(y - w @ data)
        factor = {"half_drift": 1.0, "drift_sign": -2.0}.get(kind, 2.0)
        amplitude = {
            "no_exp": math.sqrt(2 * h),
            "exp_2tau": math.sqrt(2 * h) * math.exp(-2 * tau),
            "no_sqrt2": math.sqrt(h) * math.exp(-tau),
            "no_noise": 0.0,
        }.get(kind, math.sqrt(2 * h) * math.exp(-tau))
        return y + factor * h * drift + amplitude * xi

    return fn


def test_tau_sde_reference_passes(capsys):
    assert check_tau_sde_step(tau_sde_variant("correct"))
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    "kind, message",
    [
        ("half_drift", "twice that of the ODE"),
        ("drift_sign", "sign error"),
        ("no_exp", r"shrinks like rho"),
        ("exp_2tau", r"not e\^\(-2 tau\)"),
        ("no_sqrt2", r"sqrt\(2\) in the noise is missing"),
        ("no_noise", "no noise was added"),
    ],
)
def test_tau_sde_wrong_answers(kind, message):
    with pytest.raises(CheckFailed, match=message):
        check_tau_sde_step(tau_sde_variant(kind))


def test_tau_sde_none_and_errors():
    with pytest.raises(CheckFailed, match="returned None"):
        check_tau_sde_step(lambda data, y, tau, h, xi: None)
    with pytest.raises(CheckFailed, match="raised TypeError"):
        check_tau_sde_step(lambda data, y: y)


# ---------------------------------------------------------------------------------------
# ex-04-hessian


def hessian_variant(kind):
    def fn(data, y, tau):
        a = math.exp(2 * tau)
        w = torch.softmax(-0.5 * a * ((y - data) ** 2).sum(1), 0)
        mean = w @ data
        centred = data - mean if kind != "second_moment" else data
        cov = (w[:, None] * centred).T @ centred
        eye = torch.eye(len(y), dtype=data.dtype)
        if kind == "no_factor":
            return eye - cov
        if kind == "sign":
            return a * cov - eye
        return eye - a * cov

    return fn


def test_hessian_reference_passes(capsys):
    assert check_energy_hessian(hessian_variant("correct"))
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    "kind, message",
    [
        ("no_factor", r"missing the factor e\^\(2 tau\)"),
        ("second_moment", "not the second moment"),
        ("sign", "sign error"),
    ],
)
def test_hessian_wrong_answers(kind, message):
    with pytest.raises(CheckFailed, match=message):
        check_energy_hessian(hessian_variant(kind))
