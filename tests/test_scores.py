"""Scores: each equals the autograd gradient of its log-density; batching; precision."""

import math

import pytest
import torch

import mdiff

D = 3


def mixture_log_density(schedule, data, x, t):
    """log (1/N) sum_n N(x; m y_n, sigma^2 I) as a mixture of mdiff's Gaussian log-densities."""
    zero = torch.zeros(data.shape[1], data.shape[1], dtype=data.dtype)
    parts = torch.stack([mdiff.gaussian_log_density(schedule, y, zero, x, t) for y in data])
    return torch.logsumexp(parts, 0) - math.log(len(data))


def autograd_score(logp, x):
    x = x.clone().requires_grad_(True)
    return torch.autograd.grad(logp(x).sum(), x)[0]


@pytest.fixture
def data():
    return torch.randn(7, D, dtype=torch.float64)


@pytest.fixture
def x():
    return 1.5 * torch.randn(11, D, dtype=torch.float64)


@pytest.mark.parametrize("t", [1e-2, 0.1, 0.5, 1.0])
def test_empirical_log_density_is_the_mixture_of_gaussians(schedule, data, x, t):
    got = mdiff.empirical_log_density(schedule, data, x, t)
    assert got.shape == (len(x),)
    assert torch.allclose(got, mixture_log_density(schedule, data, x, t), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("t", [1e-2, 0.1, 0.5, 1.0])
def test_empirical_score_is_grad_log_mixture(schedule, data, x, t):
    expected = autograd_score(lambda z: mdiff.empirical_log_density(schedule, data, z, t), x)
    got = mdiff.empirical_score(schedule, data)(x, t)
    assert torch.allclose(got, expected, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("t", [1e-2, 0.3, 1.0])
def test_gaussian_score_is_grad_log_density(schedule, x, t):
    a = torch.randn(D, D, dtype=torch.float64)
    cov, mean = a @ a.T + 0.1 * torch.eye(D), torch.randn(D, dtype=torch.float64)
    expected = autograd_score(lambda z: mdiff.gaussian_log_density(schedule, mean, cov, z, t), x)
    assert torch.allclose(mdiff.gaussian_score(schedule, mean, cov)(x, t), expected, atol=1e-10)


def test_gaussian_log_density_matches_torch(schedule, x):
    cov = torch.diag(torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64))
    mean = torch.tensor([1.0, -1.0, 0.0], dtype=torch.float64)
    m, s = schedule.m(0.4), schedule.sigma(0.4)
    law = torch.distributions.MultivariateNormal(m * mean, m**2 * cov + s**2 * torch.eye(D))
    assert torch.allclose(mdiff.gaussian_log_density(schedule, mean, cov, x, 0.4), law.log_prob(x))


def test_gaussian_score_with_singular_covariance(schedule, x):
    """A rank-one covariance is allowed (data on a line); the score stays finite for t > 0."""
    v = torch.tensor([1.0, 2.0, 0.0], dtype=torch.float64)
    s = mdiff.gaussian_score(schedule, torch.zeros(D, dtype=torch.float64), torch.outer(v, v))
    assert torch.isfinite(s(x, 1e-3)).all()


def test_batched_t_equals_loop(schedule, data, x):
    t = torch.linspace(1e-3, 1.0, len(x), dtype=torch.float64)
    scores = [
        mdiff.empirical_score(schedule, data),
        mdiff.tikhonov_score(schedule, data, 0.01),
        mdiff.empirical_bayes_score(schedule, data, 0.1),
        mdiff.gaussian_score(schedule, torch.zeros(D, dtype=torch.float64), torch.eye(D).double()),
    ]
    for score in scores:
        loop = torch.cat([score(x[i : i + 1], float(t[i])) for i in range(len(x))])
        assert torch.allclose(score(x, t), loop, rtol=1e-12, atol=1e-12)


def test_weights_and_denoiser(schedule, data, x):
    w = mdiff.posterior_weights(schedule, data, x, 0.3)
    assert w.shape == (len(x), len(data))
    assert torch.allclose(w.sum(1), torch.ones(len(x), dtype=torch.float64))
    assert torch.allclose(mdiff.denoiser(schedule, data, x, 0.3), w @ data)


def test_tweedie_relation(schedule, data, x):
    """s^N = (m D - x) / sigma^2 with D the denoiser (Tweedie's formula)."""
    t = 0.25
    den = mdiff.denoiser(schedule, data, x, t)
    s = mdiff.empirical_score(schedule, data)(x, t)
    assert torch.allclose(s, (schedule.m(t) * den - x) / schedule.sigma(t) ** 2)


def test_weights_become_one_hot_at_small_t(schedule, data):
    x = schedule.m(1e-4) * data + 1e-4 * torch.randn_like(data)
    w = mdiff.posterior_weights(schedule, data, x, 1e-4)
    assert torch.allclose(w, torch.eye(len(data), dtype=torch.float64), atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_scores_finite_down_to_tiny_t(schedule, dtype):
    data = mdiff.paper_points(dtype)
    x = 3 * torch.randn(200, 2, dtype=dtype)
    for make in [
        lambda: mdiff.empirical_score(schedule, data),
        lambda: mdiff.tikhonov_score(schedule, data, 1e-3),
        lambda: mdiff.empirical_bayes_score(schedule, data, 0.1),
        lambda: mdiff.smoothed_score(schedule, data, 0.1),
    ]:
        out = make()(x, 1e-6)
        assert out.dtype == dtype and torch.isfinite(out).all()


def test_data_converted_to_input_dtype(schedule):
    score = mdiff.empirical_score(schedule, mdiff.paper_points(torch.float64))
    out = score(torch.randn(5, 2), 0.5)
    assert out.dtype == torch.float32
