"""Figure 5: DSM training steps per second of the chapter-9 MLP on the paper's 20 points.

The authors' E7 setting: VP, MLP width 256, depth 2, Fourier embedding of dimension 8, Adam
lr 1e-3, full batch, EMA 0.9999, float32, one thread (as the chapters and the long runs train).
- ``mdiff.train`` against a minimal hand-written loop (same network and loss, plain Adam, no EMA,
  no progress bar): the ratio is the loop's overhead.
- ``mdiff.train_many`` with K = 1, 2, 3, 4, 6 networks (chapter 9 trains 6; the long runs 2 or 3):
  network-steps per second (K x steps/s) over ``mdiff.train``'s steps/s, what batching gains.
- The zero-padded width stack of the long run E7: widths 32, 64, 128 each padded to 128 with
  ``mdiff.ensemble.pad`` and trained as one ``train_many`` stack, against training the three
  networks one after the other with ``mdiff.train`` (network-steps per second of each).
Measurement only: nothing here has a target. Every configuration is timed once per round, in
interleaved rounds, after one short warm-up run each; best rate over the rounds (loop time only,
as :class:`~mdiff.training.TrainResult` reports it).
"""

from __future__ import annotations

import time

import torch

import mdiff
from mdiff.ensemble import pad

from .common import row

STEPS, QUICK_STEPS, WARMUP_STEPS = 500, 10, 5
KS = (1, 2, 3, 4, 6)  # networks trained at once (chapter 9: 6; E8c, E8d: 2; E7: 3)
WIDTHS, PAD_TO = (32, 64, 128), 128  # the long run E7's stack


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


def _net(k: int = 0, width: int = 256):
    return mdiff.MLP(2, width, 2, 8, generator=torch.Generator().manual_seed(k))


def configurations(schedule, data) -> dict:
    """``{name: run(steps) -> network-steps per second}`` of every configuration measured."""

    def train(steps, width=256):
        gen = torch.Generator().manual_seed(1)
        res = mdiff.train(schedule, _net(0, width), data, steps, progress=False, generator=gen)
        return res.steps_per_second

    def many(nets, steps):
        gen = torch.Generator().manual_seed(1)
        res = mdiff.train_many(schedule, nets, data, steps, progress=False, generator=gen)
        return len(nets) * res[0].steps_per_second

    def separate(steps):  # network-steps over the summed loop times of the three runs
        return len(WIDTHS) * steps / sum(steps / train(steps, w) for w in WIDTHS)

    configs = {
        "train": train,
        "plain loop": lambda steps: _plain_loop(schedule, _net(), data, steps),
        "padded stack": lambda steps: many([pad(_net(0, w), PAD_TO) for w in WIDTHS], steps),
        "separate widths": separate,
    }
    for k in KS:
        configs[f"train_many K={k}"] = lambda steps, k=k: many([_net(j) for j in range(k)], steps)
    return configs


def rates(schedule, data, steps: int, repeat: int) -> dict:
    """Best network-steps/s of every configuration over ``repeat`` interleaved rounds."""
    configs = configurations(schedule, data)
    for run in configs.values():
        run(WARMUP_STEPS)
    best = dict.fromkeys(configs, 0.0)
    for _ in range(repeat):  # interleaved rounds: a busy moment spoils all or none
        for name, run in configs.items():
            best[name] = max(best[name], run(steps))
    return best


def training_rows(quick: bool = False, repeat: int = 3) -> list[dict]:
    """Figure 5: ``train`` vs the plain loop, ``train_many`` for each K, the padded width stack."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        steps = QUICK_STEPS if quick else STEPS
        r = rates(mdiff.VP(), mdiff.paper_points(torch.float32), steps, repeat)
    finally:
        torch.set_num_threads(threads)
    case = f"chapter-9 MLP 256x2, 20 points, {steps} steps"
    rows = [
        row(
            "5 training steps/s",
            case,
            f"{r['train']:.4g} steps/s",
            f"plain loop {r['plain loop']:.4g} steps/s",
            r["train"] / r["plain loop"],
            steps_per_second=r["train"],
            plain_steps_per_second=r["plain loop"],
        )
    ]
    for k in KS:
        rate = r[f"train_many K={k}"]
        rows.append(
            row(
                "5 train_many network-steps/s",
                f"K={k} x {case}",
                f"{rate:.4g} network-steps/s",
                f"train {r['train']:.4g} steps/s",
                rate / r["train"],
                network_steps_per_second=rate,
                models=k,
            )
        )
    widths = "/".join(map(str, WIDTHS))
    rows.append(
        row(
            "5 padded width stack",
            f"widths {widths} padded to {PAD_TO}, one train_many stack, {steps} steps",
            f"{r['padded stack']:.4g} network-steps/s",
            f"separate train runs {r['separate widths']:.4g} network-steps/s",
            r["padded stack"] / r["separate widths"],
            network_steps_per_second=r["padded stack"],
            separate_network_steps_per_second=r["separate widths"],
        )
    )
    return rows
