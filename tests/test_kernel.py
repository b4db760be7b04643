"""The blocked log-sum-exp engine: bounded blocks, layout, biases, log-sum-exp, neighbours."""

import pytest
import torch

import mdiff
import mdiff.kernel as K


def test_blocks_bounded_by_budget_for_large_n(monkeypatch):
    """A block of logits holds at most max(_BLOCK_ELEMENTS, _DATA_FRACTION N d) numbers."""
    monkeypatch.setattr(K, "_BLOCK_ELEMENTS", 1000)
    for n_data, d in [(50_000, 2), (60_000, 784), (10, 3), (3, 10_000)]:
        rows = K.block_rows(n_data, d)
        budget = max(K._BLOCK_ELEMENTS, K._DATA_FRACTION * n_data * d)
        assert rows >= 1
        assert rows == 1 or rows * n_data <= budget


def test_block_rows_grow_with_d_only_up_to_the_data_fraction():
    small, large = K.block_rows(60_000, 2), K.block_rows(60_000, 784)
    assert small * 60_000 <= K._BLOCK_ELEMENTS
    assert large > small and large * 60_000 <= K._DATA_FRACTION * 60_000 * 784


def test_narrow_data_take_the_smaller_block():
    """For d + 1 <= _NARROW the products are memory-bound: blocks of at most _NARROW_ELEMENTS."""
    narrow, wide = K.block_rows(10_000, K._NARROW - 1), K.block_rows(10_000, K._NARROW)
    assert narrow * 10_000 <= K._NARROW_ELEMENTS < wide * 10_000 <= K._BLOCK_ELEMENTS


def test_logit_blocks_respect_a_small_budget(monkeypatch):
    data, x = torch.randn(3000, 3, dtype=torch.float64), torch.randn(50, 3, dtype=torch.float64)
    schedule = mdiff.VE()
    full = mdiff.empirical_score(schedule, data)(x, 0.2)
    monkeypatch.setattr(K, "_BLOCK_ELEMENTS", 7000)
    m, var = K.mean_and_var(schedule, x, 0.2)
    sizes = [logits.numel() for _, logits in K.logit_blocks(K.prepare(data), x, m, var)]
    assert len(sizes) == 25 and max(sizes) <= 7000
    assert torch.allclose(mdiff.empirical_score(schedule, data)(x, 0.2), full, rtol=1e-13)


def test_prepared_table_is_one_feature_major_tensor():
    data = torch.randn(40, 5, dtype=torch.float64) + 3
    prep = K.prepare(data)
    assert prep.table.shape == (6, 40) and prep.table.is_contiguous()
    assert prep.centred.data_ptr() == prep.table[1].data_ptr()  # a view, no second copy
    centred = data - data.mean(0)
    assert torch.allclose(prep.centred, centred)
    assert torch.allclose(prep.table[0], (centred**2).sum(1))


class _DtypeRecorder(torch.overrides.TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.dtypes, self.sizes = set(), {}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for value in out if isinstance(out, (tuple, list)) else [out]:
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                self.dtypes.add(value.dtype)
                size = max(self.sizes.get(value.dtype, 0), value.numel())
                self.sizes[value.dtype] = size
        return out


@pytest.mark.parametrize(
    "make",
    [
        lambda s, y: mdiff.empirical_score(s, y),
        lambda s, y: mdiff.empirical_bayes_score(s, y, 0.1),
    ],
)
def test_float32_call_makes_no_large_float64_tensor(schedule, make):
    """Float32 work stays float32; only the few exact differences (one row each) are float64."""
    data = torch.randn(300, 4)
    score = make(schedule, data)
    x = torch.randn(64, 4)
    score(x, 0.3)  # prepares (and caches) the float32 table
    with _DtypeRecorder() as rec:
        out = score(x, torch.full((64,), 0.3))
    assert out.dtype == torch.float32
    assert rec.dtypes <= {torch.float32, torch.float64}, rec.dtypes
    assert rec.sizes.get(torch.float64, 0) <= x.numel(), rec.sizes  # (n, 1, d) at most


@pytest.mark.parametrize("t", [1e-6, 0.05, 1.0])
def test_log_sum_exp_of_posterior_mean(schedule, t):
    """lse = log sum_n exp(-|x - m y_n|^2 / (2 sigma^2)), also where the weights are one-hot."""
    data, x = torch.randn(30, 3, dtype=torch.float64), 2 * torch.randn(9, 3, dtype=torch.float64)
    m, var = K.mean_and_var(schedule, x, t)
    _, lse = K.posterior_mean(K.prepare(data), x, m, var, with_lse=True)
    sq = ((x[:, None, :] - m[:, :, None] * data[None]) ** 2).sum(-1)
    assert torch.allclose(lse, torch.logsumexp(-sq / (2 * var), 1), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n_data", [1, 7, 17, 1000])
def test_in_place_softmax_denoiser_matches_naive(monkeypatch, dtype, n_data):
    """The softmax runs in place on the reused logits buffer; several blocks, odd row lengths."""
    monkeypatch.setattr(K, "_BLOCK_ELEMENTS", 3 * n_data)
    schedule, data = mdiff.VP(), torch.randn(n_data, 5, dtype=dtype)
    x = torch.randn(10, 5, dtype=dtype)
    m, s = schedule.m(0.3), schedule.sigma(0.3)
    w = torch.softmax(-((x[:, None] - m * data[None]) ** 2).sum(-1) / (2 * s * s), 1)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    got = mdiff.denoiser(schedule, data, x, 0.3)
    assert torch.allclose(got, (w @ data).to(dtype), rtol=tol, atol=tol)


def test_row_blocks_do_not_change_the_result(monkeypatch, schedule):
    data, x = torch.randn(7, 3, dtype=torch.float64), 1.5 * torch.randn(11, 3, dtype=torch.float64)
    full = mdiff.empirical_score(schedule, data)(x, 0.1)
    eb = mdiff.empirical_bayes_score(schedule, data, 0.5)(x, 0.1)
    monkeypatch.setattr(mdiff.kernel, "_BLOCK_ELEMENTS", 2 * len(data))
    assert mdiff.kernel.block_rows(len(data), 3) == 2
    assert torch.allclose(mdiff.empirical_score(schedule, data)(x, 0.1), full, rtol=1e-14)
    assert torch.allclose(mdiff.empirical_bayes_score(schedule, data, 0.5)(x, 0.1), eb)


def test_float32_agrees_with_float64_on_uncentred_data(schedule):
    """Centring inside the kernel keeps float32 accurate when the data sit far from 0."""
    data = 50.0 + torch.randn(30, 4, dtype=torch.float64)
    x = schedule.m(0.05) * data[:10] + 0.2 * torch.randn(10, 4, dtype=torch.float64)
    d64 = mdiff.denoiser(schedule, data, x, 0.05)
    d32 = mdiff.denoiser(schedule, data.float(), x.float(), 0.05)
    assert (d32.double() - d64).abs().max() < 1e-3


def test_metrics_blocked(monkeypatch):
    import mdiff.kernel

    x, data = torch.randn(37, 2, dtype=torch.float64), torch.randn(3, 2, dtype=torch.float64)
    full = mdiff.nearest_distance(x, data)
    monkeypatch.setattr(mdiff.kernel, "_BLOCK_ELEMENTS", 5)
    assert torch.equal(mdiff.nearest_distance(x, data), full)


@pytest.mark.parametrize("t", [1e-4, 0.1, 1.0])
def test_log_sum_exp_matches_torch(schedule, t):
    data = 3.0 + torch.randn(40, 3, dtype=torch.float64)
    x = 3.0 + 2 * torch.randn(13, 3, dtype=torch.float64)
    m, var = K.mean_and_var(schedule, x, t)
    sq = ((x[:, None, :] - m[:, :, None] * data[None]) ** 2).sum(-1)
    want = torch.logsumexp(-sq / (2 * var), 1)
    assert torch.allclose(mdiff.scores.log_sum_exp(K.prepare(data), x, m, var), want, rtol=1e-12)


def test_log_sum_exp_is_differentiable_and_its_gradient_is_the_score(schedule):
    data, x = torch.randn(9, 2, dtype=torch.float64), torch.randn(6, 2, dtype=torch.float64)
    z = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(mdiff.empirical_log_density(schedule, data, z, 0.3).sum(), z)
    assert torch.allclose(grad, mdiff.empirical_score(schedule, data)(x, 0.3), rtol=1e-10)


def test_bias_is_added_per_row_block(monkeypatch):
    """A bias sees only its rows: the blocked result equals the dense softmax of logits + bias."""
    monkeypatch.setattr(K, "_BLOCK_ELEMENTS", 3 * 50)  # 3 rows per block
    data, x = torch.randn(50, 2, dtype=torch.float64), torch.randn(10, 2, dtype=torch.float64)
    extra = torch.randn(10, 50, dtype=torch.float64)
    seen = []

    def bias(rows, logits):
        seen.append((rows.start, rows.stop))
        logits.add_(extra[rows])

    one = torch.ones(10, 1, dtype=torch.float64)
    xbar, _ = K.posterior_mean(K.prepare(data), x, one, 0.5 * one, bias=bias)
    w = torch.softmax(-((x[:, None] - data[None]) ** 2).sum(-1) + extra, 1)
    assert seen == [(0, 3), (3, 6), (6, 9), (9, 10)]
    assert torch.allclose(xbar, w @ data, rtol=1e-12)


def test_conditional_score_with_one_y_per_row_stays_in_row_blocks(monkeypatch):
    """One y per row: no (n, N) conditioning term is ever formed, only row blocks of it."""
    monkeypatch.setattr(K, "_BLOCK_ELEMENTS", 4 * 300)
    gen = torch.Generator().manual_seed(0)
    data_x = torch.randn(300, 2, dtype=torch.float64, generator=gen)
    data_y = torch.randn(300, 1, dtype=torch.float64, generator=gen)
    y = torch.randn(40, 1, dtype=torch.float64, generator=gen)
    x = torch.randn(40, 2, dtype=torch.float64, generator=gen)
    score = mdiff.conditional_empirical_score(mdiff.VP(), data_x, data_y, y, joint=True)
    sizes, cdist = [], torch.cdist
    monkeypatch.setattr(
        torch, "cdist", lambda a, b, **k: sizes.append(a.shape[0]) or cdist(a, b, **k)
    )
    out = score(x, 0.2)
    assert max(sizes) <= 4
    loop = torch.cat(
        [
            mdiff.conditional_empirical_score(mdiff.VP(), data_x, data_y, y[i], joint=True)(
                x[i : i + 1], 0.2
            )
            for i in range(40)
        ]
    )
    assert torch.allclose(out, loop, rtol=1e-10, atol=1e-12)


def test_nearest_is_exact_in_float32_far_from_the_origin():
    """Ranking on centred data: float32 finds the true nearest point of data at 1000 + noise."""
    gen = torch.Generator().manual_seed(0)
    data = 1000 + torch.randn(500, 2, dtype=torch.float64, generator=gen)
    x = data[:200] + 1e-2 * torch.randn(200, 2, dtype=torch.float64, generator=gen)
    want = torch.cdist(x, data).argmin(1)
    got = mdiff.metrics.nearest(K.prepare(data.float()), x.float(), 1)[:, 0]
    assert (got == want).double().mean() == 1.0
    assert mdiff.fraction_within(x.float(), data.float(), 0.05) == pytest.approx(
        mdiff.fraction_within(x, data, 0.05)
    )
