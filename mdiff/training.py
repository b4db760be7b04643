"""Denoising score matching (DSM): the loss, a lean training loop, and batched training.

With ``x_t = m(t) x_0 + sigma(t) z`` and the weighting ``lambda(t) = sigma(t)^2``, the
per-sample loss is ``|sigma s(x_t, t) + z|^2`` for a network that outputs the score ``s``
and ``|eps_hat(x_t, t) - z|^2`` for one that outputs ``eps_hat`` (its score is
``-eps_hat / sigma``, so both are the same functional of the score). An optional Tikhonov
penalty adds ``c |s|^2``. Source: Vincent 2011; Baptista et al. 2025, Sec. 2 and 4.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor, nn

from .models import MLP, OUTPUTS
from .scores import Score, check_data, check_x, time_column

#: Default lower end of the training times, ``t ~ U(t_eps, T)`` (keeps ``sigma > 0``).
T_EPS = 1e-5


def _output_of(net_or_score, output: str | None) -> str:
    output = output if output is not None else getattr(net_or_score, "output", "score")
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
    return output


def _param_dtype(net: nn.Module) -> torch.dtype:
    p = next(iter(net.parameters()), None)
    return p.dtype if p is not None else torch.get_default_dtype()


def score_from_model(
    schedule, net: nn.Module, output: str | None = None, *, grad: bool = False
) -> Score:
    """The score of a network: ``s = net(x, t)``, or ``s = -eps_hat / sigma(t)`` for ``"eps"``.

    ``output`` defaults to ``net.output``. The network runs in its own dtype (without
    gradients unless ``grad=True``); the score is returned in ``x``'s dtype. An ``eps``
    network has no score at ``t = 0`` (``sigma = 0``). Source: Baptista et al. 2025, Sec. 4.3.

    Returns:
        A score ``score(x, t)`` with ``x`` of shape ``(n, d)`` and ``t`` a float or ``(n,)``.
    """
    output = _output_of(net, output)
    d = getattr(net, "d", None)

    def score(x: Tensor, t) -> Tensor:
        if d is not None:
            check_x(x, d)
        tt = time_column(schedule, x, t)[:, 0]
        dtype = _param_dtype(net)
        with torch.set_grad_enabled(grad):
            out = net(x.to(dtype), tt.to(dtype)).to(x.dtype)
        return -out / schedule.sigma(tt)[:, None] if output == "eps" else out

    return score


def _per_sample(schedule, f, x0: Tensor, t: Tensor, z: Tensor, c: float, eps: bool) -> Tensor:
    """Per-sample DSM loss (shape ``(n,)``) of ``f`` at ``x_t = m x0 + sigma z``."""
    m, sig = schedule.m(t)[:, None], schedule.sigma(t)[:, None]
    out = f(m * x0 + sig * z, t)
    r = z - out if eps else torch.addcmul(z, sig, out)
    loss = (r * r).sum(1)
    if c:
        pen = (out * out).sum(1)
        loss = loss + c * (pen / (sig[:, 0] ** 2) if eps else pen)
    return loss


def dsm_loss(
    schedule,
    net_or_score,
    data: Tensor,
    t,
    z: Tensor,
    c: float = 0.0,
    output: str | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Denoising score-matching loss with ``lambda = sigma^2`` at given times and noises.

    Per sample, with ``x_t = m(t) x_0 + sigma(t) z``: ``|sigma s(x_t, t) + z|^2 + c |s|^2``
    (``output="score"``) or ``|eps_hat(x_t, t) - z|^2 + c |eps_hat|^2 / sigma^2`` (``"eps"``).
    ``net_or_score`` is a network (``output`` defaults to its ``.output``) or any score
    callable. Source: Vincent 2011; Baptista et al. 2025 (weighting and Tikhonov penalty).

    Args:
        data: clean points ``x_0``, shape ``(n, d)``; ``t``: float or shape ``(n,)``;
            ``z``: standard normal noises, shape ``(n, d)``.

    Returns:
        Scalar mean (``reduction="mean"``) or per-sample values of shape ``(n,)`` (``"none"``).
    """
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    if not (math.isfinite(c) and c >= 0):
        raise ValueError(f"c must be a finite number >= 0, got {c!r}")
    output = _output_of(net_or_score, output)
    data = check_data(data)
    check_x(z, data.shape[1], "z")
    if z.shape[0] != data.shape[0]:
        raise ValueError(f"z must have shape {tuple(data.shape)}, got {tuple(z.shape)}")
    if isinstance(net_or_score, nn.Module):
        data = data.to(_param_dtype(net_or_score))
    tt = time_column(schedule, data, t)[:, 0]
    loss = _per_sample(schedule, net_or_score, data, tt, z.to(data), c, output == "eps")
    return loss.mean() if reduction == "mean" else loss


def ema_decay(step: int, ema: float | None, warmup: bool = True) -> float | None:
    """Decay of the EMA update after optimizer step ``step`` (1, 2, ...); None: no update.

    ``warmup=False``: every step, ``ema <- decay ema + (1 - decay) net`` with ``decay = ema``.
    ``warmup=True`` (the defaults of ``ema_pytorch``, used in the authors' runs): copy the
    net for the first 100 steps, then update every 10th step with
    ``decay = min(ema, 1 - (1 + k)^(-2/3))``, ``k = step - 101``; so the average covers
    roughly the last ``10 k^(2/3)`` steps, and ``ema = 0.9999`` is reached only after 1e6 steps.
    """
    if ema is None:
        return None
    if not warmup:
        return ema
    if (step - 1) % 10:
        return None
    k = step - 101
    return 0.0 if k <= 0 else min(ema, 1 - (1 + k) ** (-2 / 3))


@dataclass
class TrainResult:
    """Result of :func:`train`: the trained and EMA networks, the loss, the checkpoints.

    ``losses`` has shape ``(steps,)`` (the mean loss of each step's batch); ``checkpoints``
    maps a step to a state dict of the EMA network (of the raw one if ``ema=None``) after
    that step, kept in memory; ``seconds`` is the wall time of the loop (for
    :func:`train_many`, the time of the joint loop, shared by all its models).
    """

    net: nn.Module
    ema: nn.Module | None
    losses: Tensor
    checkpoints: dict
    seconds: float

    @property
    def steps_per_second(self) -> float:
        return len(self.losses) / max(self.seconds, 1e-12)

    def checkpoint_net(self, step: int) -> nn.Module:
        """A copy of the network with the weights stored at checkpoint ``step``."""
        if step not in self.checkpoints:
            raise ValueError(f"step must be one of {sorted(self.checkpoints)}, got {step!r}")
        net = copy.deepcopy(self.net)
        net.load_state_dict(self.checkpoints[step])
        return net


def _check_config(steps, lr, batch, ema, c, t_eps, checkpoint_every, T) -> None:
    if int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    if batch is not None and (int(batch) != batch or batch < 1):
        raise ValueError(f"batch must be None (full batch) or a positive integer, got {batch!r}")
    if ema is not None and not 0 <= ema < 1:
        raise ValueError(f"ema must be None or lie in [0, 1), got {ema!r}")
    for value in c:
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"c must be a finite number >= 0, got {value!r}")
    if not 0 <= t_eps < T:
        raise ValueError(f"t_eps must lie in [0, T={T}), got {t_eps!r}")
    if checkpoint_every is not None and (
        int(checkpoint_every) != checkpoint_every or checkpoint_every < 1
    ):
        raise ValueError(
            f"checkpoint_every must be None or a positive integer, got {checkpoint_every!r}"
        )


def _adam(params: list[Tensor], lr: float) -> torch.optim.Adam:
    """Adam with one fused kernel per step where available (else the foreach form)."""
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, ValueError):
        return torch.optim.Adam(params, lr=lr, foreach=True)


class _Noise:
    """Draws ``(x0, t, z)`` for one step: ``t ~ U(t_eps, T)`` and ``z ~ N(0, I)`` per point."""

    def __init__(self, data: Tensor, lead: tuple, batch, t_eps: float, T: float, generator):
        self.data, self.lead, self.batch, self.g = data, lead, batch, generator
        self.lo, self.width = t_eps, T - t_eps
        self.n = data.shape[0] if batch is None else int(batch)
        self.kw = {"dtype": data.dtype, "device": data.device, "generator": generator}

    def __call__(self) -> tuple[Tensor, Tensor, Tensor]:
        x0 = self.data
        if self.batch is not None:
            idx = torch.randint(
                self.data.shape[0], (*self.lead, self.n), generator=self.g, device=self.data.device
            )
            x0 = self.data[idx]
        t = torch.rand(*self.lead, self.n, **self.kw).mul_(self.width).add_(self.lo)
        z = torch.randn(*self.lead, self.n, self.data.shape[1], **self.kw)
        return x0, t, z


def _snapshot(net: nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def _progress(steps: int, progress: bool, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=steps, disable=not progress, desc=desc, mininterval=0.5, leave=True)


def _tick(bar, i: int, losses: Tensor) -> None:
    """Advance the bar to step ``i``, showing the mean loss since the last update."""
    done = i - bar.n
    bar.set_postfix(loss=f"{float(losses[i - done : i].mean()):.4f}", refresh=False)
    bar.update(done)


@contextlib.contextmanager
def _threads(n: int | None):
    """Use ``n`` torch threads inside the block (restored afterwards); None: leave as is."""
    if n is None:
        yield
        return
    if int(n) != n or n < 1:
        raise ValueError(f"num_threads must be None or a positive integer, got {n!r}")
    old = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _setup(schedule, net, data, lead, generator, steps, lr, batch, ema, c, t_eps, checkpoint_every):
    """Validate the settings; the data in ``net``'s dtype, the noise drawer, the loss buffer.

    Shared by :func:`train` (``lead = ()``) and :func:`train_many` (``lead = (K,)``).
    """
    _check_config(steps, lr, batch, ema, c, t_eps, checkpoint_every, schedule.T)
    data = check_data(data).to(_param_dtype(net))
    draw = _Noise(data, lead, batch, t_eps, float(schedule.T), generator)
    return data, draw, torch.empty(steps, *lead, dtype=data.dtype)


def train(
    schedule,
    net: nn.Module,
    data: Tensor,
    steps: int,
    *,
    lr: float = 1e-3,
    batch: int | None = None,
    ema: float | None = 0.9999,
    ema_warmup: bool = True,
    c: float = 0.0,
    t_eps: float = T_EPS,
    checkpoint_every: int | None = None,
    generator: torch.Generator | None = None,
    progress: bool = True,
    num_threads: int | None = 1,
) -> TrainResult:
    """Train ``net`` (in place) by DSM with Adam: the authors' recipe (Baptista et al. 2025, E7).

    Each step draws, for every point of the batch (all of ``data`` if ``batch=None``; else
    ``batch`` indices with replacement), one ``t ~ U(t_eps, T)`` and one ``z ~ N(0, I)``,
    and takes one Adam step on the mean of :func:`dsm_loss` (``output = net.output``,
    penalty ``c``). The EMA copy follows :func:`ema_decay`. Randomness comes only from
    ``generator`` (or the global seed). ``t_eps = 1e-5`` keeps ``sigma(t) > 0`` (needed for
    the ``eps`` score and penalty); the authors draw ``t ~ U(0, 1)``. Training uses
    ``num_threads`` torch threads (restored afterwards): one thread is fastest for small
    batches, and much faster than several when other processes share the cores.

    Returns:
        :class:`TrainResult` with ``net``, ``ema`` (None if ``ema=None``), ``losses``
        ``(steps,)`` and ``checkpoints`` ``{step: state_dict}`` every ``checkpoint_every`` steps.
    """
    _, draw, losses = _setup(
        schedule, net, data, (), generator, steps, lr, batch, ema, [c], t_eps, checkpoint_every
    )
    eps = _output_of(net, None) == "eps"
    params = [p for p in net.parameters() if p.requires_grad]
    opt = _adam(params, lr)
    ema_net = None if ema is None else copy.deepcopy(net).requires_grad_(False)
    ema_params = (
        []
        if ema_net is None
        else [q for p, q in zip(net.parameters(), ema_net.parameters()) if p.requires_grad]
    )
    checkpoints = {}
    every = max(1, steps // 200)
    start = time.perf_counter()
    with _threads(num_threads), _progress(steps, progress, "DSM training") as bar:
        for i in range(1, steps + 1):
            x0, t, z = draw()
            loss = _per_sample(schedule, net, x0, t, z, c, eps).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses[i - 1] = loss.detach()
            decay = ema_decay(i, ema, ema_warmup)
            if decay is not None:
                with torch.no_grad():
                    torch._foreach_lerp_(ema_params, params, 1.0 - decay)
            if checkpoint_every and i % checkpoint_every == 0:
                checkpoints[i] = _snapshot(net if ema_net is None else ema_net)
            if progress and (i % every == 0 or i == steps):
                _tick(bar, i, losses)
    return TrainResult(net, ema_net, losses, checkpoints, time.perf_counter() - start)


def _linears(net: MLP) -> list[nn.Linear]:
    return [m for m in net.net if isinstance(m, nn.Linear)]


def _check_many(nets) -> None:
    if not nets or not all(isinstance(n, MLP) for n in nets):
        raise ValueError("nets must be a non-empty sequence of mdiff.MLP networks")
    shapes = {tuple((p.shape, p.dtype, p.device) for p in n.state_dict().values()) for n in nets}
    if len(shapes) != 1:
        raise ValueError("nets must share one architecture (d, width, depth, emb_dim) and dtype")


class _Stack:
    """The parameters of K equal MLPs as batched tensors: ``W_l`` ``(K, in, out)``, ``b_l``
    ``(K, 1, out)``, embedding frequencies ``(K, 1, emb_dim/2)``."""

    def __init__(self, nets: Sequence[MLP]):
        layers = [_linears(n) for n in nets]
        self.W = [
            torch.stack([ls[j].weight.detach().T for ls in layers]).contiguous()
            for j in range(len(layers[0]))
        ]
        self.b = [
            torch.stack([ls[j].bias.detach()[None] for ls in layers]) for j in range(len(layers[0]))
        ]
        self.freq = torch.stack([n.embed.W[None] for n in nets]) * (2 * math.pi)
        self.params = [p.requires_grad_() for pair in zip(self.W, self.b) for p in pair]

    def forward(self, x: Tensor, t: Tensor, params: list[Tensor]) -> Tensor:
        arg = t[..., None] * self.freq
        h = torch.cat([x, arg.sin(), arg.cos()], -1)
        last = len(params) // 2 - 1
        for j in range(last + 1):
            h = torch.baddbmm(params[2 * j + 1], h, params[2 * j])
            if j < last:
                h = h.relu_()
        return h

    def load_into(self, net: MLP, k: int, params: list[Tensor]) -> MLP:
        with torch.no_grad():
            for j, layer in enumerate(_linears(net)):
                layer.weight.copy_(params[2 * j][k].T)
                layer.bias.copy_(params[2 * j + 1][k, 0])
        return net


def train_many(
    schedule,
    nets: Sequence[MLP],
    data: Tensor,
    steps: int,
    *,
    lr: float = 1e-3,
    batch: int | None = None,
    ema: float | None = 0.9999,
    ema_warmup: bool = True,
    c: float | Sequence[float] = 0.0,
    t_eps: float = T_EPS,
    checkpoint_every: int | None = None,
    generator: torch.Generator | None = None,
    progress: bool = True,
    num_threads: int | None = 1,
) -> list[TrainResult]:
    """Train K MLPs of one architecture at once, each exactly as :func:`train` would.

    The K parameter sets are stacked and every layer is one batched matrix product, so a
    step costs one Python round trip for all models. Each model draws its own ``t`` and
    ``z`` (and batch indices); ``output`` (``"score"``/``"eps"``) and ``c`` (a float or one
    value per model) may differ between models. With one network, the random draws and
    the result equal those of :func:`train` (up to rounding).

    Returns:
        A list of K :class:`TrainResult`; the networks in ``nets`` are updated in place.
    """
    _check_many(nets)
    K = len(nets)
    cs = [float(c)] * K if isinstance(c, (int, float)) else [float(v) for v in c]
    if len(cs) != K:
        raise ValueError(f"c must be a float or a sequence of {K} values, got {len(cs)} values")
    data, draw, losses = _setup(
        schedule, nets[0], data, (K,), generator, steps, lr, batch, ema, cs, t_eps, checkpoint_every
    )
    if data.shape[1] != nets[0].d:
        raise ValueError(f"data must have shape (N, {nets[0].d}), got {tuple(data.shape)}")
    stack = _Stack(nets)
    params = stack.params
    opt = _adam(params, lr)
    ema_params = None if ema is None else [p.detach().clone() for p in params]
    is_eps = torch.tensor([n.output == "eps" for n in nets])[:, None, None]
    c_col = torch.tensor(cs, dtype=data.dtype)[:, None]
    checkpoints = [{} for _ in nets]
    every = max(1, steps // 200)
    start = time.perf_counter()
    with _threads(num_threads), _progress(steps, progress, f"DSM training ({K} models)") as bar:
        for i in range(1, steps + 1):
            x0, t, z = draw()
            m, sig = schedule.m(t)[..., None], schedule.sigma(t)[..., None]
            out = stack.forward(m * x0 + sig * z, t, params)
            r = torch.addcmul(z, torch.where(is_eps, -1.0, sig), out)
            loss = (r * r).sum(-1)
            if any(cs):
                pen = (out * out).sum(-1) * torch.where(is_eps[..., 0], sig[..., 0] ** -2, 1.0)
                loss = loss + c_col * pen
            loss = loss.mean(1)
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            opt.step()
            losses[i - 1] = loss.detach()
            decay = ema_decay(i, ema, ema_warmup)
            if decay is not None:
                with torch.no_grad():
                    torch._foreach_lerp_(ema_params, params, 1.0 - decay)
            if checkpoint_every and i % checkpoint_every == 0:
                src = params if ema_params is None else ema_params
                for k, net in enumerate(nets):
                    checkpoints[k][i] = _snapshot(stack.load_into(copy.deepcopy(net), k, src))
            if progress and (i % every == 0 or i == steps):
                _tick(bar, i, losses)
    seconds = time.perf_counter() - start
    results = []
    for k, net in enumerate(nets):
        stack.load_into(net, k, params)
        ema_net = None
        if ema_params is not None:
            ema_net = stack.load_into(copy.deepcopy(net), k, ema_params).requires_grad_(False)
        results.append(TrainResult(net, ema_net, losses[:, k].clone(), checkpoints[k], seconds))
    return results
