"""Figure 5: DSM training steps per second of the chapter-9 MLP on the paper's 20 points.

The authors' E7 setting: VP, MLP width 256, depth 2, Fourier embedding of dimension 8, Adam
lr 1e-3, full batch, EMA 0.9999, float32. ``mdiff.training.train`` against a minimal hand-written
loop (same network and loss, plain Adam, no EMA, no progress bar): the ratio is the loop's
overhead. Imports ``mdiff.models`` / ``mdiff.training`` lazily and reports a skip without them.
"""

from __future__ import annotations

import time

import torch

import mdiff

from .common import row

STEPS, QUICK_STEPS = 500, 10


def _plain_loop(schedule, net, data, steps: int) -> float:
    """Steps per second of the smallest DSM loop: ``|sigma s(m x0 + sigma z, t) + z|^2``."""
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(1)
    start = time.perf_counter()
    for _ in range(steps):
        t = torch.rand(len(data), generator=g) * (schedule.T - 1e-5) + 1e-5
        z = torch.randn(data.shape, generator=g)
        m, s = schedule.m(t)[:, None], schedule.sigma(t)[:, None]
        loss = ((s * net(m * data + s * z, t) + z) ** 2).sum(1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return steps / (time.perf_counter() - start)


def training_rows(quick: bool = False, repeat: int = 3) -> list[dict]:
    """Figure 5: ``train`` steps/s, and its ratio to the plain loop (best of ``repeat`` rounds)."""
    try:
        from mdiff.models import MLP
        from mdiff.training import train
    except ImportError as err:
        return [
            row(
                "5 training steps/s",
                "chapter-9 MLP, 20 points",
                "skipped",
                f"mdiff.models not available ({err})",
            )
        ]
    steps = QUICK_STEPS if quick else STEPS
    schedule, data = mdiff.VP(), mdiff.paper_points(torch.float32)

    def net():
        return MLP(2, 256, 2, 8, generator=torch.Generator().manual_seed(0))

    def ours():
        gen = torch.Generator().manual_seed(1)
        return train(schedule, net(), data, steps, progress=False, generator=gen).steps_per_second

    ours(), _plain_loop(schedule, net(), data, steps)  # warm-up
    rate = plain = 0.0
    for _ in range(repeat):  # interleaved rounds: a busy moment spoils both or neither
        rate = max(rate, ours())
        plain = max(plain, _plain_loop(schedule, net(), data, steps))
    return [
        row(
            "5 training steps/s",
            f"chapter-9 MLP 256x2, 20 points, {steps} steps",
            f"{rate:.4g} steps/s",
            f"plain loop {plain:.4g} steps/s",
            rate / plain,
            None,
            None,
            steps_per_second=rate,
            plain_steps_per_second=plain,
        )
    ]
