"""DSM training: the exact score minimizes the loss; the loop recovers it; EMA, checkpoints."""

import math
import re
from pathlib import Path

import pytest
import torch

import mdiff
from mdiff.training import ema_decay, optimize

F64 = torch.float64
DELTA = 0.3
MDIFF = Path(mdiff.__file__).parent


def gaussian_setup(d=2):
    mean = torch.tensor([1.0, -0.5], dtype=F64)[:d]
    cov = torch.tensor([[1.0, 0.6], [0.6, 0.5]], dtype=F64)[:d, :d]
    return mean, cov


def fields():
    """Perturbation directions h(x, t): a shift, a rotation field, a localized bump."""
    rot = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=F64)
    return [
        lambda x, t: torch.ones_like(x),
        lambda x, t: x @ rot.T,
        lambda x, t: torch.exp(-(x * x).sum(1, keepdim=True)) * torch.ones_like(x),
    ]


def check_exact_is_minimal(schedule, exact, x0, gen):
    """J(s + delta h) - J(s) = delta^2 E[sigma^2 |h(x_t)|^2] > 0 for the exact minimizer s.

    Monte Carlo with common (x0, t, z): the per-sample difference is
    ``2 delta sigma h.(sigma s + z) + delta^2 sigma^2 |h|^2``; the first term has mean zero
    because ``E[z | x_t] = -sigma s(x_t)``. We check the mean against the second term within
    4 standard errors, and that the gap itself is more than 4 standard errors above zero.
    """
    t = 1e-3 + (1 - 1e-3) * torch.rand(len(x0), generator=gen, dtype=F64)
    z = torch.randn(x0.shape, generator=gen, dtype=F64)
    sig = schedule.sigma(t)[:, None]
    xt = schedule.m(t)[:, None] * x0 + sig * z
    base = mdiff.dsm_loss(schedule, exact, x0, t, z, reduction="none")
    for h in fields():
        pert = mdiff.dsm_loss(
            schedule,
            lambda x, tt, h=h: exact(x, tt) + DELTA * h(x, tt),
            x0,
            t,
            z,
            reduction="none",
        )
        quad = DELTA**2 * ((sig * h(xt, t)) ** 2).sum(1)
        noise = pert - base - quad
        err = noise.std() / math.sqrt(len(noise))
        assert abs(noise.mean()) < 4 * err, (float(noise.mean()), float(err))
        assert quad.mean() > 4 * err
        assert pert.mean() > base.mean()


def test_dsm_loss_lowest_for_exact_gaussian_score(schedule, gen):
    mean, cov = gaussian_setup()
    x0 = mdiff.gaussian_data(40_000, mean, cov, generator=gen)
    check_exact_is_minimal(schedule, mdiff.gaussian_score(schedule, mean, cov), x0, gen)


def test_dsm_loss_lowest_for_empirical_score_on_small_set(schedule, gen):
    data = torch.randn(5, 2, generator=gen, dtype=F64)
    x0 = data[torch.randint(5, (40_000,), generator=gen)]
    check_exact_is_minimal(schedule, mdiff.empirical_score(schedule, data), x0, gen)


def test_dsm_loss_formula_and_reduction(gen):
    sch = mdiff.VP()
    x0 = torch.randn(6, 2, generator=gen, dtype=F64)
    z = torch.randn(6, 2, generator=gen, dtype=F64)
    t = torch.linspace(0.1, 1.0, 6, dtype=F64)

    def score(x, tt):
        return -x

    m, s = sch.m(t)[:, None], sch.sigma(t)[:, None]
    sx = -(m * x0 + s * z)
    want = ((s * sx + z) ** 2).sum(1) + 0.5 * (sx * sx).sum(1)
    got = mdiff.dsm_loss(sch, score, x0, t, z, c=0.5, reduction="none")
    assert torch.allclose(got, want)
    assert torch.allclose(mdiff.dsm_loss(sch, score, x0, t, z, c=0.5), want.mean())
    # a float t is the same as a constant tensor
    assert torch.allclose(
        mdiff.dsm_loss(sch, score, x0, 0.4, z),
        mdiff.dsm_loss(sch, score, x0, torch.full((6,), 0.4, dtype=F64), z),
    )


def test_dsm_loss_eps_penalty_formula(gen):
    """``output="eps"``: ``|eps_hat - z|^2 + c |eps_hat|^2 / sigma^2``."""
    sch = mdiff.VE()
    x0, z = torch.randn(5, 2, generator=gen, dtype=F64), torch.randn(5, 2, generator=gen, dtype=F64)
    t = torch.linspace(0.2, 1.0, 5, dtype=F64)

    def eps_hat(x, tt):
        return 0.5 * x

    e = 0.5 * (sch.m(t)[:, None] * x0 + sch.sigma(t)[:, None] * z)
    want = ((e - z) ** 2).sum(1) + 0.1 * (e * e).sum(1) / sch.sigma(t) ** 2
    got = mdiff.dsm_loss(sch, eps_hat, x0, t, z, c=0.1, output="eps", reduction="none")
    assert torch.allclose(got, want)


def test_dsm_loss_validation():
    data, z = mdiff.paper_points(), torch.randn(20, 2)
    with pytest.raises(ValueError, match="reduction"):
        mdiff.dsm_loss(mdiff.VP(), lambda x, t: x, data, 0.5, z, reduction="sum")
    with pytest.raises(ValueError, match="c must"):
        mdiff.dsm_loss(mdiff.VP(), lambda x, t: x, data, 0.5, z, c=-1.0)
    with pytest.raises(ValueError, match="z must have shape"):
        mdiff.dsm_loss(mdiff.VP(), lambda x, t: x, data, 0.5, z[:3])
    with pytest.raises(ValueError, match="output"):
        mdiff.dsm_loss(mdiff.VP(), lambda x, t: x, data, 0.5, z, output="x0")


def test_training_recovers_gaussian_score_1d(gen):
    """600 Adam steps on 1-D Gaussian data land within 15 % (relative RMS) of the exact score.

    Tolerance: the zero score has relative error 1 and the exact score of t = 0.3 used at
    t = 1 has error > 1, so 15 % means the net has learned the t-dependent score; the
    remaining few percent are optimization noise (DSM gradients have variance ~1/sigma^2)
    and the 4096-point sample, as seen when varying seeds (5-10 %).
    """
    sch = mdiff.VP()
    mean, cov = torch.tensor([1.0], dtype=F64), torch.tensor([[0.25]], dtype=F64)
    data = mdiff.gaussian_data(4096, mean, cov, generator=gen)
    net = mdiff.MLP(d=1, width=32, generator=gen)
    res = mdiff.train(
        sch,
        net,
        data,
        600,
        lr=3e-3,
        batch=512,
        ema=0.99,
        ema_warmup=False,
        generator=gen,
        progress=False,
    )
    exact, learned = mdiff.gaussian_score(sch, mean, cov), mdiff.score_from_model(sch, res.ema)
    for t in (0.3, 0.5, 0.8, 1.0):
        x = sch.m(t) * mdiff.gaussian_data(20_000, mean, cov, generator=gen)
        x = x + sch.sigma(t) * torch.randn(x.shape, generator=gen, dtype=F64)
        e, got = exact(x, t), learned(x, t)
        rel = float((e - got).norm() / e.norm())
        assert rel < 0.15, (t, rel)


def test_ema_zero_is_raw_net_and_ema_formula(gen):
    sch, data = mdiff.VP(), mdiff.paper_points()
    net = mdiff.MLP(width=16, generator=gen)
    res = mdiff.train(sch, net, data, 20, ema=0.0, ema_warmup=False, generator=gen, progress=False)
    for p, q in zip(res.net.parameters(), res.ema.parameters()):
        assert torch.equal(p, q)
    # one step of EMA 0.5: ema = (initial + updated) / 2
    net = mdiff.MLP(width=16, generator=gen)
    init = [p.detach().clone() for p in net.parameters()]
    res = mdiff.train(sch, net, data, 1, ema=0.5, ema_warmup=False, generator=gen, progress=False)
    for p0, p, q in zip(init, res.net.parameters(), res.ema.parameters()):
        assert torch.allclose(q, 0.5 * (p0 + p))
        assert not torch.equal(p0, p)
    assert mdiff.train(sch, net, data, 2, ema=None, progress=False).ema is None


def test_ema_warmup_schedule():
    """ema_pytorch defaults: copy up to step 101, update every 10th step, slow warm-up."""
    assert ema_decay(5, 0.9999, warmup=False) == 0.9999
    assert ema_decay(1, 0.9999) == 0.0 and ema_decay(101, 0.9999) == 0.0
    assert ema_decay(102, 0.9999) is None and ema_decay(110, 0.9999) is None
    assert ema_decay(111, 0.9999) == pytest.approx(1 - 11 ** (-2 / 3))
    assert ema_decay(10_000_001, 0.9999) == 0.9999
    assert ema_decay(3, None) is None


def test_checkpoints_at_requested_steps(gen):
    sch, data = mdiff.VP(), mdiff.paper_points()
    net = mdiff.MLP(width=16, generator=torch.Generator().manual_seed(1))
    res = mdiff.train(
        sch,
        net,
        data,
        25,
        ema=None,
        checkpoint_every=10,
        generator=torch.Generator().manual_seed(2),
        progress=False,
    )
    assert sorted(res.checkpoints) == [10, 20] and res.losses.shape == (25,)
    # the checkpoint at step 20 is the state of a 20-step run with the same randomness
    net20 = mdiff.MLP(width=16, generator=torch.Generator().manual_seed(1))
    mdiff.train(
        sch, net20, data, 20, ema=None, generator=torch.Generator().manual_seed(2), progress=False
    )
    ck = res.checkpoint_net(20)
    for k, v in net20.state_dict().items():
        assert torch.allclose(ck.state_dict()[k], v)
    with pytest.raises(ValueError, match="step"):
        res.checkpoint_net(25)


def test_optimize_is_a_generic_loop():
    """The loop knows nothing of DSM: it minimizes any ``loss_fn()`` of a module's parameters,
    records one loss per model and step, keeps the EMA copy and its checkpoints."""
    net = torch.nn.Linear(1, 3, bias=False)
    target = torch.tensor([[1.0], [-2.0], [0.5]])

    def loss_fn():
        return ((net.weight - target) ** 2)[:, 0]  # three "models", one scalar loss each

    kw = dict(ema=0.0, ema_warmup=False, checkpoint_every=100, progress=False)
    res = optimize(loss_fn, net, 400, lr=0.05, **kw)
    assert isinstance(res, mdiff.training.TrainResult) and res.net is net
    assert res.losses.shape == (400, 3) and res.seconds > 0
    assert torch.allclose(net.weight.detach(), target, atol=1e-2)
    assert torch.equal(res.ema.weight, net.weight.detach())  # ema = 0: the copy is the net
    assert sorted(res.checkpoints) == [100, 200, 300, 400]
    assert torch.equal(res.checkpoint_net(400).weight, net.weight)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(steps=0), "steps"),
        (dict(lr=-1.0), "lr"),
        (dict(c=-0.1), "c"),
        (dict(ema=1.0), "ema"),
        (dict(batch=0), "batch"),
        (dict(t_eps=1.0), "t_eps"),
        (dict(checkpoint_every=0), "checkpoint_every"),
        (dict(num_threads=0), "num_threads"),
    ],
)
def test_train_validation(kwargs, match):
    args = dict(steps=2)
    args.update(kwargs)
    steps = args.pop("steps")
    with pytest.raises(ValueError, match=match):
        mdiff.train(
            mdiff.VP(), mdiff.MLP(width=4), mdiff.paper_points(), steps, progress=False, **args
        )


def test_train_data_must_match_the_network():
    with pytest.raises(ValueError, match=r"data must be a tensor of shape \(n, 3\)"):
        mdiff.train(mdiff.VP(), mdiff.MLP(d=3, width=4), mdiff.paper_points(), 2, progress=False)


def test_threads_restored(gen):
    net = mdiff.MLP(width=8, generator=gen)
    before = torch.get_num_threads()
    mdiff.train(mdiff.VE(), net, mdiff.paper_points(), 2, num_threads=1, progress=False)
    assert torch.get_num_threads() == before


def test_no_private_torch_api():
    """Training, ensembles and models use public PyTorch only (no ``torch._foreach_*`` etc.)."""
    for name in ("training.py", "ensemble.py", "models.py"):
        source = (MDIFF / name).read_text()
        assert not re.search(r"torch\._|\._foreach", source), name


def test_a_diverging_learning_rate_is_reported_naming_lr():
    net = mdiff.MLP(width=8, generator=torch.Generator().manual_seed(0))
    data = 1e3 * mdiff.paper_points(torch.float32)
    with pytest.raises(ValueError, match="lower lr"):
        mdiff.train(
            mdiff.VP(),
            net,
            data,
            400,
            lr=1e8,
            ema=None,
            progress=False,
            generator=torch.Generator().manual_seed(0),
        )


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_the_loops_adam_is_bit_identical_to_torch_adam(dtype):
    """``mdiff.training._Adam`` (the functional fused Adam, without ``Optimizer.step``'s Python)
    takes exactly the steps of ``torch.optim.Adam(fused=True)``, a gradient-free parameter
    included (both leave it alone)."""
    from mdiff.training import _Adam

    gen = torch.Generator().manual_seed(3)
    shapes = [(2, 10, 16), (2, 16), (5,), (3, 3)]
    start = [torch.randn(s, generator=gen, dtype=dtype) for s in shapes]
    ours = [p.clone().requires_grad_() for p in start]
    theirs = [p.clone().requires_grad_() for p in start]
    opt_ours, opt_theirs = _Adam(ours, 1e-2), torch.optim.Adam(theirs, lr=1e-2, fused=True)
    assert opt_ours.opt is None  # the lean path runs, not the library's class
    for step in range(40):
        grads = [torch.randn(s, generator=gen, dtype=dtype) for s in shapes]
        for params, opt in ((ours, opt_ours), (theirs, opt_theirs)):
            opt.zero_grad()
            for j, (p, g) in enumerate(zip(params, grads)):
                p.grad = None if (j == 3 and step % 4) else g.clone()
            opt.step()
        assert all(torch.equal(a, b) for a, b in zip(ours, theirs)), step
    assert not torch.equal(ours[0], start[0]) and not torch.equal(ours[3], start[3])
