"""Regularized scores: Tikhonov, empirical Bayes and smoothed, against their definitions."""

import math

import pytest
import torch

import mdiff

D = 3


def autograd_score(logp, x):
    x = x.clone().requires_grad_(True)
    return torch.autograd.grad(logp(x).sum(), x)[0]


def smoothed_log_density(schedule, data, x, t, h):
    """log (1/N) sum_n N(x; m y_n, (sigma^2 + m^2 h^2) I): Gaussians of covariance h^2 I."""
    cov = h * h * torch.eye(data.shape[1], dtype=data.dtype)
    parts = torch.stack([mdiff.gaussian_log_density(schedule, y, cov, x, t) for y in data])
    return torch.logsumexp(parts, 0) - math.log(len(data))


@pytest.fixture
def data():
    return torch.randn(7, D, dtype=torch.float64)


@pytest.fixture
def x():
    return 1.5 * torch.randn(11, D, dtype=torch.float64)


@pytest.mark.parametrize("t", [1e-2, 0.5])
@pytest.mark.parametrize("c", [1e-3, 0.1])
def test_tikhonov_is_rescaled_empirical(schedule, data, x, t, c):
    s_n = mdiff.empirical_score(schedule, data)(x, t)
    s_c = mdiff.tikhonov_score(schedule, data, c)(x, t)
    s2 = schedule.sigma(t) ** 2
    assert torch.allclose(s_c, s_n * s2 / (s2 + c), rtol=1e-10, atol=1e-12)


def test_tikhonov_zero_is_empirical(schedule, data, x):
    for t in [1e-3, 0.2, 1.0]:
        a = mdiff.tikhonov_score(schedule, data, 0.0)(x, t)
        assert torch.equal(a, mdiff.empirical_score(schedule, data)(x, t))


@pytest.mark.parametrize("tau", [1e-3, 0.1, 10.0])
@pytest.mark.parametrize("t", [0.05, 0.5])
def test_empirical_bayes_is_floored_kernel_sum(schedule, data, x, t, tau):
    """s_tau = grad p_hat / max(p_hat, tau), p_hat the unnormalised kernel sum."""
    m, s2 = schedule.m(t), schedule.sigma(t) ** 2

    def p_hat(z):
        return torch.exp(-((z[:, None, :] - m * data[None]) ** 2).sum(-1) / (2 * s2)).sum(1)

    z = x.clone().requires_grad_(True)
    p = p_hat(z)
    grad = torch.autograd.grad(p.sum(), z)[0]
    expected = grad / torch.clamp(p.detach(), min=tau)[:, None]
    got = mdiff.empirical_bayes_score(schedule, data, tau)(x, t)
    assert torch.allclose(got, expected, rtol=1e-8, atol=1e-10)


def test_empirical_bayes_small_tau_is_empirical(schedule, data, x):
    """Pointwise limit tau -> 0 (at t = 1e-3 far points have kernel sums below 1e-300)."""
    for t in [0.3, 0.6, 1.0]:
        a = mdiff.empirical_bayes_score(schedule, data, 1e-300)(x, t)
        assert torch.allclose(a, mdiff.empirical_score(schedule, data)(x, t), rtol=1e-12)


def test_smoothed_score_is_grad_log_smoothed_mixture(schedule, data, x):
    h = 0.3
    expected = autograd_score(lambda z: smoothed_log_density(schedule, data, z, 0.2, h), x)
    assert torch.allclose(mdiff.smoothed_score(schedule, data, h)(x, 0.2), expected, atol=1e-10)
