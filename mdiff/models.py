"""Small networks for learned scores: a Fourier time embedding, the paper's MLP, a compact U-Net,
their scores (``net(x, t)``: ``x`` ``(n, d)``, ``t`` ``(n,)``; ``net.output`` is ``"score"`` or
``"eps"``)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from . import _checks as check

OUTPUTS = ("score", "eps")


class FourierTimeEmbedding(nn.Module):
    """Frozen Gaussian Fourier features ``[sin 2 pi W t, cos 2 pi W t]``, ``W ~ N(0, scale^2)``;
    ``W`` (``dim / 2`` entries) is a buffer, never trained. Source: Tancik et al. 2020."""

    def __init__(self, dim: int = 8, scale: float = 1.0, generator: torch.Generator | None = None):
        super().__init__()
        if check.integer(dim, "dim", 2) % 2:
            raise ValueError(f"dim must be a positive even integer, got {dim!r}")
        self.dim, scale = int(dim), check.positive(scale, "scale")
        self.register_buffer("W", scale * torch.randn(self.dim // 2, generator=generator))

    def forward(self, t: Tensor) -> Tensor:
        """Features of the times ``t`` (shape ``(n,)``); returns shape ``(n, dim)``."""
        if t.ndim != 1:
            raise ValueError(f"t must have shape (n,), got {tuple(t.shape)}")
        arg = (2 * math.pi) * t[:, None] * self.W
        return torch.cat([arg.sin(), arg.cos()], 1)


def _init_linear(layer: nn.Linear, generator: torch.Generator | None) -> None:
    """PyTorch's default ``nn.Linear`` law, ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, seeded."""
    bound = 1 / math.sqrt(layer.in_features)
    with torch.no_grad():
        nn.init.uniform_(layer.weight, -bound, bound, generator=generator)
        nn.init.uniform_(layer.bias, -bound, bound, generator=generator)


class MLP(nn.Module):
    """The paper's score network: an MLP on ``[x, emb(t)]`` (Baptista et al. 2025, E7/E8). Layers
    ``Linear(d + emb_dim, width), ReLU, depth x (Linear(width, width), ReLU), Linear(width, d)``;
    ``output="eps"`` predicts ``eps_hat = -sigma s``; initial weights from ``generator``."""

    def __init__(
        self,
        d: int = 2,
        width: int = 256,
        depth: int = 2,
        emb_dim: int = 8,
        output: str = "score",
        *,
        scale: float = 1.0,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        self.d, self.width = check.integer(d, "d"), check.integer(width, "width")
        self.depth = check.integer(depth, "depth", 0)
        self.output = check.one_of(output, "output", OUTPUTS)
        self.embed = FourierTimeEmbedding(emb_dim, scale, generator)
        sizes = [self.d + self.embed.dim] + [self.width] * (self.depth + 1) + [self.d]
        layers: list[nn.Module] = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            layer = nn.utils.skip_init(nn.Linear, n_in, n_out)  # no draw from the global RNG
            _init_linear(layer, generator)
            layers += [layer, nn.ReLU()]
        self.net = nn.Sequential(*layers[:-1])

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        """Network output (score or ``eps_hat``) at ``x`` ``(n, d)``, ``t`` ``(n,)``; ``(n, d)``."""
        if t.ndim == 0:
            t = t.expand(x.shape[0])
        return self.net(torch.cat([x, self.embed(t)], -1))

    def extra_repr(self) -> str:
        return f"output={self.output!r}"


def _conv(c_in: int, c_out: int, k: int, generator: torch.Generator | None) -> nn.Conv2d:
    """A ``k x k`` convolution, same padding; the default law ``U(+-1/sqrt(fan_in))``, seeded."""
    conv = nn.utils.skip_init(nn.Conv2d, c_in, c_out, k, padding=k // 2)  # no global RNG draw
    bound = 1 / math.sqrt(c_in * k * k)
    with torch.no_grad():
        nn.init.uniform_(conv.weight, -bound, bound, generator=generator)
        nn.init.uniform_(conv.bias, -bound, bound, generator=generator)
    return conv


class _Block(nn.Module):
    """Residual block ``h -> skip(h) + conv(act(norm(conv(act(norm h)) + lin(emb))))``."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, generator):
        super().__init__()
        self.norm1, self.norm2 = nn.GroupNorm(4, c_in), nn.GroupNorm(4, c_out)
        self.conv1, self.conv2 = _conv(c_in, c_out, 3, generator), _conv(c_out, c_out, 3, generator)
        self.emb = nn.utils.skip_init(nn.Linear, emb_dim, c_out)
        _init_linear(self.emb, generator)
        self.skip = _conv(c_in, c_out, 1, generator) if c_in != c_out else nn.Identity()

    def forward(self, h: Tensor, e: Tensor) -> Tensor:
        y = self.conv1(nn.functional.silu(self.norm1(h))) + self.emb(e)[:, :, None, None]
        return self.skip(h) + self.conv2(nn.functional.silu(self.norm2(y)))  # (n, c_out, s, s)


class UNet(nn.Module):
    """A compact U-Net on flattened one-channel images (Ronneberger et al. 2015; the DDPM and EDM
    networks are its full-size form, Ho et al. 2020, Karras et al. 2022). ``x`` ``(n, side^2)`` is
    viewed as ``(n, 1, side, side)``; ``conv_in``, then one residual block per resolution
    ``side, side/2, ...`` with ``channels[i]`` channels (2x2 average pooling between), a middle
    block, and on the way up (nearest 2x upsampling) one block per resolution on ``[h, skip]``;
    GroupNorm(4), SiLU, the Fourier embedding of ``t`` added per block; ``output="eps"`` predicts
    ``eps_hat = -sigma s``. Defaults (side 16, channels (16, 32)): 49,985 parameters."""

    def __init__(
        self,
        side: int = 16,
        channels: tuple = (16, 32),
        emb_dim: int = 16,
        output: str = "eps",
        *,
        scale: float = 1.0,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        self.side, self.channels = check.integer(side, "side"), tuple(channels)
        if not self.channels or any(int(c) != c or c < 4 or c % 4 for c in self.channels):
            raise ValueError(f"channels must be positive multiples of 4, got {channels!r}")
        if side % 2 ** (len(self.channels) - 1):
            raise ValueError(
                f"side must be divisible by {2 ** (len(self.channels) - 1)}, got {side}"
            )
        self.d, self.output = self.side**2, check.one_of(output, "output", OUTPUTS)
        self.embed = FourierTimeEmbedding(emb_dim, scale, generator)
        c, e = self.channels, self.embed.dim
        self.conv_in = _conv(1, c[0], 3, generator)
        self.down = nn.ModuleList(_Block(a, b, e, generator) for a, b in zip(c[:1] + c, c))
        self.mid = _Block(c[-1], c[-1], e, generator)
        self.up = nn.ModuleList(
            _Block(c[i] + c[i + 1], c[i], e, generator) for i in range(len(c) - 1)
        )
        self.norm_out, self.conv_out = nn.GroupNorm(4, c[0]), _conv(c[0], 1, 3, generator)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        """Network output (score or ``eps_hat``) at ``x`` ``(n, d)``, ``t`` ``(n,)``; ``(n, d)``."""
        n = x.shape[0]
        e = self.embed(t.expand(n) if t.ndim == 0 else t)  # (n, emb_dim)
        h, skips = self.conv_in(x.reshape(n, 1, self.side, self.side)), []
        for i, block in enumerate(self.down):
            h = block(nn.functional.avg_pool2d(h, 2) if i else h, e)
            skips.append(h)
        h = self.mid(h, e)
        for block, skip in zip(reversed(self.up), reversed(skips[:-1])):
            h = block(torch.cat([nn.functional.interpolate(h, scale_factor=2), skip], 1), e)
        return self.conv_out(nn.functional.silu(self.norm_out(h))).reshape(n, self.d)

    def extra_repr(self) -> str:
        return f"side={self.side}, channels={self.channels}, output={self.output!r}"


def output_of(net, output: str | None = None) -> str:
    """``output`` if given, else ``net.output`` (``"score"`` for a plain callable); checked."""
    if output is None:
        output = getattr(net, "output", "score")
    return check.one_of(output, "output", OUTPUTS)


def param_dtype(net: nn.Module) -> torch.dtype:
    """The dtype of ``net``'s first parameter (the default dtype if it has none)."""
    p = next(iter(net.parameters()), None)
    return p.dtype if p is not None else torch.get_default_dtype()


def score_from_model(
    schedule, net: nn.Module, output: str | None = None, *, grad: bool = False
) -> check.Score:
    """The score of a network: ``s = net(x, t)``, or ``s = -eps_hat / sigma(t)`` for ``"eps"``.

    ``output`` defaults to ``net.output``; the network runs in its dtype (no gradients unless
    ``grad=True``), the score in ``x``'s; an ``eps`` network has no score at ``t = 0``.
    Source: Baptista et al. 2025, Sec. 4.3.

    Returns:
        A score ``score(x, t)`` with ``x`` of shape ``(n, d)`` and ``t`` a float or ``(n,)``.
    """
    output = output_of(net, output)
    d = getattr(net, "d", None)

    def score(x: Tensor, t) -> Tensor:
        if d is not None:
            check.points(x, d)
        tt = check.time_column(schedule, x, t)[:, 0]  # (n,)
        dtype = param_dtype(net)
        with torch.set_grad_enabled(grad):
            out = net(x.to(dtype), tt.to(dtype)).to(x.dtype)  # (n, d)
        return -out / schedule.sigma(tt)[:, None] if output == "eps" else out

    return score
