"""mdiff.widgets: the forward-marginal sample, the static grid and the live slider."""

import matplotlib.pyplot as plt
import pytest
import torch

import mdiff
import mdiff.widgets

DATA = mdiff.ring(50, radius=2.0, generator=torch.Generator().manual_seed(0))


def test_noised_is_the_transition_kernel(schedule):
    z = torch.randn(DATA.shape, dtype=DATA.dtype)
    for t in (0.0, 0.3, 1.0):
        want = schedule.m(t) * DATA + schedule.sigma(t) * z
        assert torch.allclose(mdiff.widgets.noised(schedule, DATA, z, t), want)
    assert torch.equal(mdiff.widgets.noised(schedule, DATA, z, 0.0), DATA)


def test_bad_input_raises():
    vp = mdiff.VP()
    with pytest.raises(ValueError, match="z must have the shape"):
        mdiff.widgets.noised(vp, DATA, torch.zeros(3, 2, dtype=DATA.dtype), 0.5)
    with pytest.raises(ValueError, match="t must lie in"):
        mdiff.widgets.noised(vp, DATA, torch.zeros_like(DATA), 1.5)
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        mdiff.widgets.noise_grid(vp, torch.zeros(5, 3))
    with pytest.raises(ValueError, match="must not be empty"):
        mdiff.widgets.noise_grid({}, DATA)


def test_noise_grid_layout_and_fixed_window():
    fig = mdiff.widgets.noise_grid(
        {"VP": mdiff.VP(), "VE": mdiff.VE()},
        DATA,
        times=(0, 0.5, 1),
        generator=torch.Generator().manual_seed(1),
    )
    axes = fig.axes
    assert len(axes) == 6
    for row in (axes[:3], axes[3:]):
        assert len({ax.get_xlim() for ax in row}) == 1  # one scale per schedule
    assert axes[0].get_xlim()[1] < axes[3].get_xlim()[1]  # VE needs the larger window
    plt.close(fig)


def test_noise_slider_redraws():
    widgets = pytest.importorskip("ipywidgets", reason="ipywidgets is not installed")
    box = mdiff.widgets.noise_slider({"VP": mdiff.VP(), "VE": mdiff.VE()}, DATA)
    assert isinstance(box, widgets.VBox)
    menu, slider, image = box.children
    assert isinstance(slider, widgets.FloatSlider) and isinstance(image, widgets.Image)
    first = image.value
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    slider.value = 0.5
    assert image.value != first  # moving the slider redraws the plot
    menu.value = "VE"
    single = mdiff.widgets.noise_slider(mdiff.VP(), DATA)
    assert len(single.children) == 2
    assert plt.get_fignums() == []  # every drawn figure is closed
