"""The landing-page figure: ``python -m tools.landing_figure`` runs, and what it shows is true.

One run of the script as a module into a temporary folder (a few seconds), one in-process run
of the same computation; the numbers it prints must be those of the panel titles, agree with
the theory the caption states (chapters 7 and 8), and be the numbers quoted in ``intro.md``.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
import torch
from PIL import Image

import mdiff
from tools import landing_figure as lf

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(r"panel ([abc]): frac\(0\.01\) = ([0-9.]+), median nearest distance = (\S+)")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("landing")
    done = subprocess.run(
        [sys.executable, "-m", "tools.landing_figure", "--out", str(out), "--svg"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    printed = {k: (float(f), float(d)) for k, f, d in LINE.findall(done.stdout)}
    return out, printed


@pytest.fixture(scope="module")
def computed():
    torch.set_num_threads(1)
    return lf.compute()


def test_script_writes_a_2x_png_and_an_svg(run):
    out, printed = run
    assert sorted(printed) == ["a", "b", "c"]
    with Image.open(out / "landing.png") as img:
        width, height = img.size
    assert (width, height) == (round(10.5 * lf.DPI), round(4.6 * lf.DPI))
    assert lf.DPI >= 2 * 80  # twice the course's figure dpi
    assert (out / "landing.svg").read_text().lstrip().startswith("<?xml")


def test_printed_numbers_are_those_of_the_panels(run, computed):
    _, printed = run
    data, panels = computed
    for p in panels:
        frac, dist = printed[p.key]
        assert frac == pytest.approx(p.frac, abs=5e-4)  # the same run, rounded to 3 decimals
        assert dist == pytest.approx(p.median_distance, rel=5e-3, abs=1e-12)
        # recomputed from the samples, not read from the panel
        assert mdiff.fraction_within(p.samples, data, lf.TOL) == p.frac
    fig = lf.figure(data, panels)
    try:
        titles = [ax.get_title() for ax in fig.axes[:3]]
        for p, title in zip(panels, titles):
            assert title.startswith(f"({p.key})")
            assert f"{p.frac:.1%}" in title
        assert all(ax.get_xlabel() == "$x_1$" for ax in fig.axes[:3])
        assert min(t.get_fontsize() for ax in fig.axes[:3] for t in ax.get_xticklabels()) >= 9
    finally:
        plt.close(fig)


def test_panels_show_what_the_caption_says(computed):
    data, (a, b, c) = computed
    # (a) every sample of the exact empirical score is a training point
    assert a.frac == 1.0 and a.median_distance < 1e-6
    # (b) blurred copies: near a training point (scale sqrt(c)), but not on it
    assert b.frac == pytest.approx(1 - math.exp(-(lf.TOL**2) / (2 * lf.C)), abs=0.05)
    assert b.frac < 0.05
    assert 0.3 * math.sqrt(lf.C) < b.median_distance < 3 * math.sqrt(lf.C)
    # (c) about 1 - tau collapse; the others are new points, far from every training point
    assert c.frac == pytest.approx(1 - lf.TAU, abs=0.05)
    far = mdiff.nearest_distance(c.samples, data) > 10 * lf.TOL
    assert far.double().mean() > 0.3
    # all three start from the same latents
    assert torch.equal(a.path[0], b.path[0]) and torch.equal(b.path[0], c.path[0])
    assert torch.equal(a.path[0], mdiff.paper_latents(mdiff.VE(), lf.N_PATHS))


def test_landing_page_shows_the_figure_with_these_numbers(computed):
    _, (a, b, c) = computed
    intro = (ROOT / "intro.md").read_text()
    assert "```{figure} _static/landing.png" in intro
    assert re.search(r"^:alt: \S", intro, re.M)
    assert (ROOT / "_static" / "landing.png").is_file()
    start = intro.index("```{figure} _static/landing.png")
    block = intro[start : intro.index("\n```", start + 3)]
    for p in (a, b, c):
        assert f"{p.frac:.1%}".replace("%", " %") in block, f"panel {p.key}: {p.frac:.1%}"
    assert "rocket" not in intro
