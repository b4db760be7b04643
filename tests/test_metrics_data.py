"""Metrics on hand-built cases, and the data sets."""

import pytest
import torch

import mdiff

DATA = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]], dtype=torch.float64)


def test_nearest_distance_hand_built():
    samples = torch.tensor([[0.0, 0.0], [3.0, 0.5], [0.0, 10.0], [1.0, 1.0]], dtype=torch.float64)
    d = mdiff.nearest_distance(samples, DATA)
    assert torch.allclose(d, torch.tensor([0.0, 0.5, 6.0, 2**0.5], dtype=torch.float64))


def test_exact_copies_have_zero_distance_in_float32():
    data = 100 + torch.randn(50, 8)
    assert (mdiff.nearest_distance(data[:10], data) == 0).all()


def test_fraction_within():
    samples = torch.tensor([[0.0, 0.001], [3.0, 0.02], [1.5, 1.5], [0.0, 4.0]], dtype=torch.float64)
    assert mdiff.fraction_within(samples, DATA, 1e-2) == 0.5
    assert mdiff.fraction_within(samples, DATA, 0.05) == 0.75
    assert mdiff.fraction_within(samples, DATA, 0.0) == 0.0


def test_memorized_ratio_test():
    samples = torch.tensor([[0.1, 0.0], [1.5, 0.0], [0.9, 0.0]], dtype=torch.float64)
    # d1/d2: 0.1/2.9 (copy), 1.5/1.5 (between), 0.9/2.1 (> 1/3)
    assert mdiff.memorized(samples, DATA).tolist() == [True, False, False]
    assert mdiff.memorized(samples, DATA, ratio=0.5).tolist() == [True, False, True]


def test_nearest_k_sorted():
    dist, idx = mdiff.nearest_k(torch.tensor([[2.5, 0.0]], dtype=torch.float64), DATA, 3)
    assert idx.tolist() == [[1, 0, 2]]
    assert (dist[0, 1:] >= dist[0, :-1]).all()


def test_metrics_blocked(monkeypatch):
    import mdiff.scores

    x = torch.randn(37, 2, dtype=torch.float64)
    full = mdiff.nearest_distance(x, DATA)
    monkeypatch.setattr(mdiff.scores, "_BLOCK_ELEMENTS", 5)
    assert torch.equal(mdiff.nearest_distance(x, DATA), full)


def test_paper_points():
    y = mdiff.paper_points()
    assert y.shape == (20, 2)
    assert y[0].tolist() == pytest.approx([1.6243453636632417, -0.6117564136500754])


def test_structured_sets():
    assert mdiff.four_points().abs().sum(1).tolist() == [1.0] * 4
    b = mdiff.square_boundary(80, 2.1)
    assert b.shape == (80, 2)
    assert torch.allclose(b.abs().max(1).values, torch.full((80,), 2.1, dtype=torch.float64))
    assert len(torch.unique(b, dim=0)) == 80


def test_rectangles():
    r = mdiff.rectangles().reshape(2, 64, 64)
    assert r[0].sum() == 144 and r[1].sum() == 196
    assert r[0, 6, 6] == 1 and r[0, 17, 17] == 1 and r[0, 18, 18] == 0
    assert r[1, 40, 40] == 1 and r[1, 53, 53] == 1 and r[1, 54, 54] == 0


def test_toy_sets(gen):
    g = mdiff.gaussian_data(50000, [1.0, 2.0], [[1.0, 0.5], [0.5, 2.0]], gen)
    assert torch.allclose(
        torch.cov(g.T), torch.tensor([[1.0, 0.5], [0.5, 2.0]]).double(), atol=0.05
    )
    r = mdiff.ring(1000, 2.0, 0.05, gen)
    assert (r.norm(dim=1) - 2.0).abs().mean() < 0.06
