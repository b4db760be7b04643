"""The fast paths of the kernel (issue 18): the samplers' unchecked entry, the small-N layout, the
clamped exponentials at small t, the truncated (top-k) path and float32 accuracy near the data."""

import math
from unittest import mock

import pytest
import torch

import mdiff
import mdiff.kernel as K
from mdiff.schedules import grid_coefficients

SCHEDULES = [mdiff.VP(), mdiff.VE()]


def _scores(schedule, data):
    y = data[:, :1]
    return {
        "empirical": mdiff.empirical_score(schedule, data),
        "tikhonov": mdiff.tikhonov_score(schedule, data, 1e-3),
        "bayes": mdiff.empirical_bayes_score(schedule, data, 1e-2),
        "smoothed": mdiff.smoothed_score(schedule, data, 0.05),
        "conditional": mdiff.conditional_empirical_score(schedule, data, y, y[3], joint=True),
    }


@pytest.mark.parametrize("schedule", SCHEDULES, ids=["VP", "VE"])
@pytest.mark.parametrize("n_data", [20, 300])  # the small layout and the row blocks
def test_unchecked_entry_equals_the_checked_call(schedule, n_data):
    g = torch.Generator().manual_seed(0)
    data = torch.randn(n_data, 2, generator=g, dtype=torch.float64)
    x = torch.randn(50, 2, generator=g, dtype=torch.float64)
    for name, score in _scores(schedule, data).items():
        for t in (1.0, 0.3, 1e-3, 1e-6):
            want = score(x, t)
            assert torch.equal(score.unchecked(x, *grid_coefficients(schedule, t)), want), name
            column = score(x, torch.full((50,), t, dtype=torch.float64))  # per-row path
            assert torch.allclose(column, want, rtol=1e-12, atol=0), name


def test_direct_calls_stay_strict():
    score = mdiff.empirical_score(mdiff.VP(), mdiff.paper_points())
    x = torch.zeros(3, 2, dtype=torch.float64)
    for bad_t in (-0.1, 1.5, math.nan):
        with pytest.raises(ValueError, match="t must lie in"):
            score(x, bad_t)
    with pytest.raises(ValueError, match="finite"):
        score(torch.full((3, 2), math.nan, dtype=torch.float64), 0.5)
    with pytest.raises(ValueError, match="t must be > 0"):
        score(x, 0.0)
    with pytest.raises(ValueError, match="t must be > 0"):
        score.unchecked(x, *grid_coefficients(mdiff.VP(), 0.0))


def test_grid_coefficients_are_the_schedules_values():
    for schedule in SCHEDULES:
        ts = mdiff.time_grid(schedule, 400, t_min=1e-8)
        for t in ts.tolist():
            m, m1, var = grid_coefficients(schedule, t)
            assert m == float(schedule.m(torch.tensor(t, dtype=torch.float64)))
            assert var == float(schedule.sigma(torch.tensor(t, dtype=torch.float64))) ** 2
            assert m1 == m - 1.0


@pytest.mark.parametrize("method", mdiff.sampling.METHODS)
def test_samplers_lean_path_equals_the_checked_path(method):
    ve, data = mdiff.VE(sigma0=10.0), mdiff.paper_points()
    x = mdiff.paper_latents(ve, 200)
    ts = mdiff.time_grid(ve, 60, t_min=1e-8)
    for score in (mdiff.tikhonov_score(ve, data, 1e-3), mdiff.empirical_score(ve, data)):

        def checked(x, t, score=score):  # no `unchecked` attribute: every call is checked
            return score(x, t)

        lean = mdiff.probability_flow(ve, score, x, ts, method=method)
        slow = mdiff.probability_flow(ve, checked, x, ts, method=method)
        assert (lean - slow).abs().max() <= 1e-12


def test_euler_maruyama_lean_path_equals_the_checked_path():
    vp, data = mdiff.VP(), mdiff.paper_points()
    x = vp.prior(100, 2, generator=torch.Generator().manual_seed(0))
    ts = mdiff.time_grid(vp, 50)
    score = mdiff.empirical_score(vp, data)
    runs = [
        mdiff.euler_maruyama(vp, s, x, ts, generator=torch.Generator().manual_seed(1))
        for s in (score, lambda x, t: score(x, t))
    ]
    assert (runs[0] - runs[1]).abs().max() <= 1e-12


def test_sampler_result_is_checked_once():
    def explode(x, t):
        return torch.full_like(x, math.inf)

    x = torch.zeros(4, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="the sampler's result must be finite"):
        mdiff.probability_flow(mdiff.VP(), explode, x, mdiff.time_grid(mdiff.VP(), 3))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_clamp_keeps_every_weight_normal_and_moves_the_sums_below_the_rounding(dtype):
    g = torch.Generator().manual_seed(0)
    logits = (-torch.rand(30, 500, generator=g, dtype=torch.float64) * 3000).to(dtype)
    exact = torch.exp((logits - logits.amax(1, keepdim=True)).double())  # float64 reference
    e, k = K._exp_rest(logits.clone(), 1, False)
    floor = math.exp(-K._exp_floor(dtype))  # sqrt(tiny): its products with |y| >= sqrt(tiny)
    assert floor * floor >= torch.finfo(dtype).tiny * (1 - 1e-6)  # stay normal numbers
    keep = exact >= floor
    keep[torch.arange(30), k] = False  # the anchor itself is set to 0
    ulps = 4 * torch.finfo(dtype).eps  # the dtype's own exp against float64's, rounded
    assert torch.allclose(e.double()[keep], exact[keep], rtol=ulps, atol=0)
    low = ~keep
    low[torch.arange(30), k] = False  # the logits the floor raised
    raised = e.double().masked_fill(~low, 0)
    tol = 4 * torch.finfo(dtype).eps * (1 + K._exp_floor(dtype))  # the floor rounded to dtype
    assert (raised[low] >= floor * (1 - tol)).all() and (raised <= floor * (1 + tol)).all()
    assert (e[torch.arange(30), k] == 0).all()
    # the top's weight is 1: what the floor adds to a row's sum lies below half its ulp
    assert (raised.sum(1) < torch.finfo(dtype).eps / 2).all()


@pytest.mark.parametrize("t", [0.5, 1e-2, 1e-4])
def test_the_float64_score_at_small_t_is_unchanged_by_the_floor_and_stays_fast(t):
    """With the floor at ``tiny`` (before) the tail's weights were subnormal numbers, and so
    were their products with the data: at t = 1e-4 the call ran ~15x slower than at t = 0.5.
    The ``sqrt(tiny)`` floor gives the same numbers bit for bit here, at the same speed."""
    g = torch.Generator().manual_seed(0)
    data = torch.randn(3000, 16, generator=g, dtype=torch.float64)
    x = data[:300] + math.sqrt(2 * t) * torch.randn(300, 16, generator=g, dtype=torch.float64)
    score = mdiff.empirical_score(mdiff.VE(), data)
    now = score(x, t)
    with mock.patch.object(K, "_exp_floor", K._floor):  # the floor at tiny, as before
        before = score(x, t)
    assert torch.equal(now, before)


def test_the_float32_floored_softmax_keeps_every_weight_normal_and_moves_none_above_the_floor():
    g = torch.Generator().manual_seed(0)
    logits = (-torch.rand(30, 5000, generator=g, dtype=torch.float64) * 3000).to(torch.float32)
    exact = torch.softmax(logits.double(), 1)  # float64 reference of the same logits
    for tracked in (False, True):
        w = K._softmax_floored(logits.clone(), tracked).double()
        assert (w >= torch.finfo(torch.float32).tiny).all()  # no subnormal, no zero
        top = exact.amax(1, keepdim=True)
        keep = exact >= top * math.exp(-K._SOFT_FLOOR)  # untouched by the floor
        # float32's exp(l - top): the difference rounds to eps |l - top|, the exponential to ulps
        arg = (logits.double() - logits.double().amax(1, keepdim=True)).abs()
        rel = (w - exact).abs() / exact / (1 + arg)
        assert (rel[keep] < 4 * torch.finfo(torch.float32).eps).all()
        raised = w.masked_fill(keep, 0).sum(1, keepdim=True)  # what the floor added
        assert (raised <= 5000 * math.exp(-K._SOFT_FLOOR) * top).all()
        assert (raised < torch.finfo(torch.float32).eps * top).all()  # below the rounding


def test_the_prepared_columns_and_the_ve_shortcut_leave_the_direct_form_unchanged():
    g = torch.Generator().manual_seed(1)
    data, x = torch.randn(20, 2, generator=g), torch.randn(200, 2, generator=g)
    prep = K.prepare(data)
    assert prep.columns is not None and prep.columns.is_contiguous()
    assert torch.equal(prep.columns[:, :, 0], data.T)
    assert K.prepare(torch.randn(200, 2, generator=g)).columns is None  # past _DIRECT_WIDTH
    plain = K._direct(data, x, 0.0, 0.3, False, True)
    for got in (
        K._direct(data, x, 0.0, 0.3, False, True, prep.columns),  # cached columns
        # per-row columns with m - 1 = 0
        K._direct(data, x, torch.zeros(200, 1), torch.full((200, 1), 0.3), False, True),
    ):
        assert torch.equal(got[0], plain[0]) and torch.equal(got[1], plain[1])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_small_t_scores_equal_a_float64_reference(dtype):
    # blocks of N = 300 (past the small layout) at small sigma: the clamped, anchored path
    g = torch.Generator().manual_seed(0)
    data = torch.randn(300, 2, generator=g, dtype=torch.float64)
    ve = mdiff.VE()
    for t in (1e-3, 1e-5):
        x = data[:40] + float(ve.sigma(t)) * torch.randn(40, 2, generator=g, dtype=torch.float64)
        x = x.to(dtype).double()
        m, var = float(ve.m(t)), float(ve.sigma(t)) ** 2
        diff = m * data[None] - x[:, None]  # (n, N, d), float64 differences
        w = torch.softmax(-(diff * diff).sum(-1) / (2 * var), 1)
        want = (w[:, :, None] * diff).sum(1) / var
        got = mdiff.empirical_score(ve, data)(x.to(dtype), t).double()
        err = ((got - want).norm(dim=1) / want.norm(dim=1)).max()
        assert err < (2e-2 if dtype == torch.float32 else 1e-9)


def _image_like(n_data, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n_data, d, generator=g), g


def test_truncated_path_equals_dense_when_weights_are_one_hot():
    data, g = _image_like(3000, 256)
    ve, t = mdiff.VE(), 1e-3
    x = data[:64] + float(ve.sigma(t)) * torch.randn(64, 256, generator=g)
    prep = K.prepare(data)
    m, m1, var = grid_coefficients(ve, t)
    (_, logits), out = next(K.logit_blocks(prep, x, m, var)), torch.empty_like(x)
    todo = K.truncated(prep, logits.clone(), x, m, m1, var, out)
    assert not todo.any()  # every row one-hot: nothing left to the dense path
    e, k = K._exp_rest(logits.clone(), 1, False)
    dense, _ = K._combine(prep, e @ prep.ext, k, x, m, m1)
    assert torch.allclose(out, dense, rtol=1e-5, atol=1e-7 * float(dense.abs().max()))
    ref = mdiff.empirical_score(ve, data.double())(x.double(), t)
    got = mdiff.empirical_score(ve, data)(x, t).double()
    assert ((got - ref).norm(dim=1) / ref.norm(dim=1)).max() < 1e-5


def test_truncated_path_falls_back_where_the_tail_carries_weight():
    data, g = _image_like(2000, 128, seed=1)
    ve = mdiff.VE()
    near = data[:8] + 1e-3 * torch.randn(8, 128, generator=g)  # one-hot
    far = 0.1 * torch.randn(8, 128, generator=g)  # near the centre: weight spread over many
    x, t = torch.cat([near, far]), 0.375  # sigma^2 = 1 for VE
    prep = K.prepare(data)
    m, m1, var = grid_coefficients(ve, t)
    _, logits = next(K.logit_blocks(prep, x, m, var))
    out = torch.full_like(x, math.nan)
    todo = K.truncated(prep, logits.clone(), x, m, m1, var, out)
    assert not todo[:8].any() and todo[8:].all()
    ref = mdiff.empirical_score(ve, data.double())(x.double(), t)
    got = mdiff.empirical_score(ve, data)(x, t).double()  # truncated rows + dense fallback
    assert torch.isfinite(got).all()
    assert ((got - ref).norm(dim=1) / ref.norm(dim=1)).max() < 1e-4


def test_truncated_second_stage_takes_the_rows_with_a_close_pair():
    """A row between two near copies of one training point: the top logit alone does not carry
    the weight (the first stage declines it), the top 16 do (the second stage takes it)."""
    data, g = _image_like(2000, 128, seed=2)
    data[1] = data[0] + 1e-3 * torch.randn(128, generator=g)  # a close pair
    ve, t = mdiff.VE(), 1e-5
    x = data[:8] + float(ve.sigma(t)) * torch.randn(8, 128, generator=g)
    prep = K.prepare(data)
    m, m1, var = grid_coefficients(ve, t)
    _, logits = next(K.logit_blocks(prep, x, m, var))
    block = logits.clone()
    ms, m1s, vs = (x.new_full((8, 1), v) for v in (m, m1, var))
    _, first = K._certify(prep, K._top_two(block)[0], K._top_two(block)[1], x, ms, m1s, vs)
    assert not first[:2].any() and first[2:].all()  # the pair's rows need a second candidate
    out = torch.full_like(x, math.nan)
    todo = K.truncated(prep, block, x, m, m1, var, out)
    assert torch.equal(block, logits)  # the block is left as it was, for the dense path
    assert not todo.any()
    ref = mdiff.empirical_score(ve, data.double())(x.double(), t) * var  # m xbar - x
    assert ((out.double() - ref).norm(dim=1) / ref.norm(dim=1)).max() < 1e-5


@pytest.mark.parametrize("n_data", [1, 2, 1023, 1024, 1025, 5000])
def test_top_two_matches_topk_with_ties(n_data):
    g = torch.Generator().manual_seed(n_data)
    for rounded in (False, True):
        logits = torch.randn(9, n_data, generator=g) * 3
        logits = logits.round() if rounded else logits  # ties
        idx, second = K._top_two(logits)
        vals = logits.topk(min(2, n_data), dim=1).values
        assert torch.equal(logits.gather(1, idx)[:, 0], vals[:, 0])
        want = vals[:, 1] if n_data > 1 else torch.full((9,), -math.inf)
        assert torch.equal(second[:, 0], want)


def test_the_unshifted_posterior_mean_equals_the_softmax_one():
    """Float32 at large sigma: exp of the product's logits as they are (no row maximum) gives
    the softmax path's posterior mean to float32's rounding, and is declined where a logit could
    leave [-60, 60] (points far from the data at small sigma)."""
    g = torch.Generator().manual_seed(3)
    data = torch.randn(4000, 2, generator=g)
    prep = K.prepare(data)
    for x, var, taken in [
        (2 * torch.randn(300, 2, generator=g), 2.0, True),
        (torch.randn(300, 2, generator=g) + 30.0, 2.0, False),
        (torch.randn(300, 2, generator=g), 0.01, False),
    ]:
        assert K._unshifted(prep, x, 1.0, var) == taken
        got, _ = K.posterior_mean(prep, x, 1.0, var)
        with mock.patch.object(K, "_unshifted", lambda *a: False):
            soft, _ = K.posterior_mean(prep, x, 1.0, var)
        ref, _ = K.posterior_mean(K.prepare(data.double()), x.double(), 1.0, var)
        scale = float(ref.abs().max())
        assert torch.allclose(got.double(), ref, rtol=0, atol=1e-5 * scale)
        assert torch.allclose(got, soft, rtol=0, atol=1e-5 * scale)
        assert torch.equal(got, soft) == (not taken)  # where taken, its own roundings show
    assert not K._unshifted(K.prepare(data.double()), x.double(), 1.0, 2.0)  # float64: softmax


def test_wide_and_sharp_paths_agree():
    g = torch.Generator().manual_seed(2)
    data = torch.randn(200, 3, generator=g, dtype=torch.float64)
    x = torch.randn(30, 3, generator=g, dtype=torch.float64)
    prep, vp = K.prepare(data), mdiff.VP()
    for t in (0.05, 0.3):
        m, m1, var = grid_coefficients(vp, t)
        wide, lse_w = K.residual(prep, x, m, m1, var, with_lse=True)
        blocks = [
            K._sharp(prep, logits.clone(), x[rows], m, m1, var, False, True)
            for rows, logits in K.logit_blocks(prep, x, m, var)
        ]
        assert torch.allclose(torch.cat([b[0] for b in blocks]), wide, rtol=1e-10, atol=1e-13)
        assert torch.allclose(torch.cat([b[1] for b in blocks]), lse_w, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("n_data,d", [(20, 2), (300, 2), (300, 130)])
def test_autograd_through_every_path(n_data, d):
    g = torch.Generator().manual_seed(3)
    data = torch.randn(n_data, d, generator=g, dtype=torch.float64)
    x = (data[:5] + 1e-2 * torch.randn(5, d, generator=g, dtype=torch.float64)).requires_grad_()
    for t in (1e-4, 0.5):  # sharp and wide regimes
        score = mdiff.empirical_score(mdiff.VE(), data)
        (grad,) = torch.autograd.grad(score(x, t).sum(), x)
        assert torch.isfinite(grad).all()
    # the score is minus the Hessian of the log-density's gradient: check against autograd
    t = 0.2
    dens = mdiff.empirical_log_density(mdiff.VE(), data, x, t).sum()
    (want,) = torch.autograd.grad(dens, x)
    assert torch.allclose(mdiff.empirical_score(mdiff.VE(), data)(x, t), want, rtol=1e-9)


@pytest.mark.parametrize("schedule", SCHEDULES, ids=["VP", "VE"])
def test_float32_score_is_accurate_near_the_data(schedule):
    data, g = mdiff.paper_points(), torch.Generator().manual_seed(0)
    for t in (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0):
        m, s = float(schedule.m(t)), float(schedule.sigma(t))
        idx = torch.randint(20, (2000,), generator=g)
        x = (m * data[idx] + s * torch.randn(2000, 2, generator=g, dtype=torch.float64)).float()
        for score in (mdiff.empirical_score, lambda a, b: mdiff.tikhonov_score(a, b, 1e-3)):
            want = score(schedule, data)(x.double(), t)
            got = score(schedule, data)(x, t).double()
            err = ((got - want).norm(dim=1) / want.norm(dim=1)).max().item()
            assert err <= 1e-3, (t, err)


def _reference(data, x, m1, var):
    """``sum_n w_n (m y_n - x)``, ``log sum_n exp(l_n)`` in float64 from ``(n, N, d)`` differences
    ``m y_n - x = (y_n - x) + (m - 1) y_n`` (a rounded ``m`` costs digits where the sum is tiny)."""
    y = data.double()[None]  # (1, N, d)
    diff = (y - x.double()[:, None]) + m1 * y  # (n, N, d)
    logits = -(diff * diff).sum(-1) / (2 * var)  # (n, N)
    w = torch.softmax(logits, 1)
    return (w[:, :, None] * diff).sum(1), torch.logsumexp(logits, 1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_direct_form_is_taken_for_tiny_float32_problems_and_is_accurate(monkeypatch, dtype):
    calls, real = [], K._direct
    monkeypatch.setattr(K, "_direct", lambda *a, **k: calls.append(1) or real(*a, **k))
    data, g = mdiff.paper_points(dtype), torch.Generator().manual_seed(1)
    vp = mdiff.VP()
    for t in (1e-6, 1e-3, 0.3, 1.0):
        m, m1, var = grid_coefficients(vp, t)
        x = m * data.repeat(10, 1) + var**0.5 * torch.randn(200, 2, generator=g).to(dtype)
        prep = K.prepare(data)
        res, lse = K.residual(prep, x, m, m1, var, with_lse=True)
        want, want_lse = _reference(data, x, m1, var)
        rel = ((res.double() - want).norm(dim=1) / want.norm(dim=1)).max()
        # float32: the direct form; float64: the (N, n) product
        assert rel < (1e-5 if dtype == torch.float32 else 1e-9), (t, rel)
        tol = 1e-5 if dtype == torch.float32 else 1e-12
        assert torch.allclose(lse.double(), want_lse, rtol=tol, atol=tol)
        assert res.is_contiguous() and res.dtype == dtype and res.shape == x.shape
    assert len(calls) == (4 if dtype == torch.float32 else 0)  # float64: the (N, n) product
    # past its limits (n N d > _DIRECT_ELEMENTS, or N d > _DIRECT_WIDTH) it is not taken
    big = torch.zeros(K._DIRECT_ELEMENTS // 40 + 1, 2, dtype=dtype)
    K.residual(K.prepare(data), big, 1.0, 0.0, 0.5)
    wide = torch.randn(20, 7, generator=g).to(dtype)  # N d = 140
    K.residual(K.prepare(wide), wide[:5], 1.0, 0.0, 0.5)
    assert len(calls) == (4 if dtype == torch.float32 else 0)


def test_the_direct_form_with_per_row_coefficients_and_finer_data():
    data64, g = mdiff.paper_points(), torch.Generator().manual_seed(2)
    ve = mdiff.VE()
    ts = torch.logspace(-6, 0, 50, dtype=torch.float64)
    x = data64.repeat(3, 1)[:50] + ve.sigma(ts)[:, None] * torch.randn(50, 2, generator=g)
    for data in (data64, data64.float()):  # float64 data give a float32 score their digits
        score = mdiff.empirical_score(ve, data)
        got = score(x.float(), ts.float()).double()
        want = mdiff.empirical_score(ve, data.double())(x.float().double(), ts)
        rel = ((got - want).norm(dim=1) / want.norm(dim=1)).max()
        assert rel < 1e-5, rel


def test_autograd_through_the_direct_form_equals_the_small_layout(monkeypatch):
    data, g = mdiff.paper_points(torch.float32), torch.Generator().manual_seed(4)
    x = (data[:6] + 0.05 * torch.randn(6, 2, generator=g)).requires_grad_()
    grads, calls, real = [], [], K._direct
    monkeypatch.setattr(K, "_direct", lambda *a, **k: calls.append(1) or real(*a, **k))
    for width in (K._DIRECT_WIDTH, 0):  # the direct form, then the (N, n) product layout
        monkeypatch.setattr(K, "_DIRECT_WIDTH", width)
        score = mdiff.smoothed_score(mdiff.VP(), data, 0.1)
        t = torch.full((6,), 0.05)
        grads.append(torch.autograd.grad((score(x, t) ** 2).sum(), x)[0])
    assert len(calls) == 1
    assert torch.allclose(grads[0], grads[1], rtol=1e-4, atol=1e-3)


def test_the_float64_score_keeps_a_symmetry_of_the_data_bit_for_bit():
    # four points (+-1, 0), (0, +-1): the reflection across a diagonal permutes them, so a point
    # on the diagonal has a score on it (chapter 4's symmetry lines rest on this)
    ve, data = mdiff.VE(), mdiff.four_points()
    u = torch.linspace(-2.1, 2.1, 41, dtype=torch.float64)
    score = mdiff.empirical_score(ve, data)
    for x in (torch.stack([u, u], 1), torch.stack([u, -u], 1)):
        for t in (1.0, 1e-2, 1e-5):
            s = score(x, t)
            assert torch.equal(s[:, 0].abs(), s[:, 1].abs()), t


def _spy(monkeypatch, name):
    """Record the results of ``K.<name>`` (None when it declines) while calling through."""
    results, real = [], getattr(K, name)
    monkeypatch.setattr(K, name, lambda *a, **k: results.append(real(*a, **k)) or results[-1])
    return results


def _windowed_case(schedule, t, n=600, n_data=K._SLAB_MIN_N, seed=3, stretch=(1.0, 3.0)):
    """Training points stretched along the second axis (sorted on it), points noised to ``t``."""
    g = torch.Generator().manual_seed(seed)
    data = torch.randn(n_data, 2, generator=g) * torch.tensor(stretch)
    m, s = float(schedule.m(t)), float(schedule.sigma(t))
    x = m * data[torch.randint(n_data, (n,), generator=g)] + s * torch.randn(n, 2, generator=g)
    return data, x


@pytest.mark.parametrize("schedule", SCHEDULES, ids=["VP", "VE"])
def test_the_windowed_path_is_taken_at_small_t_and_equals_a_float64_reference(
    monkeypatch, schedule
):
    results = _spy(monkeypatch, "_windowed")
    for t in (1e-6, 1e-4, 1e-3):
        data, x = _windowed_case(schedule, t)
        prep = K.prepare(data)
        assert prep.slabs.axis == 1  # the widest coordinate
        m, m1, var = grid_coefficients(schedule, t)
        res, _ = K.residual(prep, x, m, m1, var)
        assert results[-1] is not None, t  # the windows were used, not the dense blocks
        want, _ = _reference(data, x, m1, var)
        rel = ((res.double() - want).norm(dim=1) / want.norm(dim=1)).max().item()
        assert rel < 1e-5, (t, rel)  # the product's logits give 1e-2 here (see below)
        assert res.dtype == torch.float32 and res.shape == x.shape
    # the same rows through the dense blocks: the product's logits cost digits at small sigma
    monkeypatch.setattr(K, "_SLAB_SHARE", 0.0)
    dense, _ = K.residual(prep, x, m, m1, var)
    assert results[-1] is None
    rel_dense = ((dense.double() - want).norm(dim=1) / want.norm(dim=1)).max().item()
    assert rel_dense > 100 * rel


def test_the_windowed_path_with_per_row_times_equals_a_float64_reference():
    ve = mdiff.VE()
    data, _ = _windowed_case(ve, 1e-4)
    g = torch.Generator().manual_seed(4)
    ts = torch.logspace(-6, -3, 500, dtype=torch.float64)
    x = data[:500].double() + ve.sigma(ts)[:, None] * torch.randn(500, 2, generator=g).double()
    got = mdiff.empirical_score(ve, data)(x.float(), ts.float()).double()
    want = mdiff.empirical_score(ve, data.double())(x.float().double(), ts)
    rel = ((got - want).norm(dim=1) / want.norm(dim=1)).max().item()
    assert rel < 1e-4, rel


def test_the_windows_widen_for_points_far_from_the_data(monkeypatch):
    # points well away from every training point: the first guess (D^2 = 8 d var) falls short,
    # the windows are widened to what their nearest points ask, and the result stays exact
    widened = []
    real = K._Windows.widen
    monkeypatch.setattr(
        K._Windows, "widen", lambda s, *a: widened.append(real(s, *a)) or widened[-1]
    )
    results = _spy(monkeypatch, "_windowed")
    vp, t = mdiff.VP(), 1e-4
    data, x = _windowed_case(vp, t)
    x[::7] += torch.tensor([0.05, 0.0])  # off the data across the sorted axis
    x[3::7] += torch.tensor([0.0, 0.05])  # and along it
    m, m1, var = grid_coefficients(vp, t)
    res, _ = K.residual(K.prepare(data), x, m, m1, var)
    assert results[-1] is not None and widened[0]  # some windows fell short at first
    assert not widened[-1]  # and the widened ones sufficed
    want, _ = _reference(data, x, m1, var)
    assert ((res.double() - want).norm(dim=1) / want.norm(dim=1)).max() < 1e-5


def test_the_windowed_path_gives_way_where_its_windows_would_be_wide(monkeypatch):
    results = _spy(monkeypatch, "_windowed")
    ve = mdiff.VE()
    for t, used in ((1e-4, True), (0.05, False)):  # sigma 0.01: narrow windows; 0.24: wide
        data, x = _windowed_case(ve, t, stretch=(1.0, 1.0))
        got = mdiff.empirical_score(ve, data)(x, t).double()
        want = mdiff.empirical_score(ve, data.double())(x.double(), t)
        assert len(results) == 1 + (not used)  # asked: sigma is small against the data
        assert (results[-1] is not None) == used, t
        assert ((got - want).norm(dim=1) / want.norm(dim=1)).max() < 1e-3
    # not for float64, small N, large d, autograd or the log-sum-exp
    calls = len(results)
    vp = mdiff.VP()
    for data, x in (
        [v.double() for v in _windowed_case(vp, 1e-4)],
        _windowed_case(vp, 1e-4, n_data=K._SLAB_MIN_N - 1),
    ):
        K.residual(K.prepare(data), x, *grid_coefficients(vp, 1e-4))
    data, x = _windowed_case(vp, 1e-4)
    K.residual(K.prepare(data), x, *grid_coefficients(vp, 1e-4), with_lse=True)
    x.requires_grad_(True)
    K.residual(K.prepare(data), x, *grid_coefficients(vp, 1e-4))[0].sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert len(results) == calls
