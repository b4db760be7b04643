"""Guards for the performance work of issue 10: bounded blocks, layout, dtype, lse; a smoke run."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import mdiff
import mdiff.scores as S

ROOT = Path(__file__).resolve().parents[1]


def test_blocks_bounded_by_budget_for_large_n(monkeypatch):
    """A block of logits holds at most max(_BLOCK_ELEMENTS, _DATA_FRACTION N d) numbers."""
    monkeypatch.setattr(S, "_BLOCK_ELEMENTS", 1000)
    for n_data, d in [(50_000, 2), (60_000, 784), (10, 3), (3, 10_000)]:
        rows = S.block_rows(n_data, d)
        budget = max(S._BLOCK_ELEMENTS, S._DATA_FRACTION * n_data * d)
        assert rows >= 1
        assert rows == 1 or rows * n_data <= budget


def test_block_rows_grow_with_d_only_up_to_the_data_fraction():
    small, large = S.block_rows(60_000, 2), S.block_rows(60_000, 784)
    assert small * 60_000 <= S._BLOCK_ELEMENTS
    assert large > small and large * 60_000 <= S._DATA_FRACTION * 60_000 * 784


def test_logit_blocks_respect_a_small_budget(monkeypatch):
    data, x = torch.randn(3000, 3, dtype=torch.float64), torch.randn(50, 3, dtype=torch.float64)
    schedule = mdiff.VE()
    full = mdiff.empirical_score(schedule, data)(x, 0.2)
    monkeypatch.setattr(S, "_BLOCK_ELEMENTS", 7000)
    m, var = S.mean_and_var(schedule, x, 0.2)
    sizes = [logits.numel() for _, logits in S.logit_blocks(S.prepare(data), x, m, var)]
    assert len(sizes) == 25 and max(sizes) <= 7000
    assert torch.allclose(mdiff.empirical_score(schedule, data)(x, 0.2), full, rtol=1e-13)


def test_prepared_table_is_one_feature_major_tensor():
    data = torch.randn(40, 5, dtype=torch.float64) + 3
    prep = S.prepare(data)
    assert prep.table.shape == (6, 40) and prep.table.is_contiguous()
    assert prep.centred.data_ptr() == prep.table[1].data_ptr()  # a view, no second copy
    centred = data - data.mean(0)
    assert torch.allclose(prep.centred, centred)
    assert torch.allclose(prep.table[0], (centred**2).sum(1))


class _DtypeRecorder(torch.overrides.TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.dtypes = set()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for value in out if isinstance(out, (tuple, list)) else [out]:
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                self.dtypes.add(value.dtype)
        return out


@pytest.mark.parametrize(
    "make",
    [
        lambda s, y: mdiff.empirical_score(s, y),
        lambda s, y: mdiff.empirical_bayes_score(s, y, 0.1),
    ],
)
def test_float32_call_makes_no_float64_tensor(schedule, make):
    data = torch.randn(300, 4)
    score = make(schedule, data)
    x = torch.randn(64, 4)
    score(x, 0.3)  # prepares (and caches) the float32 table
    with _DtypeRecorder() as rec:
        out = score(x, torch.full((64,), 0.3))
    assert out.dtype == torch.float32
    assert rec.dtypes == {torch.float32}, rec.dtypes


@pytest.mark.parametrize("t", [1e-6, 0.05, 1.0])
def test_log_sum_exp_of_posterior_mean(schedule, t):
    """lse = log sum_n exp(-|x - m y_n|^2 / (2 sigma^2)), also where the weights are one-hot."""
    data, x = torch.randn(30, 3, dtype=torch.float64), 2 * torch.randn(9, 3, dtype=torch.float64)
    m, var = S.mean_and_var(schedule, x, t)
    _, lse = S.posterior_mean(S.prepare(data), x, m, var, with_lse=True)
    sq = ((x[:, None, :] - m[:, :, None] * data[None]) ** 2).sum(-1)
    assert torch.allclose(lse, torch.logsumexp(-sq / (2 * var), 1), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n_data", [1, 7, 17, 1000])
def test_in_place_softmax_denoiser_matches_naive(monkeypatch, dtype, n_data):
    """The softmax runs in place on the reused logits buffer; several blocks, odd row lengths."""
    monkeypatch.setattr(S, "_BLOCK_ELEMENTS", 3 * n_data)
    schedule, data = mdiff.VP(), torch.randn(n_data, 5, dtype=dtype)
    x = torch.randn(10, 5, dtype=dtype)
    m, s = schedule.m(0.3), schedule.sigma(0.3)
    w = torch.softmax(-((x[:, None] - m * data[None]) ** 2).sum(-1) / (2 * s * s), 1)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    got = mdiff.denoiser(schedule, data, x, 0.3)
    assert torch.allclose(got, (w @ data).to(dtype), rtol=tol, atol=tol)


def test_benchmark_suite_smoke(tmp_path):
    """``python -m benchmarks --quick`` (tiny sizes) runs every figure and writes its JSON."""
    out = tmp_path / "bench.json"
    cmd = [sys.executable, "-m", "benchmarks", "--quick", "--threads", "1", "--json", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    figures = {r["figure"].split()[0] for r in result["rows"]}
    assert figures == {"1", "2", "3", "4", "5"}
    assert "| figure" in done.stdout
