"""Networks: the MLP's architecture, seeding and validation; the score of a network."""

import pytest
import torch

import mdiff

F64 = torch.float64


def test_eps_and_score_outputs(gen):
    """score_from_model: ``s = net`` or ``s = -eps/sigma``; both losses are the same functional."""
    sch = mdiff.VP()
    eps_net = mdiff.MLP(width=16, output="eps", generator=gen)
    score_net = mdiff.MLP(width=16, output="score", generator=gen)
    x = torch.randn(7, 2, generator=gen, dtype=F64)
    t = torch.rand(7, generator=gen, dtype=F64) * 0.9 + 0.1
    with torch.no_grad():
        raw_eps = eps_net(x.float(), t.float()).double()
        raw_score = score_net(x.float(), t.float()).double()
    s_eps = mdiff.score_from_model(sch, eps_net)(x, t)
    assert s_eps.dtype == F64 and s_eps.shape == x.shape
    assert torch.allclose(s_eps, -raw_eps / sch.sigma(t)[:, None])
    assert torch.allclose(mdiff.score_from_model(sch, score_net)(x, t), raw_score)
    # float t equals a constant (n,) tensor
    s_float = mdiff.score_from_model(sch, eps_net)(x, 0.3)
    s_vec = mdiff.score_from_model(sch, eps_net)(x, torch.full((7,), 0.3, dtype=F64))
    assert torch.allclose(s_float, s_vec)
    # |eps - z|^2 for the network equals |sigma s + z|^2 for its score
    z = torch.randn(7, 2, generator=gen, dtype=F64)
    as_net = mdiff.dsm_loss(sch, eps_net, x, t, z, reduction="none").double()
    as_score = mdiff.dsm_loss(sch, mdiff.score_from_model(sch, eps_net), x, t, z, reduction="none")
    assert torch.allclose(as_net, as_score, rtol=1e-5)


def test_mlp_architecture_and_seeding():
    net = mdiff.MLP(d=3, width=32, depth=2, emb_dim=8)
    linears = [m for m in net.net if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (11, 32),
        (32, 32),
        (32, 32),
        (32, 3),
    ]
    assert "embed.W" in net.state_dict() and net.embed.W.shape == (4,)
    assert all(p is not net.embed.W for p in net.parameters())  # frozen: a buffer
    emb = net.embed(torch.rand(5))
    assert emb.shape == (5, 8)
    assert torch.allclose(emb[:, :4] ** 2 + emb[:, 4:] ** 2, torch.ones(5, 4))
    assert net(torch.randn(5, 3), torch.rand(5)).shape == (5, 3)
    # an explicit generator makes the net reproducible and leaves the global RNG alone
    state = torch.get_rng_state()
    a = mdiff.MLP(width=8, generator=torch.Generator().manual_seed(3)).state_dict()
    assert torch.equal(state, torch.get_rng_state())
    b = mdiff.MLP(width=8, generator=torch.Generator().manual_seed(3)).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_forward_formula_and_zero_dim_time(gen):
    """``MLP.forward`` is ``net([x, sin 2 pi W t, cos 2 pi W t])``; a 0-d ``t`` is broadcast."""
    net = mdiff.MLP(width=8, generator=gen)
    x, t = torch.randn(4, 2, generator=gen), torch.rand(4, generator=gen)
    arg = 2 * torch.pi * t[:, None] * net.embed.W
    want = net.net(torch.cat([x, arg.sin(), arg.cos()], 1))
    assert torch.allclose(net(x, t), want, atol=1e-6)
    assert torch.equal(net(x, torch.tensor(0.3)), net(x, torch.full((4,), 0.3)))


@pytest.mark.parametrize(
    "kwargs",
    [dict(width=0), dict(depth=-1), dict(output="x0"), dict(emb_dim=7)],
)
def test_mlp_validation(kwargs):
    with pytest.raises(ValueError):
        mdiff.MLP(**kwargs)


def test_embedding_and_score_validation():
    with pytest.raises(ValueError, match="t must have shape"):
        mdiff.FourierTimeEmbedding()(torch.rand(3, 1))
    with pytest.raises(ValueError, match="scale"):
        mdiff.FourierTimeEmbedding(scale=0.0)
    with pytest.raises(ValueError, match="output"):
        mdiff.score_from_model(mdiff.VP(), mdiff.MLP(width=4), output="x0")
    with pytest.raises(ValueError, match=r"x must be a tensor of shape \(n, 2\)"):
        mdiff.score_from_model(mdiff.VP(), mdiff.MLP(width=4))(torch.zeros(3, 3), 0.5)


def test_score_from_model_grad(gen):
    sch = mdiff.VE()
    net = mdiff.MLP(width=8, generator=gen)
    x = torch.randn(4, 2, dtype=F64, requires_grad=True)
    s = mdiff.score_from_model(sch, net, grad=True)(x, 0.5)
    (g,) = torch.autograd.grad(s.sum(), x)
    assert g.shape == x.shape and torch.isfinite(g).all()
    assert not mdiff.score_from_model(sch, net)(x, 0.5).requires_grad


def _unet(**kwargs):
    return mdiff.models.UNet(generator=torch.Generator().manual_seed(0), **kwargs)


def test_unet_shapes_dtype_and_flattened_images(gen):
    """``UNet(x, t)``: ``x`` ``(n, side^2)`` flattened row-major, ``t`` ``(n,)`` or 0-d."""
    net = _unet(side=8, channels=(8, 16))
    assert net.d == 64 and net.output == "eps"
    x, t = torch.randn(5, 64, generator=gen), torch.rand(5, generator=gen)
    out = net(x, t)
    assert out.shape == (5, 64) and out.dtype == torch.float32
    assert torch.equal(net(x, torch.tensor(0.3)), net(x, torch.full((5,), 0.3)))
    # row-major images: a change of pixel (row 0, column 3) reaches its neighbours first
    bump = x.clone()
    bump[:, 3] += 1.0
    with torch.no_grad():
        h0, h1 = (net.conv_in(v.reshape(5, 1, 8, 8)) for v in (x, bump))
    changed = (h1 - h0).abs().amax((0, 1)) > 0  # (8, 8)
    assert changed.nonzero().tolist() == [[r, c] for r in (0, 1) for c in (2, 3, 4)]
    net64 = _unet(side=8, channels=(8, 16)).double()
    assert net64(x.double(), t.double()).dtype == F64
    deep = _unet(side=16, channels=(8, 8, 16))
    assert deep(torch.randn(3, 256), torch.rand(3)).shape == (3, 256)


def test_unet_parameter_count_as_documented():
    net = _unet()
    assert (net.side, net.channels, net.d) == (16, (16, 32), 256)
    assert sum(p.numel() for p in net.parameters()) == 49_985  # the docstring's count
    assert "49,985 parameters" in " ".join(mdiff.models.UNet.__doc__.split())
    assert all(p is not net.embed.W for p in net.parameters())  # the embedding is frozen


def test_unet_eps_and_score_outputs(gen):
    sch = mdiff.VP()
    eps_net, score_net = (
        _unet(side=8, channels=(8, 16)),
        _unet(side=8, channels=(8, 16), output="score"),
    )
    x = torch.randn(4, 64, generator=gen, dtype=F64)
    t = torch.rand(4, generator=gen, dtype=F64) * 0.9 + 0.1
    with torch.no_grad():
        raw = eps_net(x.float(), t.float()).double()
        assert torch.equal(raw, score_net(x.float(), t.float()).double())  # same seeded weights
    s_eps = mdiff.score_from_model(sch, eps_net)(x, t)
    assert s_eps.dtype == F64 and s_eps.shape == x.shape
    assert torch.allclose(s_eps, -raw / sch.sigma(t)[:, None])
    assert torch.allclose(mdiff.score_from_model(sch, score_net)(x, t), raw)
    with pytest.raises(ValueError, match=r"x must be a tensor of shape \(n, 64\)"):
        mdiff.score_from_model(sch, eps_net)(torch.zeros(3, 63), 0.5)


def test_unet_seeded_init_and_no_global_rng():
    state = torch.get_rng_state()
    a = _unet(side=8, channels=(8, 16)).state_dict()
    assert torch.equal(state, torch.get_rng_state())
    b = _unet(side=8, channels=(8, 16)).state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    c = mdiff.models.UNet(side=8, channels=(8, 16), generator=torch.Generator().manual_seed(1))
    assert not torch.equal(a["conv_in.weight"], c.state_dict()["conv_in.weight"])
    bound = 1 / 3  # conv_in: fan_in = 1 * 3 * 3
    assert 0 < a["conv_in.weight"].abs().max() <= bound


def test_unet_gradients_flow_and_trains(gen):
    net = _unet(side=8, channels=(8, 16))
    x = torch.randn(6, 64, generator=gen, requires_grad=True)
    out = net(x, torch.rand(6, generator=gen))
    grads = torch.autograd.grad(out.square().sum(), [x, *net.parameters()])
    assert all(torch.isfinite(g).all() and g.abs().sum() > 0 for g in grads)
    data = torch.randn(2, 64, generator=gen)
    run = mdiff.train(
        mdiff.VP(), net, data, 30, batch=4, checkpoint_every=10, progress=False,
        generator=torch.Generator().manual_seed(1),
    )  # fmt: skip
    assert run.losses.shape == (30,) and torch.isfinite(run.losses).all()
    assert sorted(run.checkpoints) == [10, 20, 30]
    assert run.checkpoint_net(30)(data, torch.rand(2)).shape == (2, 64)


@pytest.mark.parametrize(
    "kwargs",
    [dict(side=0), dict(side=10, channels=(8, 8, 8)), dict(channels=(6, 8)), dict(channels=()),
     dict(output="x0"), dict(emb_dim=7)],
)  # fmt: skip
def test_unet_validation(kwargs):
    with pytest.raises(ValueError):
        mdiff.models.UNet(**kwargs)
