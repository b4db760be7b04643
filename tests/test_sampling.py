"""Samplers against exact solutions, convergence orders and the memorization theorems."""

import math

import pytest
import torch

import mdiff


def exact_prior(schedule, mean, cov, n, gen):
    """Samples of the true p_T = N(m mu, m^2 C + sigma^2 I)."""
    m, s = schedule.m(1.0), schedule.sigma(1.0)
    return mdiff.gaussian_data(n, m * mean, m**2 * cov + s**2 * torch.eye(len(mean)), gen)


MEAN = torch.tensor([1.0, -0.5], dtype=torch.float64)
COV = torch.tensor([[1.0, 0.6], [0.6, 0.8]], dtype=torch.float64)


@pytest.mark.parametrize("method", mdiff.sampling.METHODS)
def test_pf_ode_with_gaussian_score_reproduces_data_law(schedule, method, gen):
    x = exact_prior(schedule, MEAN, COV, 20000, gen)
    ts = mdiff.time_grid(schedule, 200, spacing="uniform", t_end=1e-3)
    out = mdiff.probability_flow(
        schedule, mdiff.gaussian_score(schedule, MEAN, COV), x, ts, method=method
    )
    assert torch.allclose(out.mean(0), MEAN, atol=0.03)
    assert torch.allclose(torch.cov(out.T), COV, atol=0.05)


def test_reverse_sde_with_gaussian_score_reproduces_data_law(schedule, gen):
    x = exact_prior(schedule, MEAN, COV, 20000, gen)
    ts = mdiff.time_grid(schedule, 400, spacing="uniform", t_end=1e-3)
    score = mdiff.gaussian_score(schedule, MEAN, COV)
    out = mdiff.euler_maruyama(schedule, score, x, ts, generator=gen)
    assert torch.allclose(out.mean(0), MEAN, atol=0.04)
    assert torch.allclose(torch.cov(out.T), COV, atol=0.07)


def exact_1d_flow(schedule, mu, s0, xT, t):
    """PF-ODE of N(mu, s0^2) data: x(t) = m mu + sqrt(v(t)/v(T)) (x(T) - m(T) mu)."""

    def v(s):
        return schedule.m(s) ** 2 * s0**2 + schedule.sigma(s) ** 2

    return schedule.m(t) * mu + torch.sqrt(v(t) / v(1.0)) * (xT - schedule.m(1.0) * mu)


def observed_orders(schedule, method, steps, t_end, **grid):
    """log2 error ratios of ``method`` against the exact 1-D Gaussian flow at ``t_end``."""
    mu, s0 = 0.7, 0.5
    score = mdiff.gaussian_score(
        schedule, torch.tensor([mu]).double(), torch.tensor([[s0**2]]).double()
    )
    xT = torch.linspace(-3, 3, 7, dtype=torch.float64)[:, None]
    exact = exact_1d_flow(schedule, mu, s0, xT, t_end)
    errors = []
    for n in steps:
        ts = mdiff.time_grid(schedule, n, t_end=t_end, **grid)
        out = mdiff.probability_flow(schedule, score, xT, ts, method=method)
        errors.append((out - exact).abs().max().item())
    return errors, [math.log2(a / b) for a, b in zip(errors, errors[1:])]


@pytest.mark.parametrize("method,order", [("euler", 1), ("heun", 2)])
def test_convergence_order(schedule, method, order):
    errors, rates = observed_orders(schedule, method, [25, 50, 100, 200], 0.0, spacing="uniform")
    assert all(abs(r - order) < 0.25 for r in rates[1:]), (errors, rates)


@pytest.mark.parametrize("method,order", [("exponential", 1), ("exponential-2m", 2)])
def test_exponential_convergence_order_on_a_log_sigma_grid(schedule, method, order):
    """Order 1 for the plain denoiser step, 2 once the denoiser is extrapolated (DPM-Solver++)."""
    errors, rates = observed_orders(schedule, method, [64, 128, 256, 512], 1e-3, t_min=1e-3)
    assert all(abs(r - order) < 0.25 for r in rates[1:]), (errors, rates)


def test_exponential_2m_first_step_is_the_exponential_step(schedule):
    data = mdiff.paper_points()
    score = mdiff.empirical_score(schedule, data)
    x = schedule.prior(20, 2, torch.Generator().manual_seed(1))
    ts = mdiff.time_grid(schedule, 10)
    one = mdiff.probability_flow(schedule, score, x, ts[:2], method="exponential")
    two = mdiff.probability_flow(schedule, score, x, ts[:2], method="exponential-2m")
    three = mdiff.probability_flow(schedule, score, x, ts[:3], method="exponential-2m")
    assert torch.equal(one, two)
    assert not torch.allclose(
        three, mdiff.probability_flow(schedule, score, x, ts[:3], method="exponential"), atol=1e-6
    )


@pytest.mark.parametrize("method", ["exponential", "exponential-2m"])
def test_exponential_step_is_exact_for_one_hot_weights(schedule, method):
    """With one training point the weights are one-hot and any grid gives the exact flow."""
    y = torch.tensor([[0.3, -1.2]], dtype=torch.float64)
    xT = schedule.prior(50, 2, torch.Generator().manual_seed(0))
    ts = torch.tensor([1.0, 0.6, 0.2, 1e-3, 0.0], dtype=torch.float64)
    path = mdiff.probability_flow(
        schedule, mdiff.empirical_score(schedule, y), xT, ts, method=method, return_path=True
    )
    assert path.shape == (5, 50, 2)
    for k, t in enumerate(ts):
        exact = schedule.m(t) * y + schedule.sigma(t) / schedule.sigma(1.0) * (
            xT - schedule.m(1.0) * y
        )
        assert torch.allclose(path[k], exact, atol=1e-12)
    assert torch.allclose(path[-1], y.expand(50, 2), atol=1e-14)


@pytest.mark.parametrize(
    "method,tol",
    [("euler", 1e-2), ("heun", 1e-2), ("exponential", 1e-12), ("exponential-2m", 1e-12)],
)
def test_every_ode_sample_ends_on_a_training_point(schedule, method, tol):
    """Exactly for the exponential step; Euler and Heun leave an O(sigma(t_min)) residual
    because their last step cannot follow the 1/sigma^2 drift."""
    data = mdiff.paper_points()
    x = schedule.prior(500, 2, torch.Generator().manual_seed(0))
    ts = mdiff.time_grid(schedule, 200)
    out = mdiff.probability_flow(
        schedule, mdiff.empirical_score(schedule, data), x, ts, method=method
    )
    assert torch.isfinite(out).all()
    assert mdiff.fraction_within(out, data, tol) == 1.0


def test_reverse_sde_ends_at_point_n_with_frequency_w_n():
    """From a fixed x_T, the reverse SDE of p^N ends at y_n with probability w_n(x_T, T)."""
    schedule = mdiff.VP(beta_min=0.1, beta_max=4.0)
    data = torch.tensor([[0.0, 0.0], [1.5, 0.0], [0.0, 2.0]], dtype=torch.float64)
    xT = torch.tensor([[0.6, 0.5]], dtype=torch.float64)
    w = mdiff.posterior_weights(schedule, data, xT, 1.0)[0]
    assert w.min() > 0.15  # a non-trivial target
    n = 6000
    gen = torch.Generator().manual_seed(7)
    ts = mdiff.time_grid(schedule, 400, t_min=1e-4, t_end=1e-4)
    out = mdiff.euler_maruyama(
        schedule, mdiff.empirical_score(schedule, data), xT.expand(n, 2), ts, generator=gen
    )
    idx = mdiff.nearest_k(out, data)[1][:, 0]
    freq = torch.bincount(idx, minlength=3).double() / n
    se = torch.sqrt(w * (1 - w) / n)
    assert ((freq - w).abs() < 4 * se + 0.01).all(), (freq, w)


def test_same_generator_same_samples(schedule):
    data = mdiff.paper_points()
    score = mdiff.empirical_score(schedule, data)
    ts = mdiff.time_grid(schedule, 20)
    runs = []
    for _ in range(2):
        g = torch.Generator().manual_seed(5)
        runs.append(
            mdiff.euler_maruyama(schedule, score, schedule.prior(30, 2, g), ts, generator=g)
        )
    assert torch.equal(runs[0], runs[1])


def test_return_path_shapes(schedule):
    data = mdiff.paper_points()
    ts = mdiff.time_grid(schedule, 10)
    x = schedule.prior(4, 2)
    score = mdiff.empirical_score(schedule, data)
    assert mdiff.probability_flow(schedule, score, x, ts, return_path=True).shape == (11, 4, 2)
    assert mdiff.euler_maruyama(schedule, score, x, ts, return_path=True).shape == (11, 4, 2)


def test_float32_sampling_stays_float32(schedule):
    data = mdiff.paper_points(torch.float32)
    x = schedule.prior(100, 2, dtype=torch.float32)
    ts = mdiff.time_grid(schedule, 50)
    out = mdiff.probability_flow(
        schedule, mdiff.empirical_score(schedule, data), x, ts, method="exponential"
    )
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
