"""K equal MLPs trained as one: an :class:`~mdiff.models.MLP` whose layers hold K each (tensors
stacked on a leading model axis, one ``torch.baddbmm`` per layer), on :func:`mdiff.train`'s loop
and loss, so model ``k`` computes what network ``k`` would (to rounding)."""

from __future__ import annotations

import copy
import math
from typing import Sequence

import torch
from torch import Tensor, nn

from . import _checks as check
from .models import MLP, FourierTimeEmbedding, param_dtype
from .training import T_EPS, TrainResult, noise, optimize, per_sample


class _Embeddings(nn.Module):
    """K :class:`~mdiff.models.FourierTimeEmbedding` as one, for ``t`` of shape ``(K, n)``."""

    def __init__(self, embeds: Sequence[FourierTimeEmbedding]):
        super().__init__()
        self.register_buffer("W", torch.stack([e.W for e in embeds]))  # (K, dim/2)
        self.register_buffer("freq", self.W[:, None] * (2 * math.pi), persistent=False)

    def forward(self, t: Tensor) -> Tensor:
        arg = t[..., None] * self.freq  # (K, n, dim/2)
        return torch.cat([arg.sin(), arg.cos()], -1)


class _Linears(nn.Module):
    """K ``nn.Linear`` as one ``h_k W_k^T + b_k``: ``weight_t = W^T`` ``(K, in, out)``, ``bias``."""

    def __init__(self, layers: Sequence[nn.Linear]):
        super().__init__()
        self.weight_t = nn.Parameter(torch.stack([m.weight.detach().T for m in layers]))
        self.bias = nn.Parameter(torch.stack([m.bias.detach() for m in layers]))

    def forward(self, h: Tensor) -> Tensor:
        return torch.baddbmm(self.bias.unsqueeze(1), h, self.weight_t)  # (K, n, out)


def stack(nets: Sequence[MLP]) -> MLP:
    """K equal MLPs as one (tensors stacked), called with ``x`` ``(K, n, d)``, ``t`` ``(K, n)``."""
    if not nets or not all(isinstance(n, MLP) for n in nets):
        raise ValueError("nets must be a non-empty sequence of mdiff.MLP networks")
    shapes = {tuple((p.shape, p.dtype, p.device) for p in n.state_dict().values()) for n in nets}
    if len(shapes) != 1:
        raise ValueError("nets must share one architecture (d, width, depth, emb_dim) and dtype")
    model = copy.deepcopy(nets[0])
    for j, m in enumerate(model.net):
        if isinstance(m, nn.Linear):
            model.net[j] = _Linears([n.net[j] for n in nets])
    model.embed = _Embeddings([n.embed for n in nets])
    return model


def _part(state: dict, k: int) -> dict:
    """Network ``k``'s state dict, from that of a stack (``weight_t`` transposed back)."""
    return {
        key.removesuffix("_t"): (v.mT if key.endswith("_t") else v)[k].contiguous().clone()
        for key, v in state.items()
    }


def _per_model(nets: Sequence[MLP], c, like: Tensor) -> tuple:
    """Penalties ``c`` (0.0 if all 0) and the eps-output mask (bool if all agree), ``(K, 1, 1)``."""
    cs = [c] * len(nets) if isinstance(c, (int, float)) else list(c)
    if len(cs) != len(nets):
        raise ValueError(f"c must be a float or a sequence of {len(nets)} values, got {len(cs)}")
    cs = [check.positive(v, "c", zero=True) for v in cs]
    c = torch.tensor(cs, dtype=like.dtype, device=like.device)[:, None, None] if any(cs) else 0.0
    eps = [n.output == "eps" for n in nets]
    eps = eps[0] if len(set(eps)) == 1 else torch.tensor(eps, device=like.device)[:, None, None]
    return c, eps


def _result(run: TrainResult, k: int, net: MLP) -> TrainResult:
    """Model ``k`` of a stacked run, its final weights loaded into ``net``."""
    net.load_state_dict(_part(run.net.state_dict(), k))
    ema = None
    if run.ema is not None:
        ema = copy.deepcopy(net).requires_grad_(False)
        ema.load_state_dict(_part(run.ema.state_dict(), k))
    checkpoints = {step: _part(state, k) for step, state in run.checkpoints.items()}
    return TrainResult(net, ema, run.losses[:, k].clone(), checkpoints, run.seconds)


def train_many(
    schedule,
    nets: Sequence[MLP],
    data: Tensor | Sequence[Tensor],
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
    """Train K MLPs of one architecture at once (in place), each as :func:`mdiff.train` would.

    Each model draws its own ``t``, ``z`` (and batch); ``output`` and ``c`` (a float or one per
    model) may differ. With one network the result equals :func:`mdiff.train`'s to rounding.
    ``data``: one training set ``(N, d)`` for all, or a sequence of K sets, model ``k`` trained
    on ``data[k]`` (sets of different sizes need ``batch``; see :func:`noise_sets`).

    Returns:
        A list of K :class:`~mdiff.training.TrainResult`, one per network.
    """
    model, K = stack(nets), len(nets)
    c, eps = _per_model(nets, c, model.net[0].bias)
    if isinstance(data, Tensor):
        draw = noise(schedule, model, data, (K,), batch, t_eps, generator)
    else:  # one training set per model
        draw = noise_sets(schedule, model, data, K, batch, t_eps, generator)
    run = optimize(
        lambda: per_sample(schedule, model, *draw(), c, eps).mean(-1),  # (K,)
        model,
        steps,
        lr=lr,
        ema=ema,
        ema_warmup=ema_warmup,
        checkpoint_every=checkpoint_every,
        progress=progress,
        desc=f"DSM training ({K} models)",
        num_threads=num_threads,
    )
    return [_result(run, k, net) for k, net in enumerate(nets)]


def noise_sets(schedule, net: MLP, datasets, K: int, batch, t_eps, generator):
    """``draw() -> (x0, t, z)`` of K models, model ``k``'s points from its own set ``datasets[k]``.

    Full batch (``batch=None``, all sets of one size ``N``): ``x0`` is the sets stacked,
    ``(K, N, d)``. With ``batch``: each model draws ``batch`` indices with replacement from its
    own set, ``floor(u N_k)`` with ``u ~ U(0, 1)`` in float64 (so sets may differ in size), then
    ``t ~ U(t_eps, T)`` and ``z ~ N(0, I)`` as :func:`mdiff.training.noise` does.
    """
    if isinstance(datasets, (str, bytes)) or not hasattr(datasets, "__len__"):
        raise ValueError("data must be a tensor (N, d) or a sequence of K tensors (N_k, d)")
    if len(datasets) != K:
        raise ValueError(f"data must hold one training set per network ({K}), got {len(datasets)}")
    dtype = param_dtype(net)
    sets = [check.data(y, f"data[{k}]").to(dtype) for k, y in enumerate(datasets)]  # (N_k, d)
    for k, y in enumerate(sets):
        check.points(y, net.d, f"data[{k}]")
    batch = check.integer(batch, "batch", optional=True)
    sizes = [len(y) for y in sets]
    if batch is None and len(set(sizes)) != 1:
        raise ValueError(f"training sets of different sizes {sizes} need a batch size (batch=)")
    lo = check.in_range(t_eps, "t_eps", 0.0, float(schedule.T))
    width, n = float(schedule.T) - lo, max(sizes)
    padded = torch.zeros(K, n, net.d, dtype=dtype, device=sets[0].device)
    for k, y in enumerate(sets):
        padded[k, : len(y)] = y
    shape = (K, n if batch is None else batch)
    count = torch.tensor(sizes, dtype=torch.float64)[:, None]  # (K, 1)
    rows = torch.arange(K)[:, None]  # (K, 1)
    kw = {"dtype": dtype, "device": padded.device, "generator": generator}

    def draw() -> tuple[Tensor, Tensor, Tensor]:
        x0 = padded  # (K, N, d), or a batch per model (K, batch, d)
        if batch is not None:
            u = torch.rand(shape, dtype=torch.float64, generator=generator)
            idx = (u * count).long().minimum(count.long() - 1)  # (K, batch), below N_k
            x0 = padded[rows, idx]
        t = torch.rand(shape, **kw).mul_(width).add_(lo)  # (K, n)
        return x0, t, torch.randn(*shape, net.d, **kw)  # z: (K, n, d)

    return draw


def pad(net: MLP, width: int) -> MLP:
    """``net`` inside a wider MLP: its weights in the top-left blocks, zeros elsewhere.

    A padded hidden unit has zero input weights and bias, so it outputs ReLU(0) = 0 and its
    outgoing weights get zero gradient: trained, the wide network stays ``net`` (to rounding),
    so narrower networks can share one :func:`train_many` stack with wider ones.

    Returns:
        A new :class:`~mdiff.models.MLP` of width ``width`` (``net`` is not changed).
    """
    if check.integer(width, "width") < net.width:
        raise ValueError(f"width must be at least the network's width {net.width}, got {width}")
    big = copy.deepcopy(net)
    big.width = width
    sizes = [net.d + net.embed.dim] + [width] * (net.depth + 1) + [net.d]
    linears = [j for j, m in enumerate(net.net) if isinstance(m, nn.Linear)]
    for j, n_in, n_out in zip(linears, sizes[:-1], sizes[1:]):
        small = net.net[j]
        kw = {"dtype": small.weight.dtype, "device": small.weight.device}
        layer = nn.utils.skip_init(nn.Linear, n_in, n_out, **kw)  # no global RNG draw
        with torch.no_grad():
            layer.weight.zero_()
            layer.bias.zero_()
            layer.weight[: small.out_features, : small.in_features] = small.weight
            layer.bias[: small.out_features] = small.bias
        big.net[j] = layer
    return big


def unpad(state: dict, net: MLP) -> MLP:
    """A copy of ``net`` with the weights of the top-left blocks of a padded ``state`` dict."""
    shapes = {k: v.shape for k, v in net.state_dict().items()}
    if set(shapes) != set(state):
        raise ValueError("state must be the state dict of a padded copy of net")
    out = copy.deepcopy(net)
    out.load_state_dict({k: v[tuple(slice(0, n) for n in shapes[k])] for k, v in state.items()})
    return out
