"""Matplotlib helpers shared by the chapters: palette, Voronoi cells, paths, images, animations.

NumPy appears only here, at the plotting boundary. Colours are the Okabe-Ito palette,
which stays distinguishable under the common forms of colour blindness.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib import animation as mpl_animation

from .data import PAPER_WINDOW

#: Okabe-Ito colour-blind-safe palette (Okabe and Ito 2008).
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
DATA_COLOR, PATH_COLOR, END_COLOR = "#000000", "#0072B2", "#D55E00"


def style() -> None:
    """Course-wide matplotlib style: palette as colour cycle, readable sizes, small files."""
    plt.rcParams.update(
        {
            "axes.prop_cycle": plt.cycler(color=PALETTE),
            "figure.dpi": 80,
            "savefig.dpi": 80,
            "figure.facecolor": "white",  # opaque: legible on the book's dark theme too
            "savefig.facecolor": "white",
            "font.size": 11,
            "axes.titlesize": 11,
            "axes.labelsize": 11,
            "legend.fontsize": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "image.cmap": "cividis",
            "animation.frame_format": "jpeg",  # ~15 kB a frame in to_jshtml, a third of PNG
        }
    )


def to_numpy(x) -> np.ndarray:
    """Detach a tensor (any device) to a NumPy array; pass arrays through."""
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def voronoi(ax, data, window=PAPER_WINDOW, *, points: bool = True, color="0.55") -> None:
    """Draw the Voronoi tessellation of 2-D ``data`` (cells: nearest training point) on ``ax``."""
    from scipy.spatial import Voronoi, voronoi_plot_2d

    pts = to_numpy(data)
    if len(pts) >= 3:
        voronoi_plot_2d(
            Voronoi(pts),
            ax=ax,
            show_points=False,
            show_vertices=False,
            line_colors=color,
            line_width=0.8,
            line_alpha=0.9,
        )
    elif len(pts) == 2:  # the bisector of two points
        mid, d = pts.mean(0), pts[1] - pts[0]
        normal = np.array([-d[1], d[0]]) * 100
        ax.plot(*np.stack([mid - normal, mid + normal]).T, color=color, lw=0.8)
    if points:
        ax.scatter(*pts.T, s=28, color=DATA_COLOR, zorder=5, label="training points")
    ax.set_xlim(window[0])
    ax.set_ylim(window[1])
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")


def trajectories(ax, path, *, color=PATH_COLOR, alpha: float = 0.7, ends: bool = True) -> None:
    """Plot 2-D paths of shape ``(K, n, 2)`` with their start (o) and end (x) points."""
    p = to_numpy(path)
    ax.plot(p[:, :, 0], p[:, :, 1], color=color, lw=0.8, alpha=alpha)
    if ends:
        ax.scatter(*p[0].T, s=10, color=color, marker="o", alpha=alpha, label="start $x(T)$")
        ax.scatter(*p[-1].T, s=30, color=END_COLOR, marker="x", zorder=6, label="end $x(0)$")


def image_grid(images, shape=(64, 64), *, ncols: int = 8, titles=None, size: float = 1.3):
    """Show flattened images ``(n, H*W)`` in a grid; returns the figure."""
    imgs = to_numpy(images).reshape(-1, *shape)
    nrows = -(-len(imgs) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if k < len(imgs):
            ax.imshow(imgs[k], cmap="gray_r", interpolation="nearest")
            if titles is not None:
                ax.set_title(titles[k], fontsize=8)
    fig.tight_layout()
    return fig


def animate_paths(
    path, data, window=PAPER_WINDOW, *, times=None, frames: int = 20, interval: int = 120
):
    """Animation of 2-D particles along ``path`` ``(K, n, 2)`` over the Voronoi diagram.

    Uses at most ``frames`` evenly spaced frames; render it with ``anim.to_jshtml()``.
    Returns:
        ``matplotlib.animation.FuncAnimation`` (its figure is closed, so it is not shown twice).
    """
    p = to_numpy(path)
    idx = np.unique(np.linspace(0, len(p) - 1, frames).round().astype(int))
    fig, ax = plt.subplots(figsize=(3.6, 3.6), dpi=64)
    voronoi(ax, data, window)
    dots = ax.scatter(*p[0].T, s=8, color=PATH_COLOR, alpha=0.8)
    label = ax.set_title("")

    def update(k):
        dots.set_offsets(p[idx[k]])
        if times is not None:
            label.set_text(f"t = {float(times[idx[k]]):.3g}")
        return dots, label

    anim = mpl_animation.FuncAnimation(fig, update, frames=len(idx), interval=interval, blit=False)
    plt.close(fig)
    return anim
