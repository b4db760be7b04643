"""Scores: each equals the autograd gradient of its log-density; batching; precision."""

import math

import pytest
import torch

import mdiff
import mdiff.scores

D = 3


def mixture_log_density(schedule, data, x, t, extra=0.0):
    """log (1/N) sum_n N(x; m y_n, (sigma^2 + m^2 extra) I), written from its definition."""
    m, s2 = schedule.m(t), schedule.sigma(t) ** 2 + schedule.m(t) ** 2 * extra
    sq = ((x[:, None, :] - m * data[None]) ** 2).sum(-1)
    d = data.shape[1]
    return (
        torch.logsumexp(-sq / (2 * s2), 1)
        - math.log(len(data))
        - d / 2 * torch.log(2 * math.pi * s2)
    )


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
def test_empirical_score_is_grad_log_mixture(schedule, data, x, t):
    expected = autograd_score(lambda z: mixture_log_density(schedule, data, z, t), x)
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
    expected = autograd_score(lambda z: mixture_log_density(schedule, data, z, 0.2, h * h), x)
    assert torch.allclose(mdiff.smoothed_score(schedule, data, h)(x, 0.2), expected, atol=1e-10)


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


def test_row_blocks_do_not_change_the_result(monkeypatch, schedule, data, x):
    full = mdiff.empirical_score(schedule, data)(x, 0.1)
    eb = mdiff.empirical_bayes_score(schedule, data, 0.5)(x, 0.1)
    monkeypatch.setattr(mdiff.scores, "_BLOCK_ELEMENTS", 2 * len(data))
    assert mdiff.scores.block_rows(len(data), D) == 2
    assert torch.allclose(mdiff.empirical_score(schedule, data)(x, 0.1), full, rtol=1e-14)
    assert torch.allclose(mdiff.empirical_bayes_score(schedule, data, 0.5)(x, 0.1), eb)


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


def test_float32_agrees_with_float64_on_uncentred_data(schedule):
    """Centring inside the kernel keeps float32 accurate when the data sit far from 0."""
    data = 50.0 + torch.randn(30, 4, dtype=torch.float64)
    x = schedule.m(0.05) * data[:10] + 0.2 * torch.randn(10, 4, dtype=torch.float64)
    d64 = mdiff.denoiser(schedule, data, x, 0.05)
    d32 = mdiff.denoiser(schedule, data.float(), x.float(), 0.05)
    assert (d32.double() - d64).abs().max() < 1e-3


def test_data_converted_to_input_dtype(schedule):
    score = mdiff.empirical_score(schedule, mdiff.paper_points(torch.float64))
    out = score(torch.randn(5, 2), 0.5)
    assert out.dtype == torch.float32


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_check_data_finiteness_in_small_blocks(monkeypatch, bad):
    """NaN/inf in the last row is found, while each isfinite temporary stays <= 4 MB of bools."""
    sizes, isfinite = [], torch.isfinite
    monkeypatch.setattr(torch, "isfinite", lambda t: sizes.append(t.numel()) or isfinite(t))
    data = torch.zeros(2049, 4096, dtype=torch.float16)  # 3 blocks of rows, the last one row
    assert mdiff.scores.check_data(data) is data
    assert len(sizes) == 3 and max(sizes) <= 1 << 22
    data[-1, -1] = bad
    with pytest.raises(ValueError, match=r"^data must be finite \(found NaN or inf\)$"):
        mdiff.scores.check_data(data)
