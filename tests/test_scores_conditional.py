"""The conditional empirical score against autograd, closed forms and the exact ODE solution."""

import math

import pytest
import torch

import mdiff

X = mdiff.paper_points()[:6]  # six x's in 2-D
Y_DISTINCT = torch.tensor([[0.0], [1.0], [2.5], [-1.0], [4.0], [-3.0]], dtype=torch.float64)
LABELS = torch.tensor([[0.0], [1.0], [0.0], [1.0], [1.0], [2.0]], dtype=torch.float64)
TIMES = [1.0, 0.4, 0.05, 1e-3]


def log_normal(z, mean, var):
    """Row-wise log N(z; mean, var I) for z (n, d), mean (N, d): result (n, N)."""
    d = z.shape[1]
    sq = ((z[:, None, :] - mean[None]) ** 2).sum(-1)
    return -sq / (2 * var) - 0.5 * d * math.log(2 * math.pi * var)


def autograd_score(log_density, x):
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(log_density(x).sum(), x)
    return grad


def start_points(n=7, seed=3):
    return 1.5 * torch.randn(n, 2, generator=torch.Generator().manual_seed(seed), dtype=X.dtype)


@pytest.mark.parametrize("t", TIMES)
def test_distinct_y_is_the_single_gaussian_score(schedule, t):
    x = start_points()
    m, s2 = schedule.m(t), schedule.sigma(t) ** 2
    for k in range(len(X)):
        score = mdiff.conditional_empirical_score(schedule, X, Y_DISTINCT, Y_DISTINCT[k])
        assert torch.allclose(score(x, t), (m * X[k] - x) / s2, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("t", TIMES)
def test_equals_autograd_gradient_of_conditional_log_density(schedule, t):
    """Only x noised: log p_t(x | y) = log mean over {n : y_n = y} of N(x; m x_n, sigma^2 I)."""
    x = start_points()
    m, s2 = schedule.m(t), schedule.sigma(t) ** 2
    for label in (0.0, 1.0, 2.0):
        subset = X[LABELS[:, 0] == label]

        def log_p(z, subset=subset):
            return torch.logsumexp(log_normal(z, m * subset, s2), 1)

        score = mdiff.conditional_empirical_score(schedule, X, LABELS, torch.tensor([label]))
        want = autograd_score(log_p, x)
        assert torch.allclose(score(x, t), want, rtol=1e-8, atol=1e-8 / float(s2))


@pytest.mark.parametrize("t", TIMES)
def test_joint_equals_autograd_gradient_of_joint_log_density(schedule, t):
    """Joint noising: grad_x log sum_n N(x; m x_n, s^2) N(y_t; m y_n, s^2) at y_t = m y."""
    x = start_points()
    m, s2 = schedule.m(t), schedule.sigma(t) ** 2
    for y in (Y_DISTINCT[2], torch.tensor([0.3], dtype=torch.float64)):
        y_t = (m * y)[None]

        def log_p(z, y_t=y_t):
            return torch.logsumexp(
                log_normal(z, m * X, s2) + log_normal(y_t, m * Y_DISTINCT, s2), 1
            )

        score = mdiff.conditional_empirical_score(schedule, X, Y_DISTINCT, y, joint=True)
        want = autograd_score(log_p, x)
        assert torch.allclose(score(x, t), want, rtol=1e-8, atol=1e-8 / float(s2))


def test_labels_give_the_empirical_score_of_the_class(schedule):
    x, t = start_points(), 0.3
    score = mdiff.conditional_empirical_score(schedule, X, LABELS, torch.tensor([1.0]))
    subset = mdiff.empirical_score(schedule, X[LABELS[:, 0] == 1.0])
    assert torch.allclose(score(x, t), subset(x, t), rtol=1e-10, atol=1e-10)


def test_one_y_per_row_equals_separate_calls(schedule):
    x, t = start_points(6), torch.linspace(0.05, 0.9, 6, dtype=torch.float64)
    for joint in (False, True):
        rows = mdiff.conditional_empirical_score(schedule, X, Y_DISTINCT, Y_DISTINCT, joint=joint)
        for k in range(6):
            one = mdiff.conditional_empirical_score(
                schedule, X, Y_DISTINCT, Y_DISTINCT[k], joint=joint
            )
            assert torch.allclose(rows(x, t)[k], one(x[k : k + 1], t[k : k + 1])[0], rtol=1e-12)


def test_exponential_step_reproduces_the_exact_ode_solution(schedule):
    """x(t) = m x_k + (sigma / sigma(T)) (x(T) - m(T) x_k), on any grid, down to x(0) = x_k."""
    k = 2
    score = mdiff.conditional_empirical_score(schedule, X, Y_DISTINCT, Y_DISTINCT[k])
    xT = schedule.prior(40, 2, torch.Generator().manual_seed(0))
    ts = torch.tensor([1.0, 0.7, 0.3, 0.05, 1e-4, 0.0], dtype=torch.float64)
    path = mdiff.probability_flow(schedule, score, xT, ts, method="exponential", return_path=True)
    m_T, s_T = schedule.m(1.0), schedule.sigma(1.0)
    for j, t in enumerate(ts):
        exact = schedule.m(t) * X[k] + schedule.sigma(t) / s_T * (xT - m_T * X[k])
        assert torch.allclose(path[j], exact, rtol=1e-12, atol=1e-12)
    assert torch.equal(path[-1], X[k].expand(40, 2))


def test_every_sample_collapses_to_the_paired_x(schedule):
    score = mdiff.conditional_empirical_score(schedule, X, Y_DISTINCT, Y_DISTINCT[4])
    x = schedule.prior(300, 2, torch.Generator().manual_seed(1))
    out = mdiff.probability_flow(schedule, score, x, mdiff.time_grid(schedule, 30), method="heun")
    assert (out - X[4]).norm(dim=1).max() < 0.02  # Heun: an O(sigma(t_min)) residual
    out = mdiff.probability_flow(
        schedule, score, x, mdiff.time_grid(schedule, 30), method="exponential"
    )
    assert (out - X[4]).norm(dim=1).max() < 1e-12


def test_joint_variant_at_a_well_separated_training_y_returns_its_x(schedule):
    y = 100.0 * Y_DISTINCT  # y's far apart: the y term selects pair k long before t -> 0
    score = mdiff.conditional_empirical_score(schedule, X, y, y[3], joint=True)
    x = schedule.prior(200, 2, torch.Generator().manual_seed(2))
    out = mdiff.probability_flow(
        schedule, score, x, mdiff.time_grid(schedule, 100), method="exponential"
    )
    assert (out - X[3]).norm(dim=1).max() < 1e-10


def test_joint_variant_off_the_training_y_still_returns_training_x(schedule):
    score = mdiff.conditional_empirical_score(
        schedule, X, Y_DISTINCT, torch.tensor([0.4]), joint=True
    )
    x = schedule.prior(200, 2, torch.Generator().manual_seed(3))
    out = mdiff.probability_flow(
        schedule, score, x, mdiff.time_grid(schedule, 100), method="exponential"
    )
    assert mdiff.fraction_within(out, X, 1e-8) == 1.0


def test_float32_is_kept_and_finite_at_small_t(schedule):
    score = mdiff.conditional_empirical_score(schedule, X.float(), LABELS.float(), [0.0])
    x = start_points().float()
    for t in (1.0, 1e-4, 1e-7):
        out = score(x, t)
        assert out.dtype == torch.float32 and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="t must be > 0"):  # sigma(0) = 0: singular
        score(x, 0.0)


def test_bad_input(schedule):
    with pytest.raises(ValueError, match="y must equal one of the training values"):
        mdiff.conditional_empirical_score(schedule, X, Y_DISTINCT, [0.5])
    with pytest.raises(ValueError, match=r"y must have shape \(1,\) or \(n, 1\)"):
        mdiff.conditional_empirical_score(schedule, X, Y_DISTINCT, [0.0, 1.0])
    with pytest.raises(ValueError, match="y must be finite"):
        mdiff.conditional_empirical_score(schedule, X, Y_DISTINCT, [math.nan], joint=True)
    with pytest.raises(ValueError, match="same number of rows"):
        mdiff.conditional_empirical_score(schedule, X, Y_DISTINCT[:5], [0.0])
    with pytest.raises(ValueError, match="data_y.*finite"):
        mdiff.conditional_empirical_score(schedule, X, Y_DISTINCT * math.inf, [0.0])
    score = mdiff.conditional_empirical_score(schedule, X, Y_DISTINCT, Y_DISTINCT[:3])
    with pytest.raises(ValueError, match="y has 3 rows"):
        score(start_points(4), 0.5)
    with pytest.raises(ValueError, match=r"x must be a tensor of shape \(n, 2\)"):
        score(torch.zeros(3, 5, dtype=torch.float64), 0.5)
    with pytest.raises(ValueError, match=r"t must lie in \[0, T"):
        score(start_points(3), 2.0)
