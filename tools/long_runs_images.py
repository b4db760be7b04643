"""The image long run (E9 in the spirit of Baptista et al. 2025): a compact U-Net on the two
rectangle images at 16x16, whose samples become copies of the training images only late.

The two 64x64 rectangles (``mdiff.rectangles``) are average-pooled to 16x16 and mapped to
``[-1, 1]``; ``mdiff.models.UNet`` (noise output) is trained by ``mdiff.train`` (VP, Adam, EMA
0.9999 with the default warm-up, minibatches drawn with replacement from the two images) and at
every checkpoint its EMA network is sampled with the probability-flow ODE (Heun,
``mdiff.time_grid(vp, 100)`` down to t = 0) from ``mdiff.paper_latents(vp, 64, d=256)``. Rows:
``frac(tol)`` with ``tol`` a root-mean-square pixel distance (computed as ``rms < tol``
with ``rms`` the nearest distance over 16: exactly ``fraction_within`` at ``16 tol``), the
fraction of copies by the ratio test ``d1/d2 < 1/3`` (``copies``) and the median RMS pixel
distance to the nearest training image (``median_rms``); then a few samples
(``sample``, ``pixels``: 256 values with 3 decimals, row-major) at four checkpoints.
"""

from __future__ import annotations

import sys

from tools.long_runs import TOLS, Task

SIDE = 16
NET = {"side": SIDE, "channels": [16, 32], "emb_dim": 16, "output": "eps", "init_seed": 0}
TRAIN = {"lr": 1e-3, "ema": 0.9999, "batch": 16, "noise_seed": 1}
SAMPLING = {"n_samples": 64, "ode_steps": 100, "method": "heun", "latent_seed": 0}
SHOWN = 8  # samples stored per shown checkpoint


def images():
    """The two rectangles pooled to ``SIDE x SIDE``, pixels in ``[-1, 1]``; ``(2, SIDE^2)``."""
    import torch

    import mdiff

    big = mdiff.rectangles(torch.float32).reshape(2, 1, 64, 64)
    pooled = torch.nn.functional.avg_pool2d(big, 64 // SIDE)  # (2, 1, SIDE, SIDE)
    return 2 * pooled.reshape(2, -1) - 1  # (2, SIDE^2)


def _measure(vp, net, data, start, ts, method: str = "heun") -> tuple[dict, object]:
    """Copies, median RMS distance and ``frac(tol)`` of the PF-ODE samples of ``net``."""
    import mdiff

    x = mdiff.probability_flow(vp, mdiff.score_from_model(vp, net), start, ts, method=method)
    data = data.to(x.dtype)  # measured in the latents' float64
    rms = mdiff.nearest_distance(x, data) / SIDE  # (M,), RMS pixel distance
    stats = {
        "copies": float(mdiff.memorized(x, data).double().mean()),
        "median_rms": float(rms.median()),
        "frac": [float((rms < tol).double().mean()) for tol in TOLS],
    }
    return stats, x


def unet_images(*, steps: int, every: int, net: dict, train: dict, sampling: dict,
                shown: int = 4) -> list[dict]:  # fmt: skip
    """Train ``UNet(**net)`` for ``steps`` steps on the pooled rectangles and measure its EMA
    network every ``every`` steps; keep ``SHOWN`` samples at ``shown`` checkpoints (first, last,
    evenly between) as rows with an empty ``tol``."""
    import torch

    import mdiff
    from mdiff.models import UNet

    vp, data = mdiff.VP(), images()
    kw = {k: tuple(v) if k == "channels" else v for k, v in net.items() if k != "init_seed"}
    model = UNet(**kw, generator=torch.Generator().manual_seed(net["init_seed"]))
    run = mdiff.train(
        vp,
        model,
        data,
        steps,
        lr=train["lr"],
        ema=train["ema"],
        batch=train["batch"],
        checkpoint_every=every,
        generator=torch.Generator().manual_seed(train["noise_seed"]),
        progress=sys.stderr.isatty(),
    )
    start = mdiff.paper_latents(vp, sampling["n_samples"], d=SIDE**2, seed=sampling["latent_seed"])
    ts = mdiff.time_grid(vp, sampling["ode_steps"])
    steps_kept = sorted(run.checkpoints)
    last = len(steps_kept) - 1
    picks = {steps_kept[round(i * last / max(1, shown - 1))] for i in range(shown)}
    rows, samples = [], []
    for step in steps_kept:
        stats, x = _measure(vp, run.checkpoint_net(step), data, start, ts, sampling["method"])
        common = {"experiment": "E9", "variant": "unet", "steps": step}
        extra = {"copies": f"{stats['copies']:.3f}", "median_rms": f"{stats['median_rms']:.4f}"}
        for tol, frac in zip(TOLS, stats["frac"]):
            rows.append({**common, "tol": f"{tol:g}", "fraction": f"{frac:.3f}", **extra})
        for k in range(SHOWN) if step in picks else ():
            pixels = " ".join(f"{v:.3f}" for v in x[k].tolist())
            samples.append({**common, "tol": "", "fraction": "", "sample": k, "pixels": pixels})
    return rows + samples


_KWARGS = {"every": 1_000, "net": NET, "train": TRAIN, "sampling": SAMPLING}
TASKS = [
    Task("E9", "unet", "tools.long_runs_images:unet_images", 12_000, _KWARGS, 12_000,
         "E9 in the spirit of the paper: a compact U-Net (mdiff.models.UNet, noise output, "
         "side 16, channels 16 and 32) on the two rectangles average-pooled to 16x16, pixels in "
         "[-1, 1], batch 16; 64 samples per checkpoint; tol: an RMS pixel distance; copies: "
         "d1/d2 < 1/3; median_rms: median RMS pixel distance to the nearest training image; "
         "rows with a sample column: 8 samples (pixels row-major) at 4 checkpoints"),
]  # fmt: skip
