"""Small networks for learned scores: a Fourier time embedding and the paper's MLP.

A network is called as ``net(x, t)`` with ``x`` of shape ``(n, d)`` and ``t`` of shape
``(n,)`` (or a 0-d tensor); its attribute ``output`` says whether it predicts the score
``s`` or the noise ``eps_hat = -sigma s``. ``mdiff.score_from_model`` turns either into a score.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

OUTPUTS = ("score", "eps")


class FourierTimeEmbedding(nn.Module):
    """Frozen Gaussian Fourier features ``[sin 2 pi W t, cos 2 pi W t]``, ``W ~ N(0, scale^2)``.

    ``W`` has ``dim / 2`` entries and is a buffer (saved in the state dict, never trained).
    Source: Tancik et al. 2020 (Fourier features); Baptista et al. 2025, E7 (``dim = 8``).
    """

    def __init__(self, dim: int = 8, scale: float = 1.0, generator: torch.Generator | None = None):
        super().__init__()
        if int(dim) != dim or dim < 2 or dim % 2:
            raise ValueError(f"dim must be a positive even integer, got {dim!r}")
        if not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must be a positive finite number, got {scale!r}")
        self.dim = int(dim)
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
    """The paper's score network (E7/E8): an MLP on the input ``[x, emb(t)]``.

    Layers: ``Linear(d + emb_dim, width) -> ReLU -> depth x (Linear(width, width) -> ReLU)
    -> Linear(width, d)``, with the frozen :class:`FourierTimeEmbedding` ``emb``.
    ``output="score"`` predicts ``s(x, t)``; ``output="eps"`` predicts ``eps_hat(x, t)``,
    the "singular" parameterization whose score is ``-eps_hat / sigma(t)``.
    Initial weights follow PyTorch's default law, drawn from ``generator`` (or the global seed).
    Source: Baptista et al. 2025, E7 (width 256, depth 2, Fourier embedding of dimension 8).
    """

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
        for name, value, low in (("d", d, 1), ("width", width, 1), ("depth", depth, 0)):
            if int(value) != value or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        self.d, self.width, self.depth, self.output = int(d), int(width), int(depth), output
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
        return self.net(torch.cat([x, self.embed(t)], 1))

    def extra_repr(self) -> str:
        return f"output={self.output!r}"
