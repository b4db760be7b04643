"""Bad input raises ValueError naming the argument."""

import math

import pytest
import torch

import mdiff

Y = mdiff.paper_points()
X = torch.zeros(3, 2, dtype=torch.float64)


def raises(match, fn, *a, **k):
    with pytest.raises(ValueError, match=match):
        fn(*a, **k)


@pytest.mark.parametrize(
    "make",
    [
        lambda s, y: mdiff.empirical_score(s, y),
        lambda s, y: mdiff.tikhonov_score(s, y, 0.1),
        lambda s, y: mdiff.empirical_bayes_score(s, y, 0.1),
        lambda s, y: mdiff.smoothed_score(s, y, 0.1),
    ],
)
def test_bad_data(schedule, make):
    raises("data.*shape", make, schedule, torch.zeros(5))
    raises("data.*non-empty", make, schedule, torch.zeros(0, 2))
    raises("data.*finite", make, schedule, torch.tensor([[0.0, math.nan]]))
    score = make(schedule, Y)
    raises(r"x.*shape \(n, 2\)", score, torch.zeros(3, 3), 0.5)
    raises(r"x.*shape \(n, 2\)", score, torch.zeros(3), 0.5)
    raises(r"t must lie in \[0, T", score, X, 1.5)
    raises(r"t must lie in \[0, T", score, X, -0.1)
    raises(r"t must lie in \[0, T", score, X, math.nan)
    raises(r"t must be a float or a tensor of shape \(3,\)", score, X, torch.ones(4) * 0.5)


def test_bad_regularization_parameters(schedule):
    raises("c must be", mdiff.tikhonov_score, schedule, Y, -1e-3)
    raises("tau must be", mdiff.empirical_bayes_score, schedule, Y, 0.0)
    raises("tau must be", mdiff.empirical_bayes_score, schedule, Y, -1.0)
    raises("bandwidth must be", mdiff.smoothed_score, schedule, Y, -0.1)


def test_bad_schedules():
    raises("beta_min", mdiff.VP, beta_min=-1.0)
    raises("beta_max", mdiff.VP, beta_min=1.0, beta_max=0.5)
    raises("T must be", mdiff.VP, T=0.0)
    raises("sigma0", mdiff.VE, sigma0=1.0)
    raises("sigma0", mdiff.VE, sigma0=math.inf)
    raises("T must be", mdiff.VE, T=-1.0)


def test_bad_time_grids(schedule):
    score = mdiff.empirical_score(schedule, Y)
    for ts in (
        [1.0, 0.5, 0.7],
        [0.5, 0.5, 0.0],
        [1.0, math.nan, 0.0],
        [2.0, 1.0],
        [1.0, -0.5],
        [1.0],
    ):
        raises("ts must", mdiff.probability_flow, schedule, score, X, torch.tensor(ts))
        raises("ts must", mdiff.euler_maruyama, schedule, score, X, torch.tensor(ts))
    raises(
        "method must be",
        mdiff.probability_flow,
        schedule,
        score,
        X,
        torch.tensor([1.0, 0.0]),
        method="rk4",
    )
    raises(
        "x must be",
        mdiff.probability_flow,
        schedule,
        score,
        torch.zeros(3),
        torch.tensor([1.0, 0.0]),
    )
    raises("n_steps", mdiff.time_grid, schedule, 0)
    raises("spacing", mdiff.time_grid, schedule, 5, spacing="cosine")
    raises("t_end", mdiff.time_grid, schedule, 5, t_end=1.0)


def test_bad_gaussian(schedule):
    raises("mean", mdiff.gaussian_score, schedule, torch.zeros(2, 2), torch.eye(2))
    raises(
        r"cov must have shape \(2, 2\)",
        mdiff.gaussian_score,
        schedule,
        torch.zeros(2),
        torch.eye(3),
    )
    raises(
        "symmetric",
        mdiff.gaussian_score,
        schedule,
        torch.zeros(2),
        torch.tensor([[1.0, 1.0], [0.0, 1.0]]),
    )
    raises("semi-definite", mdiff.gaussian_score, schedule, torch.zeros(2), -torch.eye(2))


def test_bad_metric_arguments():
    raises("tol must be", mdiff.fraction_within, X, Y, -1e-2)
    raises(r"samples.*shape \(n, 2\)", mdiff.nearest_distance, torch.zeros(3, 3), Y)
    raises("at least 2", mdiff.memorized, X, Y[:1])
    raises("ratio", mdiff.memorized, X, Y, ratio=0.0)


def test_bad_weights_arguments(schedule):
    raises(r"x.*shape \(n, 2\)", mdiff.posterior_weights, schedule, Y, torch.zeros(2, 5), 0.5)
    raises(r"t must lie", mdiff.denoiser, schedule, Y, X, 3.0)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_check_data_finiteness_in_small_blocks(monkeypatch, bad):
    """NaN/inf in the last row is found, while each isfinite temporary stays <= 4 MB of bools."""
    sizes, isfinite = [], torch.isfinite
    monkeypatch.setattr(torch, "isfinite", lambda t: sizes.append(t.numel()) or isfinite(t))
    data = torch.zeros(2049, 4096, dtype=torch.float16)  # 3 blocks of rows, the last one row
    assert mdiff._checks.data(data) is data
    assert len(sizes) == 3 and max(sizes) <= 1 << 22
    data[-1, -1] = bad
    with pytest.raises(ValueError, match=r"^data must be finite \(found NaN or inf\)$"):
        mdiff._checks.data(data)


def test_scalar_checks_name_the_argument():
    from mdiff import _checks as check

    assert check.positive(2, "c") == 2.0 and check.positive(0, "c", zero=True) == 0.0
    for bad in (0.0, -1.0, math.nan, math.inf):
        raises("c must be a positive finite number", check.positive, bad, "c")
    raises("c must be a finite number >= 0", check.positive, -1e-9, "c", zero=True)
    assert check.integer(3, "k") == 3 and check.integer(None, "k", optional=True) is None
    for bad in (0, 2.5, "3", None):
        raises("k must be an integer >= 1", check.integer, bad, "k")
    assert check.in_range(0.5, "q", 0, 1, closed="()") == 0.5
    raises(r"q must lie in \(0, 1\)", check.in_range, 1.0, "q", 0, 1, closed="()")
    raises(r"t_end must lie in \[0, 1\)", check.in_range, 1.0, "t_end", 0, 1)
    raises("method must be one of", check.one_of, "rk4", "method", ("heun",))


def test_time_grid_honours_t_min_for_both_spacings(schedule):
    for spacing in ("uniform", "log_sigma"):
        ts = mdiff.time_grid(schedule, 10, spacing=spacing, t_min=1e-3)
        assert ts.shape == (11,) and ts[-2] == pytest.approx(1e-3, rel=1e-9) and ts[-1] == 0
        ts = mdiff.time_grid(schedule, 10, spacing=spacing, t_min=1e-3, t_end=1e-3)
        assert ts.shape == (11,) and ts[-1] == pytest.approx(1e-3, rel=1e-9)
    uniform = mdiff.time_grid(schedule, 10, spacing="uniform", t_min=0.1)
    assert torch.allclose(uniform[:-1], torch.linspace(1.0, 0.1, 10, dtype=torch.float64))
    raises("t_min must lie in", mdiff.time_grid, schedule, 10, t_min=0.0)
    raises("t_min must lie in", mdiff.time_grid, schedule, 10, t_min=1e-3, t_end=1e-2)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("n", [3, 20001])  # NumPy's view (small CPU float32/64) and torch's
def test_finiteness_is_checked_on_every_path(dtype, n):
    from mdiff import _checks as check

    x = torch.zeros(n, 2, dtype=dtype)
    check.finite(x, "x")
    check.finite(x.T, "x")  # a non-contiguous view
    for bad in (math.nan, math.inf, -math.inf):
        y = x.clone()
        y[-1, 1] = bad
        with pytest.raises(ValueError, match=r"^x must be finite \(found NaN or inf\)$"):
            check.finite(y, "x")
        with pytest.raises(ValueError, match=r"^x must be finite"):
            check.finite(y.T[:, (n - 1) % 2 :: 2], "x")  # strided; the bad entry at n - 1 is kept
    z = torch.zeros(4, 2, dtype=dtype, requires_grad=dtype.is_floating_point)
    check.finite(z, "x")  # a tensor that requires grad
