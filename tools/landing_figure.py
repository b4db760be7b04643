"""The picture of the story on the landing page (``intro.md``): ``_static/landing.png``.

Three panels, one per model, on the 20 training points of Baptista et al. 2025
(``mdiff.paper_points()``) with the variance-exploding schedule ``mdiff.VE()`` (sigma0 = 10):

(a) the exact empirical score ``s^N``: every probability-flow trajectory ends on a training point;
(b) the Tikhonov score ``s_c`` (chapter 7): samples scatter around the training points at
    scale ``sqrt(c)``, blurred copies;
(c) the empirical-Bayes score ``s_tau`` (chapter 8): about a fraction ``1 - tau`` of the
    trajectories collapse, the others stop in the gaps between the training points.

Each panel draws 30 trajectories, started from ``mdiff.paper_latents(VE(), 30)``, and reports
the memorized fraction ``frac(1e-2)`` of 1000 samples started from
``mdiff.paper_latents(VE(), 1000)`` (``sigma(T) xi``, ``xi`` the normals of torch's generator
seeded 0, the same latents in every panel). The script asserts what the caption of the figure
claims, prints the numbers, and writes the figure at twice the course's 80 dpi.

Usage (from the repository root)::

    python -m tools.landing_figure                # writes _static/landing.png
    python -m tools.landing_figure --out DIR --svg  # into DIR, also as SVG
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

import mdiff  # noqa: E402
import mdiff.plotting as mplot  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "_static"
NAME = "landing"
TOL = 1e-2  # memorization tolerance of frac(tol), as in the paper's closed-form studies
N_PATHS, N_SAMPLES = 30, 1000  # trajectories drawn; samples counted
C, TAU = 1e-2, 0.5  # Tikhonov strength; empirical-Bayes floor
DPI = 160  # 2x the course's figure dpi (mdiff.plotting.style: 80)


@dataclass
class Panel:
    """One model of the figure: its score, how to integrate it, and what it produced."""

    key: str
    title: str
    score: object
    method: str
    n_steps: int
    t_min: float
    path: torch.Tensor | None = None  # (times, N_PATHS, 2)
    samples: torch.Tensor | None = None  # (N_SAMPLES, 2)
    frac: float = math.nan  # memorized fraction frac(TOL) of the samples
    median_distance: float = math.nan  # median distance of a sample to its nearest point


def panels(schedule=None, data=None) -> list[Panel]:
    """The three models; integrators as in chapters 4 (exact score) and 7-8 (regularized)."""
    schedule = schedule or mdiff.VE()
    data = mdiff.paper_points() if data is None else data
    return [
        Panel(
            "a",
            "exact empirical score $s^N$",
            mdiff.empirical_score(schedule, data),
            "exponential",
            200,
            1e-5,
        ),
        Panel(
            "b",
            f"Tikhonov score $s_c$, $c = {C:g}$",
            mdiff.tikhonov_score(schedule, data, C),
            "heun",
            400,
            1e-8,
        ),
        Panel(
            "c",
            rf"empirical-Bayes score $s_\tau$, $\tau = {TAU:g}$",
            mdiff.empirical_bayes_score(schedule, data, TAU),
            "heun",
            400,
            1e-8,
        ),
    ]


def compute() -> tuple[torch.Tensor, list[Panel]]:
    """Run the three models from the same latents; returns the data and the filled panels."""
    schedule, data = mdiff.VE(), mdiff.paper_points()
    # two draws, as in chapters 4 and 7: the 30 latents of the drawn trajectories, and the
    # 1000 of the statistics (torch draws n = 30 and the first 30 of n = 1000 differently)
    starts = mdiff.paper_latents(schedule, N_PATHS)
    latents = mdiff.paper_latents(schedule, N_SAMPLES)
    out = panels(schedule, data)
    for p in out:
        ts = mdiff.time_grid(schedule, p.n_steps, t_min=p.t_min)
        p.path = mdiff.probability_flow(
            schedule, p.score, starts, ts, method=p.method, return_path=True
        )
        p.samples = mdiff.probability_flow(schedule, p.score, latents, ts, method=p.method)
        p.frac = mdiff.fraction_within(p.samples, data, TOL)
        p.median_distance = float(mdiff.nearest_distance(p.samples, data).median())
    check(data, out)
    return data, out


def check(data: torch.Tensor, out: list[Panel]) -> None:
    """What the caption says, asserted on the numbers of this run."""
    a, b, c = out
    assert a.frac == 1.0, f"(a) every sample should be a training point, frac = {a.frac}"
    assert float(mdiff.nearest_distance(a.path[-1], data).max()) < TOL, "(a) drawn paths"
    # (b) blurred copies: within 1e-2 only 1 - exp(-tol^2 / (2c)) of them (chapter 7)
    assert abs(b.frac - (1 - math.exp(-(TOL**2) / (2 * C)))) < 0.05, b.frac
    assert 0.3 * math.sqrt(C) < b.median_distance < 3 * math.sqrt(C), b.median_distance
    # (c) about 1 - tau collapse (chapter 8, two dimensions); the others are new points
    assert abs(c.frac - (1 - TAU)) < 0.05, c.frac


def figure(data: torch.Tensor, out: list[Panel]):
    """The three panels side by side (about 10.5 x 4 in, text at 10-12 pt)."""
    mplot.style()
    plt.rcParams.update({"font.size": 11, "axes.titlesize": 11.5, "legend.fontsize": 10})
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 4.6), sharey=True, layout="constrained")
    for ax, p in zip(axes, out):
        mplot.voronoi(ax, data, points=False, color="0.75")
        mplot.trajectories(ax, p.path, color=mplot.PATH_COLOR, alpha=0.45, ends=False)
        ends = mplot.to_numpy(p.path[-1])
        ax.scatter(*ends.T, s=42, color=mplot.END_COLOR, marker="x", zorder=6, lw=1.6)
        ax.scatter(*mplot.to_numpy(data).T, s=30, color=mplot.DATA_COLOR, zorder=5)
        ax.set_title(f"({p.key}) {p.title}\nwithin {TOL:g} of a training point: {p.frac:.1%}")
        if p.key != "a":
            ax.set_ylabel("")
    handles = [
        plt.Line2D([], [], color=mplot.PATH_COLOR, lw=1, label="trajectory from noise"),
        plt.Line2D([], [], color=mplot.END_COLOR, marker="x", ls="", ms=7, label="sample $x(0)$"),
        plt.Line2D([], [], color=mplot.DATA_COLOR, marker="o", ls="", ms=5, label="training point"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False)
    return fig


def summary(out: list[Panel]) -> str:
    """One line per panel: the numbers the figure shows (parsed by tests/test_landing.py)."""
    return "\n".join(
        f"panel {p.key}: frac({TOL:g}) = {p.frac:.3f}, median nearest distance = "
        f"{p.median_distance:.3g} ({N_SAMPLES} samples, {p.method}, {p.n_steps} steps)"
        for p in out
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder of the image (_static/)")
    parser.add_argument("--svg", action="store_true", help="also write landing.svg")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # small problem: one thread is fastest and reproducible
    data, out = compute()
    fig = figure(data, out)
    args.out.mkdir(parents=True, exist_ok=True)
    written = [args.out / f"{NAME}.png"] + ([args.out / f"{NAME}.svg"] if args.svg else [])
    for path in written:
        # no timestamps or software tags: the same run gives the same bytes
        meta = {"Software": None} if path.suffix == ".png" else {"Date": None, "Creator": None}
        fig.savefig(path, dpi=DPI, metadata=meta)
    plt.close(fig)
    print(summary(out))
    print("wrote", ", ".join(str(p) for p in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
