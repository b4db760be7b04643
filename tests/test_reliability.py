"""No silent wrong answers: float32 accuracy, autograd, bounded memory, clear errors, grids.

Each test is a regression test for one class of silent failure: it would fail on the code
that returned a wrong number without an error.
"""

import math

import pytest
import torch

import mdiff
import mdiff.kernel as K

SCORES = {
    "empirical": lambda s, y: mdiff.empirical_score(s, y),
    "tikhonov": lambda s, y: mdiff.tikhonov_score(s, y, 1e-2),
    "empirical_bayes": lambda s, y: mdiff.empirical_bayes_score(s, y, 0.1),
    "smoothed": lambda s, y: mdiff.smoothed_score(s, y, 0.05),
}


def near_data(schedule, data, t, n, gen):
    """Points of the forward marginal at ``t`` (plus a few far ones), rounded to float32."""
    idx = torch.randint(len(data), (n,), generator=gen)
    z = torch.randn(n, data.shape[1], dtype=torch.float64, generator=gen)
    x = schedule.m(t) * data[idx] + 2 * schedule.sigma(t) * z
    far = 2 * torch.randn(n // 4, data.shape[1], dtype=torch.float64, generator=gen)
    return torch.cat([x, far]).float().double()  # the same inputs in both dtypes


@pytest.mark.parametrize("t", [1e-6, 1e-5, 1e-4, 1e-2, 1.0])
def test_log_sum_exp_is_accurate_in_float32_at_small_t(schedule, t, gen):
    """Formerly a difference of terms of size |x|^2 / sigma^2: off by 2-50x at t = 1e-4."""
    data = mdiff.paper_points().float().double()
    x = near_data(schedule, data, t, 400, gen)
    lse = {}
    for dtype in (torch.float64, torch.float32):
        xx = x.to(dtype)
        m, var = K.mean_and_var(schedule, xx, t)
        lse[dtype] = K.posterior_mean(K.prepare(data.to(dtype)), xx, m, var, True)[1].double()
    scale = lse[torch.float64].abs().clamp_min(1)
    assert ((lse[torch.float32] - lse[torch.float64]).abs() / scale).max() < 1e-2


@pytest.mark.parametrize("t", [1e-6, 1e-4, 1e-2, 1.0])
def test_empirical_bayes_damping_is_accurate_in_float32(schedule, t, gen):
    """The damping min(1, p_hat / tau) of s_tau: float32 within 1 % of float64 at t >= 1e-6."""
    data = mdiff.paper_points().float().double()
    x = near_data(schedule, data, t, 400, gen)
    damp = {}
    for dtype in (torch.float64, torch.float32):
        xx, yy = x.to(dtype), data.to(dtype)
        eb = mdiff.empirical_bayes_score(schedule, yy, 0.1)(xx, t).double()
        sn = mdiff.empirical_score(schedule, yy)(xx, t).double()
        damp[dtype] = (eb * sn).sum(1) / (sn * sn).sum(1)
    keep = damp[torch.float64] > 1e-30  # representable in float32
    err = (damp[torch.float32] - damp[torch.float64]).abs()[keep] / damp[torch.float64][keep]
    assert err.max() < 1e-2


@pytest.mark.parametrize("name", sorted(SCORES))
def test_autograd_through_scores_matches_finite_differences(schedule, name, gen):
    data = torch.randn(6, 2, dtype=torch.float64, generator=gen)
    x = torch.randn(4, 2, dtype=torch.float64, generator=gen)
    make = SCORES[name]
    assert torch.autograd.gradcheck(lambda z: make(schedule, data)(z, 0.3), (x.requires_grad_(),))
    y = data.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda d: make(schedule, d)(x.detach(), 0.3), (y,))


def test_autograd_through_weights_denoiser_log_density_and_samplers(schedule, gen):
    data = torch.randn(5, 2, dtype=torch.float64, generator=gen).requires_grad_()
    x = torch.randn(3, 2, dtype=torch.float64, generator=gen).requires_grad_()
    for fn in (mdiff.posterior_weights, mdiff.denoiser, mdiff.empirical_log_density):
        assert torch.autograd.gradcheck(lambda z, d, fn=fn: fn(schedule, d, z, 0.4), (x, data))
    ts = mdiff.time_grid(schedule, 4, t_min=0.05, t_end=0.05)
    score = mdiff.empirical_score(schedule, data.detach())
    for method in ("heun", "exponential-2m"):

        def flow(z, method=method):
            return mdiff.probability_flow(schedule, score, z, ts, method=method)

        assert torch.autograd.gradcheck(flow, (x,))


def test_fast_path_unchanged_without_grad(schedule, gen):
    data = torch.randn(50, 3, dtype=torch.float64, generator=gen)
    x = torch.randn(20, 3, dtype=torch.float64, generator=gen)
    plain = mdiff.empirical_score(schedule, data)(x, 0.2)
    tracked = mdiff.empirical_score(schedule, data)(x.clone().requires_grad_(), 0.2)
    assert torch.allclose(plain, tracked.detach(), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("name", sorted(SCORES))
def test_non_finite_or_non_real_points_are_refused(schedule, name):
    score = SCORES[name](schedule, mdiff.paper_points())
    for bad in (math.nan, math.inf):
        x = torch.zeros(3, 2, dtype=torch.float64)
        x[1, 0] = bad
        with pytest.raises(ValueError, match="x must be finite"):
            score(x, 0.5)
    with pytest.raises(ValueError, match="x must be a real floating-point"):
        score(torch.zeros(3, 2, dtype=torch.long), 0.5)
    with pytest.raises(ValueError, match="x must be a real floating-point"):
        score(torch.zeros(3, 2, dtype=torch.complex128), 0.5)


def test_singular_scores_refuse_t_zero_and_regular_ones_work(schedule):
    data, x = mdiff.paper_points(), torch.randn(4, 2, dtype=torch.float64)
    for make in (SCORES["empirical"], SCORES["empirical_bayes"]):
        with pytest.raises(ValueError, match="t must be > 0"):
            make(schedule, data)(x, 0.0)
    with pytest.raises(ValueError, match="t must be > 0"):
        mdiff.empirical_log_density(schedule, data, x, 0.0)
    with pytest.raises(ValueError, match="t must be > 0"):
        mdiff.tikhonov_score(schedule, data, 0.0)(x, 0.0)
    nearest = data[mdiff.nearest_k(x, data)[1][:, 0]]
    tik = mdiff.tikhonov_score(schedule, data, 0.1)(x, 0.0)  # c > 0: (y_k - x) / c
    assert torch.allclose(tik, (nearest - x) / 0.1)
    assert torch.isfinite(mdiff.smoothed_score(schedule, data, 0.1)(x, 0.0)).all()
    assert torch.allclose(mdiff.denoiser(schedule, data, x, 0.0), nearest)


def test_metric_edge_cases_raise():
    data = mdiff.paper_points()
    with pytest.raises(ValueError, match="samples must have at least one row"):
        mdiff.fraction_within(torch.zeros(0, 2, dtype=torch.float64), data, 0.1)
    with pytest.raises(ValueError, match=r"ratio must lie in \(0, 1\)"):
        mdiff.memorized(torch.zeros(1, 2, dtype=torch.float64), data, ratio=1.0)
    x = torch.zeros(2, 2, dtype=torch.float64)
    x[0, 1] = math.nan
    with pytest.raises(ValueError, match="samples must be finite"):
        mdiff.fraction_within(x, data, 0.1)  # formerly counted as "not within tol"


def test_metrics_in_float32_far_from_the_origin(gen):
    data = 1000 + torch.randn(200, 3, dtype=torch.float64, generator=gen)
    x = data[torch.randint(200, (300,), generator=gen)]
    x = x + 0.05 * torch.randn(300, 3, dtype=torch.float64, generator=gen)
    data32, x32 = data.float(), x.float()
    want = mdiff.nearest_k(x32.double(), data32.double(), 2)
    got = mdiff.nearest_k(x32, data32, 2)
    assert torch.equal(got[1], want[1])
    assert torch.equal(mdiff.memorized(x32, data32), mdiff.memorized(x32.double(), data32.double()))


def test_schedule_and_generator_errors():
    with pytest.raises(ValueError, match="sigma\\(T\\) overflows"):
        mdiff.VE(sigma0=1e300)
    score = mdiff.empirical_score(mdiff.VP(), mdiff.paper_points())
    ts, x = mdiff.time_grid(mdiff.VP(), 3), torch.zeros(2, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="generator must be None or a torch.Generator"):
        mdiff.euler_maruyama(mdiff.VP(), score, x, ts, generator=0)
    with pytest.raises(ValueError, match="generator must be None or a torch.Generator"):
        mdiff.VP().prior(3, 2, generator="seed")
    with pytest.raises(ValueError, match="c must be a real number"):
        mdiff.tikhonov_score(mdiff.VP(), mdiff.paper_points(), None)
    with pytest.raises(ValueError, match="data must be real"):
        mdiff.empirical_score(mdiff.VP(), torch.ones(3, 2, dtype=torch.complex64))


def test_data_set_errors():
    with pytest.raises(ValueError, match="n must be an integer >= 0"):
        mdiff.gaussian_data(-1, [0.0, 0.0], torch.eye(2))
    with pytest.raises(ValueError, match="cov must be symmetric positive definite"):
        mdiff.gaussian_data(3, [0.0, 0.0], [[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match="n must be an integer >= 0"):
        mdiff.ring(-5)
    ints = mdiff.gaussian_data(4, [0, 0], [[1, 0], [0, 1]])  # integer mean and cov are fine
    assert ints.dtype == torch.float64 and ints.shape == (4, 2)
    s = mdiff.gaussian_score(mdiff.VP(), [0, 0], [[1, 0], [0, 1]])
    assert torch.isfinite(s(torch.ones(2, 2, dtype=torch.float64), 0.5)).all()


def test_what_time_grid_returns_the_samplers_accept():
    for T in (0.3, 1.0, 0.7):
        schedule = mdiff.VP(T=T)
        score = mdiff.empirical_score(schedule, mdiff.paper_points())
        for dtype in (torch.float32, torch.float64):
            for spacing in ("uniform", "log_sigma"):
                ts = mdiff.time_grid(schedule, 8, spacing=spacing, dtype=dtype)
                out = mdiff.probability_flow(schedule, score, torch.zeros(2, 2), ts)
                assert torch.isfinite(out).all()
    with pytest.raises(ValueError, match="float16 cannot tell"):
        mdiff.time_grid(mdiff.VP(), 4000, dtype=torch.float16)
    ts = mdiff.time_grid(mdiff.VP(), 10, t_end=1e-3)  # no t_min needed
    assert ts[-1] == pytest.approx(1e-3) and (ts[1:] < ts[:-1]).all()
    with pytest.raises(ValueError, match=r"t_min must lie in \(0.0, 1.0\)"):
        mdiff.time_grid(mdiff.VP(), 10, t_min=0.0)
