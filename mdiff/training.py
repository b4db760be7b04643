"""Denoising score matching: :func:`dsm_loss` and :func:`optimize`, the one training loop of
:func:`train` and :func:`mdiff.train_many` (Vincent 2011; Baptista et al. 2025, Sec. 2, 4)."""

from __future__ import annotations

import contextlib
import copy
import time
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn
from torch.optim.adam import adam as _adam_step

from . import _checks as check
from .models import output_of, param_dtype

#: Default lower end of the training times, ``t ~ U(t_eps, T)`` (keeps ``sigma > 0``).
T_EPS = 1e-5


def _select(eps, if_eps: Callable[[], Tensor], if_score: Callable[[], Tensor]) -> Tensor:
    """``if_eps()`` for ``eps_hat`` outputs, else ``if_score()``; ``eps``: a bool or a mask."""
    if isinstance(eps, Tensor):
        return torch.where(eps, if_eps(), if_score())
    return if_eps() if eps else if_score()


def per_sample(schedule, f, x0: Tensor, t: Tensor, z: Tensor, c, eps) -> Tensor:
    """Per-sample DSM loss ``(..., n)`` of ``f``; ``c``, ``eps``: scalars or ``(K, 1, 1)``."""
    m, sig = schedule.m(t)[..., None], schedule.sigma(t)[..., None]  # (..., n, 1)
    out = f(m * x0 + sig * z, t)  # (..., n, d)
    r = _select(eps, lambda: z - out, lambda: torch.addcmul(z, sig, out))  # (..., n, d)
    loss = (r * r).sum(-1)  # (..., n)
    if isinstance(c, Tensor) or c:
        pen = (out * out).sum(-1, keepdim=True)  # (..., n, 1); |s|^2 = |eps_hat|^2 / sigma^2
        loss = loss + (c * _select(eps, lambda: pen / sig**2, lambda: pen))[..., 0]
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
    """Denoising score-matching loss, ``lambda = sigma^2`` (Vincent 2011; Baptista et al. 2025).

    Per sample, ``x_t = m x_0 + sigma z``: ``|sigma s(x_t, t) + z|^2 + c |s|^2``
    (``output="score"``) or ``|eps_hat(x_t, t) - z|^2 + c |eps_hat|^2 / sigma^2`` (``"eps"``);
    ``net_or_score``: a network (``output`` defaults to its ``.output``) or a score; ``data``
    (``x_0``) and ``z`` ``(n, d)``, ``t`` a float or ``(n,)``.

    Returns:
        Scalar mean (``reduction="mean"``) or per-sample values of shape ``(n,)`` (``"none"``).
    """
    check.one_of(reduction, "reduction", ("mean", "none"))
    c = check.positive(c, "c", zero=True)
    eps = output_of(net_or_score, output) == "eps"
    data = check.data(data)
    if not isinstance(z, Tensor) or z.shape != data.shape:
        raise ValueError(f"z must have shape {tuple(data.shape)}, got {getattr(z, 'shape', z)}")
    if isinstance(net_or_score, nn.Module):
        data = data.to(param_dtype(net_or_score))
    tt = check.time_column(schedule, data, t)[:, 0]  # (n,)
    loss = per_sample(schedule, net_or_score, data, tt, z.to(data), c, eps)  # (n,)
    return loss.mean() if reduction == "mean" else loss


def ema_decay(step: int, ema: float | None, warmup: bool = True) -> float | None:
    """Decay of the EMA update after optimizer step ``step`` (1, 2, ...); None: no update.
    ``warmup=False``: ``decay = ema`` at every step. ``warmup=True`` (``ema_pytorch``'s defaults,
    as in the authors' runs): copy the net for the first 100 steps, then every 10th step
    ``decay = min(ema, 1 - (1 + k)^(-2/3))``, ``k = step - 101``, so ``ema = 0.9999`` only after
    1e6 steps."""
    if ema is None or not warmup:
        return ema
    if (step - 1) % 10:
        return None
    k = step - 101
    return 0.0 if k <= 0 else min(ema, 1 - (1 + k) ** (-2 / 3))


@dataclass
class TrainResult:
    """Result of :func:`train`: the trained and EMA networks, the losses, the checkpoints.
    ``losses`` ``(steps,)``: each step's mean batch loss; ``checkpoints``: ``{step: state dict}``
    of the EMA network (the raw one if ``ema=None``); ``seconds``: the (joint) loop's wall time."""

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


class _Adam:
    """Adam (Kingma & Ba 2015) at PyTorch's defaults through its public functional form
    ``torch.optim.adam.adam(..., fused=True)``: the arithmetic of ``torch.optim.Adam(fused=True)``
    without the per-step Python of ``Optimizer.step`` (about a quarter of a width-256 step).
    Bit-identical to ``torch.optim.Adam(fused=True)`` (tested); with mixed devices or dtypes, or
    where the fused kernel is missing, ``torch.optim.Adam`` itself runs."""

    def __init__(self, params: list[Tensor], lr: float):
        self.params, self.lr, self.opt = params, lr, None
        kinds = {(p.device.type, p.dtype) for p in params}
        if len(kinds) != 1 or kinds - {("cpu", torch.float32), ("cpu", torch.float64)}:
            try:  # the library's optimizer
                self.opt = torch.optim.Adam(params, lr=lr, fused=True)
            except (RuntimeError, ValueError):
                self.opt = torch.optim.Adam(params, lr=lr, foreach=True)
            return
        step_dtype = torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
        self.m = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in params]
        self.v = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in params]
        self.steps = [torch.zeros((), dtype=step_dtype) for _ in params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g^2``, ``p -= lr m_hat / (sqrt(v_hat)
        + eps)`` with bias corrections, ``b1 = 0.9``, ``b2 = 0.999``, ``eps = 1e-8``; as
        ``torch.optim.Adam``, a parameter without a gradient is left alone."""
        if self.opt is not None:
            return self.opt.step()
        have = [i for i, p in enumerate(self.params) if p.grad is not None]
        if have:
            params, m, v, steps = ([x[i] for i in have] for x in (self.params, self.m, self.v,
                                                                  self.steps))  # fmt: skip
            grads = [p.grad for p in params]
            kw = {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0}
            _adam_step(params, grads, m, v, [], steps, fused=True, amsgrad=False, lr=self.lr,
                       maximize=False, **kw)  # fmt: skip
        return None


@contextlib.contextmanager
def _threads(n: int | None):
    """Use ``n`` torch threads inside the block (restored afterwards); None: leave as is."""
    old, n = torch.get_num_threads(), check.integer(n, "num_threads", optional=True)
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n is not None:
            torch.set_num_threads(old)


def _progress(steps: int, progress: bool, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=steps, disable=not progress, desc=desc, mininterval=0.5, leave=True)


def _tick(bar, i: int, losses: Tensor) -> None:
    """Advance the bar to step ``i``, showing the mean loss since the last update."""
    done = i - bar.n
    bar.set_postfix(loss=f"{float(losses[i - done : i].mean()):.4f}", refresh=False)
    bar.update(done)


def _ema_copy(net: nn.Module, ema: float | None) -> tuple[nn.Module | None, list[Tensor]]:
    """A frozen copy of ``net`` and its parameters matching the trained ones (None, [])."""
    if ema is None:
        return None, []
    check.in_range(ema, "ema", 0.0, 1.0)
    copied = copy.deepcopy(net).requires_grad_(False)
    pairs = zip(net.parameters(), copied.parameters())
    return copied, [q for p, q in pairs if p.requires_grad]


def optimize(
    loss_fn: Callable[[], Tensor],
    net: nn.Module,
    steps: int,
    *,
    lr: float,
    ema: float | None,
    ema_warmup: bool = True,
    checkpoint_every: int | None = None,
    progress: bool = True,
    desc: str = "DSM training",
    num_threads: int | None = 1,
) -> TrainResult:
    """The training loop: ``steps`` Adam steps on ``loss_fn().sum()`` and an EMA copy of ``net``.
    ``loss_fn()`` draws a batch and returns each model's loss, ``()`` or ``(K,)``; after step ``i``
    the copy moves to ``q + (1 - decay) (p - q)``, ``decay = ema_decay(i, ema, ema_warmup)``; its
    state dict is kept every ``checkpoint_every`` steps."""
    check.integer(steps, "steps")
    checkpoint_every = check.integer(checkpoint_every, "checkpoint_every", optional=True)
    params = [p for p in net.parameters() if p.requires_grad]
    opt, (ema_net, ema_params) = _Adam(params, check.positive(lr, "lr")), _ema_copy(net, ema)
    kept = net if ema_net is None else ema_net
    losses, checkpoints, every = None, {}, max(1, steps // 200)
    start = time.perf_counter()
    with _threads(num_threads), _progress(steps, progress, desc) as bar:
        for i in range(1, steps + 1):
            loss = loss_fn()  # () or (K,)
            opt.zero_grad()
            (loss.sum() if loss.ndim else loss).backward()  # the models are independent
            opt.step()
            if losses is None:
                losses = loss.new_empty((steps, *loss.shape))
            losses[i - 1] = loss.detach()
            if (decay := ema_decay(i, ema, ema_warmup)) is not None:
                with torch.no_grad():
                    for q, p in zip(ema_params, params):
                        q.lerp_(p, 1.0 - decay)
            if checkpoint_every and i % checkpoint_every == 0:
                checkpoints[i] = {k: v.detach().clone() for k, v in kept.state_dict().items()}
            if i % every == 0 or i == steps:
                _diverged(losses[max(0, i - every) : i], i, lr)
                if progress:
                    _tick(bar, i, losses)
    return TrainResult(net, ema_net, losses, checkpoints, time.perf_counter() - start)


def _diverged(recent: Tensor, step: int, lr: float) -> None:
    """A non-finite loss means the optimisation diverged: say so, naming ``lr``."""
    if not bool(torch.isfinite(recent).all()):
        raise ValueError(
            f"training diverged: the loss is not finite by step {step}; lower lr (got lr={lr!r})"
        )


def noise(schedule, net: nn.Module, data, lead: tuple, batch, t_eps, generator) -> Callable:
    """``draw() -> (x0, t, z)`` per model (``lead``) and point of a batch (or all of ``data``)."""
    data = check.data(data).to(param_dtype(net))  # (N, d)
    if getattr(net, "d", None) is not None:
        check.points(data, net.d, "data")
    batch = check.integer(batch, "batch", optional=True)
    lo = check.in_range(t_eps, "t_eps", 0.0, float(schedule.T))
    width, shape = float(schedule.T) - lo, (*lead, len(data) if batch is None else batch)
    kw = {"dtype": data.dtype, "device": data.device, "generator": generator}

    def draw() -> tuple[Tensor, Tensor, Tensor]:
        x0 = data  # (N, d), or a batch (*lead, n, d)
        if batch is not None:
            x0 = data[torch.randint(len(data), shape, generator=generator, device=data.device)]
        t = torch.rand(shape, **kw).mul_(width).add_(lo)  # (*lead, n)
        return x0, t, torch.randn(*shape, data.shape[1], **kw)  # z: (*lead, n, d)

    return draw


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

    Each step draws ``t ~ U(t_eps, T)``, ``z ~ N(0, I)`` for each point of the batch (all of
    ``data``, or ``batch`` indices with replacement) and takes one Adam step on the mean
    :func:`dsm_loss` (``output = net.output``, penalty ``c``); the EMA follows :func:`ema_decay`.

    Returns:
        :class:`TrainResult` (checkpoints every ``checkpoint_every`` steps; ``ema=None``: none).
    """
    c, eps = check.positive(c, "c", zero=True), output_of(net) == "eps"
    draw = noise(schedule, net, data, (), batch, t_eps, generator)
    return optimize(
        lambda: per_sample(schedule, net, *draw(), c, eps).mean(-1),
        net,
        steps,
        lr=lr,
        ema=ema,
        ema_warmup=ema_warmup,
        checkpoint_every=checkpoint_every,
        progress=progress,
        num_threads=num_threads,
    )
