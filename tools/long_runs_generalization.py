"""Long runs of chapter 11 (from memorization to generalization): score networks trained by
denoising score matching on N samples of a known law, for N from tens to thousands.

``G1``: the ring law ``mdiff.ring`` (radius 1, width 0.1). Two disjoint pools of
``max(SIZES)`` points (halves A and B); for each size N in ``SIZES`` one network is trained on
the first N points of A and one on the first N points of B, all ``2 len(SIZES)`` networks in one
``mdiff.train_many`` stack (one training set per network, batches of ``TRAIN["batch"]`` drawn with
replacement, so every network sees the same number of noisy points per step). At the steps of
``EVALUATE`` the EMA networks are sampled with the probability-flow ODE from the same latents and
each row records, for the network of half A: the memorized fraction ``d1/d2 < 1/3`` against its
training set (``fraction``, ``tol = 1/3``), the unbiased energy distance of its samples to fresh
points of the ring (``energy``), and the median distance between the samples of the networks of
halves A and B from the same latents (``pair``, the two-halves test). Chapter 11 runs the first
steps of the same stack live and checks its rows against these.

``G2``: the same for the 8x8 digits (``mdiff.digits``, standardised), halves of ``DIGIT_SIZES``
images, the rest held out; ``fraction`` is ``d1/d2 < 1/3`` in pixel space, ``energy`` the
energy distance to the held-out digits, ``pair`` the median ``mdiff.pair_similarity`` of the
two halves' samples; eight samples of each half's network for the smallest and largest N at
the first and last checkpoint are stored too (``half``, ``sample``, ``pixels``: 64 grey levels).
"""

from __future__ import annotations

import sys

from tools.long_runs import Task

SIZES = (16, 64, 256, 1024, 4096)  # training points per half (2-D ring)
DIGIT_SIZES = (10, 100, 800)  # training images per half (digits)
NET = {"width": 128, "depth": 2, "emb_dim": 8}  # the paper's MLP at half its width
TRAIN = {"lr": 1e-3, "ema": 0.9999, "batch": 128, "init_seed": 0, "noise_seed": 1}
RING = {"radius": 1.0, "width": 0.1, "pool_seed": 0, "fresh_seed": 5, "n_fresh": 4000}
SAMPLING = {"n_samples": 2000, "ode_steps": 100, "method": "heun", "latent_seed": 0}
DIGITS = {"split_seed": 2, "n_samples": 200, "latent_seed": 3}
EVERY = 3000  # checkpoint spacing (EMA weights)
EVALUATE = (3000, 6000, 12_000, 24_000, 48_000)  # checkpoints that are sampled
STEPS, DIGIT_STEPS = 48_000, 24_000
SHOWN = 8  # digit samples stored per half, size and shown checkpoint


def ring_halves():
    """Halves A, B ``(max(SIZES), 2)`` of the ring pool and the fresh points ``(n_fresh, 2)``."""
    import torch

    import mdiff

    kw = {"radius": RING["radius"], "width": RING["width"]}
    pool = mdiff.ring(
        2 * max(SIZES), generator=torch.Generator().manual_seed(RING["pool_seed"]), **kw
    )
    fresh = mdiff.ring(
        RING["n_fresh"], generator=torch.Generator().manual_seed(RING["fresh_seed"]), **kw
    )
    return pool[: max(SIZES)], pool[max(SIZES) :], fresh


def digit_halves():
    """Standardised digits: halves A, B of ``max(DIGIT_SIZES)`` images and the held-out rest,
    and the map back to grey levels in ``[0, 1]``."""
    import torch

    import mdiff

    images = mdiff.digits(dtype=torch.float64, scale="standard")
    unit = mdiff.digits(dtype=torch.float64)
    scale = (unit - unit.mean(0)).pow(2).mean().sqrt()

    def to_unit(x):
        return x * scale + unit.mean(0)

    gen = torch.Generator().manual_seed(DIGITS["split_seed"])
    order = torch.randperm(len(images), generator=gen)
    n = max(DIGIT_SIZES)
    return images[order[:n]], images[order[n : 2 * n]], images[order[2 * n :]], to_unit


def train_halves(half_a, half_b, sizes, steps: int, every: int | None = None):
    """One network per half and size (A first, then B), trained as one stack (checkpoints every
    ``every`` steps, default ``EVERY``); the runs."""
    import torch

    import mdiff

    sets = [half_a[:n] for n in sizes] + [half_b[:n] for n in sizes]
    nets = [
        mdiff.MLP(
            d=half_a.shape[1], generator=torch.Generator().manual_seed(TRAIN["init_seed"]), **NET
        )
        for _ in sets
    ]
    return mdiff.train_many(
        mdiff.VP(),
        nets,
        sets,
        steps,
        lr=TRAIN["lr"],
        ema=TRAIN["ema"],
        batch=TRAIN["batch"],
        checkpoint_every=every or EVERY,
        generator=torch.Generator().manual_seed(TRAIN["noise_seed"]),
        progress=sys.stderr.isatty(),
    )


def sampler(x_T):
    """``sample(net)``: the PF-ODE samples of a network from the latents ``x_T`` (the settings
    of ``SAMPLING``; the schedule and time grid are built once, not at every checkpoint)."""
    import mdiff

    vp = mdiff.VP()
    ts = mdiff.time_grid(vp, SAMPLING["ode_steps"])

    def sample(net):
        score = mdiff.score_from_model(vp, net)
        return mdiff.probability_flow(vp, score, x_T, ts, method=SAMPLING["method"])

    return sample


def ring_row(step: int, n: int, x_a, x_b, train_a, fresh) -> dict:
    """The row of one size and checkpoint: memorized fraction, energy distance, pair distance."""
    import mdiff

    frac = float(mdiff.memorized(x_a, train_a).double().mean())
    energy = mdiff.energy_distance(x_a, fresh, unbiased=True)
    pair = float((x_a - x_b).norm(dim=1).median())
    return {"experiment": "G1", "variant": f"N={n}", "steps": step, "tol": "1/3",
            "fraction": f"{frac:.3f}", "energy": f"{energy:.5f}",
            "pair": f"{pair:.4f}"}  # fmt: skip


def ring_rows(*, steps: int, sizes=SIZES, evaluate=EVALUATE) -> list[dict]:
    """``G1``: train the ring stack for ``steps`` and return the rows at the ``evaluate`` steps."""
    import mdiff

    half_a, half_b, fresh = ring_halves()
    runs = train_halves(half_a, half_b, sizes, steps)
    sample = sampler(
        mdiff.paper_latents(mdiff.VP(), SAMPLING["n_samples"], seed=SAMPLING["latent_seed"])
    )
    rows, K = [], len(sizes)
    for step in [s for s in evaluate if s <= steps]:
        for j, n in enumerate(sizes):
            x_a = sample(runs[j].checkpoint_net(step))
            x_b = sample(runs[K + j].checkpoint_net(step))
            rows.append(ring_row(step, n, x_a, x_b, half_a[:n], fresh))
    return rows


def digit_row(step: int, n: int, x_a, x_b, train_a, heldout) -> dict:
    """The row of one size and checkpoint, in grey levels: memorized, energy, similarity."""
    import mdiff

    frac = float(mdiff.memorized(x_a, train_a).double().mean())
    energy = mdiff.energy_distance(x_a, heldout, unbiased=True)
    pair = float(mdiff.pair_similarity(x_a, x_b).median())
    return {"experiment": "G2", "variant": f"N={n}", "steps": step, "tol": "1/3",
            "fraction": f"{frac:.3f}", "energy": f"{energy:.4f}",
            "pair": f"{pair:.4f}"}  # fmt: skip


def digit_samples(step: int, n: int, x_a, x_b) -> list[dict]:
    """``SHOWN`` samples of each half's network (grey levels, 3 decimals, row-major), as rows
    with an empty ``tol``."""
    common = {"experiment": "G2", "variant": f"N={n}", "steps": step, "tol": "", "fraction": ""}
    return [
        {**common, "half": half, "sample": k, "pixels": " ".join(f"{v:.3f}" for v in x[k].tolist())}
        for half, x in (("A", x_a), ("B", x_b))
        for k in range(SHOWN)
    ]


def digit_rows(*, steps: int, sizes=DIGIT_SIZES, evaluate=EVALUATE) -> list[dict]:
    """``G2``: train the digit stack for ``steps`` and return the rows at the ``evaluate`` steps,
    then ``SHOWN`` samples per half of the smallest and largest ``N`` at the first and the last
    of them."""
    import mdiff

    half_a, half_b, heldout, to_unit = digit_halves()
    runs = train_halves(half_a, half_b, sizes, steps)
    K = len(sizes)
    sample = sampler(
        mdiff.paper_latents(mdiff.VP(), DIGITS["n_samples"], d=64, seed=DIGITS["latent_seed"])
    )
    rows, samples, done = [], [], [s for s in evaluate if s <= steps]
    for step in done:
        for j, n in enumerate(sizes):
            x_a = to_unit(sample(runs[j].checkpoint_net(step)))
            x_b = to_unit(sample(runs[K + j].checkpoint_net(step)))
            rows.append(digit_row(step, n, x_a, x_b, to_unit(half_a[:n]), to_unit(heldout)))
            if step in (done[0], done[-1]) and n in (min(sizes), max(sizes)):
                samples += digit_samples(step, n, x_a, x_b)
    return rows + samples


#: Recorded in each task's provenance line (the functions read the module's constants).
SETTINGS = {"net": NET, "train": TRAIN, "every": EVERY, "schedule": "VP()"}
DIGIT_SAMPLING = {**SAMPLING, **{k: DIGITS[k] for k in ("n_samples", "latent_seed")}}
TASKS = [
    Task("G1", "ring halves", "tools.long_runs_generalization:ring_rows", STEPS,
         {"sizes": SIZES, "evaluate": EVALUATE}, 2 * len(SIZES) * STEPS,
         "G1: MLPs (width 128) trained by DSM on N points of the ring law (mdiff.ring), one "
         "network per disjoint half A, B and size N; memorized fraction d1/d2 < 1/3, energy "
         "distance to fresh points, two-halves distance",
         {**SETTINGS, "ring": RING, "sampling": SAMPLING}),
    Task("G2", "digit halves", "tools.long_runs_generalization:digit_rows", DIGIT_STEPS,
         {"sizes": DIGIT_SIZES, "evaluate": EVALUATE}, 2 * len(DIGIT_SIZES) * DIGIT_STEPS,
         "G2: MLPs (width 128) trained by DSM on N standardised 8x8 digits, one network per "
         "disjoint half A, B and size N; memorized fraction, energy distance to held-out digits, "
         "two-halves similarity (mdiff.pair_similarity); rows with a sample column: 8 samples per "
         "half (grey levels, row-major) of the smallest and largest N at the first and last "
         "checkpoint",
         {**SETTINGS, "digits": DIGITS, "sampling": DIGIT_SAMPLING}),
]  # fmt: skip
