"""Figure 5: DSM training steps per second of the chapter-9 MLP on the paper's 20 points.

The authors' E7 setting: VP, MLP width 256, depth 2, Fourier embedding of dimension 8, Adam
lr 1e-3, full batch, EMA 0.9999, float32. ``mdiff.train`` against a minimal hand-written loop
(same network and loss, plain Adam, no EMA, no progress bar): the ratio is the loop's overhead.
``mdiff.train_many`` with chapter 9's K = 6 networks against ``mdiff.train``: the ratio of
network-steps per second is what batching the K models into one gains.
"""

from __future__ import annotations

import time

import torch

import mdiff

from .common import row

STEPS, QUICK_STEPS = 500, 10
K = 6  # networks trained at once in chapter 9 (the eps network and five penalties c)


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


def _net(k: int = 0):
    return mdiff.MLP(2, 256, 2, 8, generator=torch.Generator().manual_seed(k))


def _rates(schedule, data, steps: int, repeat: int) -> tuple[float, float, float]:
    """Best steps/s of ``train``, of ``train_many`` (K networks) and of the plain loop."""

    def ours():
        gen = torch.Generator().manual_seed(1)
        res = mdiff.train(schedule, _net(), data, steps, progress=False, generator=gen)
        return res.steps_per_second

    def many():
        gen, nets = torch.Generator().manual_seed(1), [_net(k) for k in range(K)]
        res = mdiff.train_many(schedule, nets, data, steps, progress=False, generator=gen)
        return res[0].steps_per_second

    ours(), many(), _plain_loop(schedule, _net(), data, steps)  # warm-up
    rate = stacked = plain = 0.0
    for _ in range(repeat):  # interleaved rounds: a busy moment spoils all or none
        rate = max(rate, ours())
        stacked = max(stacked, many())
        plain = max(plain, _plain_loop(schedule, _net(), data, steps))
    return rate, stacked, plain


def training_rows(quick: bool = False, repeat: int = 3) -> list[dict]:
    """Figure 5: ``train`` and ``train_many`` steps/s (best of ``repeat`` interleaved rounds)."""
    steps = QUICK_STEPS if quick else STEPS
    rate, stacked, plain = _rates(mdiff.VP(), mdiff.paper_points(torch.float32), steps, repeat)
    case = f"chapter-9 MLP 256x2, 20 points, {steps} steps"
    return [
        row(
            "5 training steps/s",
            case,
            f"{rate:.4g} steps/s",
            f"plain loop {plain:.4g} steps/s",
            rate / plain,
            None,
            None,
            steps_per_second=rate,
            plain_steps_per_second=plain,
        ),
        row(
            "5 train_many network-steps/s",
            f"{K} x {case}",
            f"{K * stacked:.4g} network-steps/s",
            f"train {rate:.4g} steps/s",
            K * stacked / rate,
            None,
            None,
            steps_per_second=stacked,
            models=K,
        ),
    ]
