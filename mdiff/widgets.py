"""Live widgets (ipywidgets) and the static figures printed beside them in the book.

``ipywidgets`` is imported only inside the functions that build a live widget, so importing
this module, and drawing the static figures, needs matplotlib alone. Every widget has a
static counterpart drawn by the same code, so the rendered book shows exactly what the
widget shows at a few settings.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import torch
from torch import Tensor

from .plotting import DATA_COLOR, PATH_COLOR, to_numpy


def noised(schedule, data: Tensor, z: Tensor, t: float) -> Tensor:
    """Forward marginal sample ``x_t = m(t) x_0 + sigma(t) z`` for fixed noise ``z``.

    Source: the transition kernel of the linear forward SDE (Song et al. 2021).

    Returns:
        Tensor shaped like ``data``.
    """
    if z.shape != data.shape:
        raise ValueError(f"z must have the shape of data {tuple(data.shape)}, got {tuple(z.shape)}")
    if not 0 <= t <= schedule.T:
        raise ValueError(f"t must lie in [0, T={schedule.T}], got {t!r}")
    return float(schedule.m(t)) * data + float(schedule.sigma(t)) * z


def _named(schedules) -> dict:
    """A mapping name -> schedule; a single schedule is named after its class."""
    if isinstance(schedules, Mapping):
        if not schedules:
            raise ValueError("schedules must not be empty")
        return dict(schedules)
    return {type(schedules).__name__: schedules}


def _check_2d(data) -> Tensor:
    data = torch.as_tensor(data)
    if data.ndim != 2 or data.shape[1] != 2 or data.shape[0] == 0:
        raise ValueError(
            f"data must be a non-empty tensor of shape (n, 2), got {tuple(data.shape)}"
        )
    return data


def _limit(schedule, data: Tensor) -> float:
    """Half-width of a square window holding the cloud at every ``t`` (3 sigma of noise)."""
    ts = torch.linspace(0, schedule.T, 101, dtype=torch.float64)
    reach = schedule.m(ts) * float(data.abs().max()) + 3 * schedule.sigma(ts)
    return float(reach.max())


def _draw(ax, name: str, schedule, data: Tensor, z: Tensor, t: float, lim: float) -> None:
    """One panel: the noised points ``x_t`` (blue) and their signal ``m(t) x_0`` (black)."""
    m, s = float(schedule.m(t)), float(schedule.sigma(t))
    x_t = to_numpy(noised(schedule, data, z, t))
    ax.scatter(*x_t.T, s=3, color=PATH_COLOR, alpha=0.5, label="noised $x_t$")
    ax.scatter(*to_numpy(m * data).T, s=1, color=DATA_COLOR, label="signal $m(t)\\,x_0$")
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(f"{name}, t = {t:.2g}\nm = {m:.2f}, σ = {s:.2f}", fontsize=9)


def noise_grid(schedules, data, times=(0.0, 0.1, 0.25, 0.5, 1.0), *, generator=None, size=2.2):
    """Static grid of forward marginals: one row per schedule, one column per time.

    Every panel shows ``x_t = m(t) x_0 + sigma(t) z`` (blue) and the signal ``m(t) x_0``
    (black) with the same ``z``; the window of a row is fixed, so its panels share one scale.

    Returns:
        ``matplotlib.figure.Figure``.
    """
    named, data = _named(schedules), _check_2d(data)
    z = torch.randn(data.shape, generator=generator, dtype=data.dtype)
    rows, cols = len(named), len(times)
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows + 0.3), squeeze=False)
    for row, (name, schedule) in zip(axes, named.items()):
        lim = _limit(schedule, data)
        for ax, t in zip(row, times):
            _draw(ax, name, schedule, data, z, float(t), lim)
    for ax in axes[:, 1:].flat:
        ax.set_ylabel("")
    fig.tight_layout()
    return fig


def noise_slider(schedules, data, *, generator=None, steps: int = 100, size: float = 4.0):
    """Live widget: a slider for ``t`` (and a schedule menu) over the noised 2-D ``data``.

    Shows ``x_t = m(t) x_0 + sigma(t) z`` (blue) and the signal ``m(t) x_0`` (black) for one
    fixed ``z``, so points move continuously as ``t`` changes. The plot is an
    ``ipywidgets.Image`` (see :func:`figure_png`). Needs ``ipywidgets`` (imported here).

    Returns:
        ``ipywidgets.VBox`` holding the controls and the plot.
    """
    import ipywidgets as widgets

    named, data = _named(schedules), _check_2d(data)
    z = torch.randn(data.shape, generator=generator, dtype=data.dtype)
    limits = {name: _limit(schedule, data) for name, schedule in named.items()}
    t_max = max(float(s.T) for s in named.values())
    slider = widgets.FloatSlider(
        value=0.0, min=0.0, max=t_max, step=t_max / steps, description="t", readout_format=".2f"
    )
    menu = widgets.ToggleButtons(options=list(named), description="schedule")
    image = widgets.Image(format="png")

    def redraw(*_):
        name = menu.value
        schedule = named[name]
        t = min(slider.value, float(schedule.T))
        fig, ax = plt.subplots(figsize=(size, size))
        _draw(ax, name, schedule, data, z, t, limits[name])
        ax.legend(loc="upper right", markerscale=3)
        fig.tight_layout()
        image.value = figure_png(fig)

    slider.observe(redraw, names="value")
    menu.observe(redraw, names="value")
    redraw()
    controls = [slider] if len(named) == 1 else [menu, slider]
    return widgets.VBox([*controls, image])


def figure_png(fig) -> bytes:
    """PNG bytes of ``fig`` (then closed), for an ``ipywidgets.Image``.

    Widgets draw into an ``Image`` rather than an ``Output`` widget: headless execution
    (nbclient, nbval) was seen to wait for the full cell timeout on ``Output`` capture.
    """
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


# Chapter 3: the empirical minimizer over the Voronoi diagram --------------------------------


def _minimizer_panel(ax, schedule, data: Tensor, t: float, window, n_grid: int, n_arrows: int):
    """Max posterior weight (image) and the direction of ``s^N`` (arrows) at time ``t``."""
    from .plotting import END_COLOR, voronoi
    from .scores import empirical_score, posterior_weights

    (x0, x1), (y0, y1) = window
    gx, gy = torch.linspace(x0, x1, n_grid, dtype=data.dtype), torch.linspace(y0, y1, n_grid)
    grid = torch.stack(torch.meshgrid(gx, gy.to(data.dtype), indexing="xy"), -1).reshape(-1, 2)
    top = posterior_weights(schedule, data, grid, t).max(1).values.reshape(n_grid, n_grid)
    image = ax.imshow(
        to_numpy(top), origin="lower", extent=(x0, x1, y0, y1), vmin=0, vmax=1, aspect="equal"
    )
    ax_, ay_ = (
        torch.linspace(x0, x1, n_arrows + 2)[1:-1],
        torch.linspace(y0, y1, n_arrows + 2)[1:-1],
    )
    arrows = torch.stack(torch.meshgrid(ax_, ay_, indexing="xy"), -1).reshape(-1, 2).to(data.dtype)
    s = empirical_score(schedule, data)(arrows, t)
    u = s / s.norm(dim=1, keepdim=True).clamp_min(1e-300)
    ax.quiver(
        *to_numpy(arrows).T, *to_numpy(u).T, color=END_COLOR, scale=n_arrows * 1.6, width=0.006
    )
    centres = float(schedule.m(t)) * data
    voronoi(ax, centres, window, points=False, color="0.15")
    ax.scatter(
        *to_numpy(centres).T, s=24, color=DATA_COLOR, edgecolors="white", linewidths=0.8, zorder=5
    )
    m, sig = float(schedule.m(t)), float(schedule.sigma(t))
    ax.set_title(f"t = {t:.3g}\nm = {m:.2f}, σ = {sig:.3g}", fontsize=9)
    return image


def minimizer_grid(
    schedule,
    data,
    times=(1.0, 0.3, 0.1, 0.03, 0.01),
    window=None,
    *,
    n_grid: int = 120,
    n_arrows: int = 15,
    size: float = 2.4,
):
    """Static panels of the empirical minimizer at several times ``t``.

    Each panel shows the largest posterior weight ``max_n w_n(x, t)`` (colour, 0 to 1), the
    direction of ``s^N(x, t)`` (arrows of unit length) and the Voronoi diagram of the
    scaled points ``m(t) y_n``, whose cells are where each weight wins.

    Returns:
        ``matplotlib.figure.Figure``.
    """
    from .data import PAPER_WINDOW

    data, window = _check_2d(data), window or PAPER_WINDOW
    fig, axes = plt.subplots(1, len(times), figsize=(size * len(times) + 0.8, size + 0.5))
    axes = [axes] if len(times) == 1 else list(axes)
    for ax, t in zip(axes, times):
        image = _minimizer_panel(ax, schedule, data, float(t), window, n_grid, n_arrows)
    for ax in axes[1:]:
        ax.set_ylabel("")
        ax.set_yticklabels([])
    fig.colorbar(image, ax=axes, shrink=0.8, label=r"largest weight $\max_n w_n$")
    return fig


def minimizer_slider(schedule, data, window=None, *, t: float = 0.1, size: float = 4.2):
    """Live widget: the panel of :func:`minimizer_grid` with a logarithmic slider for ``t``.

    The panel is redrawn into an ``ipywidgets.Image`` (see :func:`figure_png`).
    Needs ``ipywidgets`` (imported here, not at module import).

    Returns:
        ``ipywidgets.VBox`` holding the slider and the image.
    """
    import math

    import ipywidgets as widgets

    from .data import PAPER_WINDOW

    data, window = _check_2d(data), window or PAPER_WINDOW
    t_max = float(schedule.T)
    if not 1e-3 <= t <= t_max:
        raise ValueError(f"t must lie in [1e-3, T={t_max}], got {t!r}")
    slider = widgets.FloatLogSlider(
        value=t,
        base=10,
        min=-3,
        max=math.log10(t_max),
        step=0.05,
        description="t",
        readout_format=".3g",
    )
    image = widgets.Image(format="png")

    def redraw(*_):
        fig, ax = plt.subplots(figsize=(size + 0.9, size))
        mappable = _minimizer_panel(ax, schedule, data, slider.value, window, 100, 13)
        fig.colorbar(mappable, ax=ax, shrink=0.8, label=r"$\max_n w_n$")
        image.value = figure_png(fig)

    slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([slider, image])
