"""K networks trained as one: the forward is MLP's, the loop is train's, results per model."""

import pytest
import torch

import mdiff
from mdiff import ensemble, training
from mdiff.ensemble import stack

F64 = torch.float64


def test_stacked_forward_is_each_networks_forward(gen):
    """The stack runs ``MLP.forward`` with K-fold embedding and layers: model k's output is
    network k's (to the rounding of ``t (2 pi W)`` against ``(2 pi t) W`` and of the products)."""
    nets = [mdiff.MLP(width=16, output=o, generator=gen) for o in ("score", "eps", "score")]
    model = stack(nets)
    assert type(model) is mdiff.MLP and model.embed.W.shape == (3, 4)
    assert set(model.state_dict()) == {
        k.replace("weight", "weight_t") for k in nets[0].state_dict()
    }
    x, t = torch.randn(3, 10, 2, generator=gen), torch.rand(3, 10, generator=gen)
    out = model(x, t)
    assert out.shape == (3, 10, 2)
    for k, net in enumerate(nets):
        assert torch.allclose(model.embed(t)[k], net.embed(t[k]), atol=1e-6)
        assert torch.allclose(out[k], net(x[k], t[k]), rtol=1e-5, atol=1e-6)


def test_train_many_shares_the_loop_of_train(monkeypatch):
    """Both go through ``mdiff.training.optimize``: one call each, the same function."""
    assert ensemble.optimize is training.optimize
    calls, optimize = [], training.optimize

    def spy(loss_fn, *args, **kwargs):
        calls.append(kwargs.get("desc", "DSM training"))
        return optimize(loss_fn, *args, **kwargs)

    monkeypatch.setattr(training, "optimize", spy)
    monkeypatch.setattr(ensemble, "optimize", spy)
    sch, data = mdiff.VP(), mdiff.paper_points()
    mdiff.train(sch, mdiff.MLP(width=4), data, 2, progress=False)
    mdiff.train_many(sch, [mdiff.MLP(width=4)] * 2, data, 2, progress=False)
    assert calls == ["DSM training", "DSM training (2 models)"]


def test_train_many_single_equals_train():
    sch, data = mdiff.VP(), mdiff.paper_points()
    nets = [
        mdiff.MLP(width=32, output=o, generator=torch.Generator().manual_seed(4))
        for o in ("eps", "eps")
    ]
    one = mdiff.train(
        sch, nets[0], data, 120, c=0.01, generator=torch.Generator().manual_seed(5), progress=False
    )
    many = mdiff.train_many(
        sch, nets[1:], data, 120, c=0.01, generator=torch.Generator().manual_seed(5), progress=False
    )[0]
    assert torch.allclose(one.losses, many.losses, rtol=1e-4, atol=1e-5)
    for p, q in zip(one.ema.parameters(), many.ema.parameters()):
        assert torch.allclose(p, q, atol=1e-5)
    # the first step uses the same draws and network, so the same loss to rounding
    assert float(many.losses[0]) == pytest.approx(float(one.losses[0]), rel=1e-6)


def test_train_many_results_are_plain_networks():
    """Each result holds an MLP (state dict keys and shapes of the input network), its EMA copy
    and checkpoints that load into it."""
    sch, data = mdiff.VE(), mdiff.paper_points()
    nets = [mdiff.MLP(width=8, generator=torch.Generator().manual_seed(k)) for k in range(2)]
    keys = {k: v.shape for k, v in nets[0].state_dict().items()}
    res = mdiff.train_many(sch, nets, data, 20, ema=0.9, checkpoint_every=10, progress=False)
    for r, net in zip(res, nets):
        assert r.net is net and r.losses.shape == (20,)
        assert {k: v.shape for k, v in r.ema.state_dict().items()} == keys
        assert not any(p.requires_grad for p in r.ema.parameters())
        assert sorted(r.checkpoints) == [10, 20]
        for k, v in r.checkpoint_net(20).state_dict().items():
            assert torch.equal(v, r.ema.state_dict()[k])
    assert not torch.equal(res[0].net.net[0].weight, res[1].net.net[0].weight)


def test_train_many_first_step_losses_per_model(gen):
    """Each model's first loss is dsm_loss of its initial net at its own (t, z), with its c."""
    sch, data = mdiff.VE(), mdiff.paper_points()
    outputs, cs = ["score", "eps", "score"], [0.0, 0.1, 0.5]
    nets = [mdiff.MLP(width=16, output=o, generator=gen) for o in outputs]
    init = [mdiff.MLP(width=16, output=o) for o in outputs]
    for a, b in zip(init, nets):
        a.load_state_dict(b.state_dict())
    res = mdiff.train_many(
        sch,
        nets,
        data,
        3,
        c=cs,
        batch=8,
        t_eps=0.0,
        generator=torch.Generator().manual_seed(9),
        progress=False,
    )
    g = torch.Generator().manual_seed(9)
    idx = torch.randint(20, (3, 8), generator=g)
    t = torch.rand(3, 8, generator=g)
    z = torch.randn(3, 8, 2, generator=g)
    for k in range(3):
        want = mdiff.dsm_loss(sch, init[k], data[idx[k]], t[k], z[k], c=cs[k])
        assert float(res[k].losses[0]) == pytest.approx(float(want.detach()), rel=1e-4)


def test_tikhonov_penalty_reduces_score_norm():
    """Training with c |s|^2 shrinks the learned score (the minimizer is s sigma^2/(sigma^2+c))."""
    sch = mdiff.VP()
    gen = torch.Generator().manual_seed(0)
    data = mdiff.gaussian_data(512, torch.zeros(2), torch.eye(2) * 0.1, generator=gen)
    nets = [mdiff.MLP(width=32, generator=torch.Generator().manual_seed(1)) for _ in range(2)]
    res = mdiff.train_many(
        sch, nets, data, 300, lr=3e-3, c=[0.0, 0.5], ema=None, generator=gen, progress=False
    )
    x = torch.randn(2000, 2, generator=gen, dtype=F64) * 0.5
    for t in (0.05, 0.2):
        norms = [mdiff.score_from_model(sch, r.net)(x, t).norm(dim=1).mean() for r in res]
        assert norms[1] < 0.7 * norms[0], (t, norms)


def test_train_many_validation():
    data = mdiff.paper_points()
    with pytest.raises(ValueError, match="architecture"):
        mdiff.train_many(
            mdiff.VP(), [mdiff.MLP(width=4), mdiff.MLP(width=8)], data, 2, progress=False
        )
    with pytest.raises(ValueError, match="c must"):
        mdiff.train_many(mdiff.VP(), [mdiff.MLP(width=4)] * 2, data, 2, c=[0.1], progress=False)
    with pytest.raises(ValueError, match="c must"):
        mdiff.train_many(mdiff.VP(), [mdiff.MLP(width=4)] * 2, data, 2, c=-1.0, progress=False)
    with pytest.raises(ValueError, match="nets must be a non-empty sequence"):
        mdiff.train_many(mdiff.VP(), [], data, 2, progress=False)
    with pytest.raises(ValueError, match="data must"):
        mdiff.train_many(mdiff.VP(), [mdiff.MLP(d=3, width=4)], data, 2, progress=False)
    with pytest.raises(ValueError, match="reduction"):
        mdiff.dsm_loss(mdiff.VP(), lambda x, t: x, data, 0.5, torch.randn(20, 2), reduction="sum")
