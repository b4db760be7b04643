"""Memorization metrics on hand-built cases: nearest distances, fractions, d1/d2 ratios,
held-out comparison, pair similarity, and row blocks."""

import math

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


def test_nearest_ratio_hand_built():
    samples = torch.tensor([[0.1, 0.0], [1.5, 0.0], [0.0, 0.0]], dtype=torch.float64)
    r = mdiff.nearest_ratio(samples, DATA)
    assert torch.allclose(r, torch.tensor([0.1 / 2.9, 1.0, 0.0], dtype=torch.float64))
    assert torch.equal(r < 1 / 3, mdiff.memorized(samples, DATA))


def test_nearest_ratio_scale_invariant():
    x = torch.randn(50, 2, dtype=torch.float64)
    r = mdiff.nearest_ratio(x, DATA)
    assert torch.allclose(mdiff.nearest_ratio(7.5 * x, 7.5 * DATA), r)


def test_nearest_ratio_duplicates_give_nan_and_are_not_memorized():
    data = torch.cat([DATA, DATA[:1]])  # the origin twice
    copy = DATA[:1].clone()
    assert math.isnan(mdiff.nearest_ratio(copy, data).item())
    assert not mdiff.memorized(copy, data).item()
    assert mdiff.memorized(copy, DATA).item()


def test_nearest_ratio_needs_two_points():
    with pytest.raises(ValueError, match="N >= 2"):
        mdiff.nearest_ratio(torch.zeros(1, 2), torch.zeros(1, 2))


def test_closer_than_heldout_hand_built():
    data = torch.tensor([[0.0], [10.0]], dtype=torch.float64)
    heldout = torch.tensor([[1.0], [2.0], [3.0], [4.0], [5.0]], dtype=torch.float64)
    # held-out nearest distances 1, 2, 3, 4, 5: median 3
    samples = torch.tensor([[0.5], [9.0], [7.5], [4.0]], dtype=torch.float64)  # 0.5, 1, 2.5, 4
    assert mdiff.closer_than_heldout(samples, data, heldout, q=0.5) == 0.75
    assert mdiff.closer_than_heldout(heldout, data, heldout, q=0.5) == 0.4


def test_closer_than_heldout_fresh_samples_give_about_q(gen):
    data = torch.randn(20, 2, generator=gen, dtype=torch.float64)
    heldout = torch.randn(4000, 2, generator=gen, dtype=torch.float64)
    fresh = torch.randn(4000, 2, generator=gen, dtype=torch.float64)
    assert abs(mdiff.closer_than_heldout(fresh, data, heldout, q=0.1) - 0.1) < 0.02
    assert mdiff.closer_than_heldout(data, data, heldout, q=0.1) == 1.0


def test_closer_than_heldout_validates_q():
    with pytest.raises(ValueError, match="q must lie"):
        mdiff.closer_than_heldout(DATA, DATA, DATA, q=1.0)


def test_pair_similarity_hand_built():
    a = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [0.0, 1.0, 0.0]], dtype=torch.float64)
    b = torch.tensor([[11.0, 12.0, 13.0], [3.0, 2.0, 1.0], [0.0, 1.0, 0.0]], dtype=torch.float64)
    # identical up to an offset: 1; reversed: -1; identical: 1
    assert torch.allclose(mdiff.pair_similarity(a, b), torch.tensor([1.0, -1.0, 1.0]).double())


def test_pair_similarity_scale_invariant_and_bounded(gen):
    a = torch.randn(30, 16, generator=gen, dtype=torch.float64)
    b = torch.randn(30, 16, generator=gen, dtype=torch.float64)
    s = mdiff.pair_similarity(a, b)
    assert s.shape == (30,) and (s.abs() <= 1).all()
    assert torch.allclose(mdiff.pair_similarity(3 * a + 1, 0.5 * b), s)


def test_pair_similarity_validates_shapes():
    with pytest.raises(ValueError, match="same shape"):
        mdiff.pair_similarity(torch.zeros(3, 2), torch.zeros(2, 2))
