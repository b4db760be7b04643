"""``mdiff.train_many`` with one training set per network (``mdiff.ensemble.noise_sets``)."""

import pytest
import torch

import mdiff
from mdiff.ensemble import noise_sets, stack


def _nets(k, d=2, width=8):
    return [
        mdiff.MLP(d=d, width=width, generator=torch.Generator().manual_seed(0)) for _ in range(k)
    ]


def _run(data, k=3, steps=30, **kw):
    return mdiff.train_many(
        mdiff.VP(), _nets(k), data, steps, ema=0.9, checkpoint_every=10, progress=False,
        generator=torch.Generator().manual_seed(1), **kw,
    )  # fmt: skip


def test_the_same_set_for_every_network_equals_one_shared_set():
    data = torch.randn(12, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    shared, sets = _run(data), _run([data, data, data])
    for a, b in zip(shared, sets):
        assert torch.equal(a.losses, b.losses)
        for step in a.checkpoints:
            for key in a.checkpoints[step]:
                assert torch.equal(a.checkpoints[step][key], b.checkpoints[step][key])


def test_each_network_draws_from_its_own_set():
    sets = [torch.full((n, 2), float(k), dtype=torch.float64) for k, n in enumerate([3, 10, 50])]
    model = stack(_nets(3))
    gen = torch.Generator().manual_seed(4)
    draw = noise_sets(mdiff.VP(), model, sets, 3, 64, 1e-5, gen)
    for _ in range(5):
        x0, t, z = draw()
        assert x0.shape == (3, 64, 2) and t.shape == (3, 64) and z.shape == (3, 64, 2)
        for k in range(3):
            assert torch.all(x0[k] == k)  # model k only sees set k


def test_batches_cover_each_set_uniformly():
    sets = [torch.arange(n, dtype=torch.float64)[:, None].expand(n, 2) for n in (3, 7)]
    draw = noise_sets(mdiff.VP(), stack(_nets(2)), sets, 2, 20_000, 1e-5, torch.Generator())
    x0 = draw()[0][..., 0]
    for k, n in enumerate((3, 7)):
        counts = torch.bincount(x0[k].long(), minlength=n).double() / 20_000
        assert counts.shape == (n,) and (counts - 1 / n).abs().max() < 0.02


def test_sets_of_different_sizes_train_and_differ():
    gen = torch.Generator().manual_seed(5)
    sets = [torch.randn(n, 2, generator=gen, dtype=torch.float64) for n in (4, 40, 400)]
    runs = _run(sets, batch=16)
    assert len(runs) == 3 and all(torch.isfinite(r.losses).all() for r in runs)
    assert not torch.equal(runs[0].losses, runs[1].losses)
    again = _run(sets, batch=16)  # bit-reproducible
    assert all(torch.equal(a.losses, b.losses) for a, b in zip(runs, again))


def test_validation():
    data = torch.randn(5, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="one training set per network"):
        _run([data, data])
    with pytest.raises(ValueError, match="batch"):
        _run([data, data[:3], data])
    with pytest.raises(ValueError, match=r"data\[1\]"):
        _run([data, torch.randn(5, 3, dtype=torch.float64), data], batch=4)
