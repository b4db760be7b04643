"""Small networks for learned scores: a Fourier time embedding, the paper's MLP, their scores
(``net(x, t)``: ``x`` ``(n, d)``, ``t`` ``(n,)``; ``net.output`` is ``"score"`` or ``"eps"``)."""

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
