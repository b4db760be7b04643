"""Schedules: closed forms against their defining ODEs, and the time grid."""

import math

import pytest
import torch

import mdiff

T = torch.linspace(1e-3, 1.0, 50, dtype=torch.float64)


def test_vp_is_variance_preserving():
    s = mdiff.VP()
    assert torch.allclose(s.m(T) ** 2 + s.sigma(T) ** 2, torch.ones_like(T), atol=1e-14)


def test_ve_keeps_the_mean():
    s = mdiff.VE()
    assert torch.equal(s.m(T), torch.ones_like(T))
    assert torch.allclose(s.sigma(1.0) ** 2, torch.tensor(99 / (2 * math.log(10.0))).double())


def test_f_is_log_derivative_of_m(schedule):
    h = 1e-6
    fd = (torch.log(schedule.m(T + h)) - torch.log(schedule.m(T - h))) / (2 * h)
    assert torch.allclose(fd, schedule.f(T), rtol=1e-6, atol=1e-8)


def test_variance_ode(schedule):
    """d sigma^2 / dt = 2 f sigma^2 + g^2, by central differences."""
    h = 1e-6
    fd = (schedule.sigma(T + h) ** 2 - schedule.sigma(T - h) ** 2) / (2 * h)
    rhs = 2 * schedule.f(T) * schedule.sigma(T) ** 2 + schedule.g2(T)
    assert torch.allclose(fd, rhs, rtol=1e-6, atol=1e-8)


def test_sigma_is_accurate_at_small_t():
    vp = mdiff.VP()
    t = torch.tensor(1e-9, dtype=torch.float32)
    assert vp.sigma(t) ** 2 == pytest.approx(1e-3 * 1e-9, rel=1e-4)


def test_ou_is_a_vp_case():
    ou = mdiff.VP(beta_min=2.0, beta_max=2.0)
    assert torch.allclose(ou.m(T), torch.exp(-T))
    assert torch.allclose(ou.t_of_sigma(ou.sigma(T)), T)


def test_t_of_sigma_inverts_sigma(schedule):
    assert torch.allclose(schedule.t_of_sigma(schedule.sigma(T)), T, rtol=1e-9)


def test_prior_scale_and_generator(schedule):
    a = schedule.prior(20000, 2, torch.Generator().manual_seed(3))
    b = schedule.prior(20000, 2, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert a.std().item() == pytest.approx(float(schedule.sigma(1.0)), rel=0.02)


@pytest.mark.parametrize("spacing", ["uniform", "log_sigma"])
@pytest.mark.parametrize("n", [1, 2, 10])
def test_time_grid(schedule, spacing, n):
    ts = mdiff.time_grid(schedule, n, spacing=spacing)
    assert ts.shape == (n + 1,)
    assert ts[0] == 1.0 and ts[-1] == 0.0
    assert (ts[1:] < ts[:-1]).all()


def test_log_sigma_grid_is_uniform_in_log_sigma(schedule):
    ts = mdiff.time_grid(schedule, 20, t_min=1e-4, t_end=1e-4)
    steps = torch.diff(torch.log(schedule.sigma(ts)))
    assert torch.allclose(steps, steps[0].expand_as(steps), rtol=1e-6)
    assert ts[-1].item() == pytest.approx(1e-4, rel=1e-9)
