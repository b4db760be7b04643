"""Data sets of the course: the paper's point sets and images, and small toy sets."""

from __future__ import annotations

import csv
import functools
import math
import os
import platform
import sys
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from . import _checks as check

#: Plot window of the authors' 2-D figures: ``x1 in [-2.2, 3]``, ``x2 in [-3, 2.2]``.
PAPER_WINDOW = ((-2.2, 3.0), (-3.0, 2.2))


def paper_points(dtype=torch.float64) -> Tensor:
    """The 20 training points of Baptista et al. 2025: ``np.random.seed(1); randn(20, 2)``."""
    return torch.tensor(np.random.RandomState(1).randn(20, 2), dtype=dtype)


def paper_latents(schedule, n: int, d: int = 2, seed: int = 0, dtype=torch.float64) -> Tensor:
    """Start points of the authors' runs, ``x(T) = sigma(T) xi``, ``xi ~ N(0, I)``.

    ``xi``: the float32 normals of ``torch.manual_seed(seed); torch.randn(n, d)`` (global RNG kept),
    in ``dtype``. Source: Baptista et al. 2025, E1 and E4 (their seed 0).

    Returns:
        Tensor of shape ``(n, d)``.
    """
    n, d = check.integer(n, "n"), check.integer(d, "d")
    xi = torch.randn(n, d, generator=torch.Generator().manual_seed(check.integer(seed, "seed", 0)))
    return schedule.sigma(schedule.T) * xi.to(dtype)


def four_points(dtype=torch.float64) -> Tensor:
    """The symmetric set ``(1, 0), (-1, 0), (0, 1), (0, -1)``; shape ``(4, 2)``."""
    return torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]], dtype=dtype)


def two_points(dtype=torch.float64) -> Tensor:
    """The symmetric set ``(1, 0), (-1, 0)``; shape ``(2, 2)``."""
    return torch.tensor([[1.0, 0.0], [-1.0, 0.0]], dtype=dtype)


def square_boundary(n: int = 80, half_width: float = 2.1, dtype=torch.float64) -> Tensor:
    """``n`` equispaced points ``(n, 2)`` on the boundary of ``[-a, a]^2``, ``a = half_width``,
    counter-clockwise from ``(a, -a)`` (the start points of E3)."""
    if n < 4 or n % 4:
        raise ValueError(f"n must be a positive multiple of 4, got {n}")
    a = half_width
    s = torch.linspace(-a, a, n // 4 + 1, dtype=dtype)[:-1]
    sides = [(a + 0 * s, s), (-s, a + 0 * s), (-a + 0 * s, -s), (s, -a + 0 * s)]
    return torch.cat([torch.stack(p, 1) for p in sides])


def rectangles(dtype=torch.float64) -> Tensor:
    """The two binary 64x64 training images of the authors' image experiments (E5, E9),
    ``(2, 4096)`` row-major: a 12x12 square at rows/columns 6-17, a 14x14 one at 40-53."""
    img = torch.zeros(2, 64, 64, dtype=dtype)
    img[0, 6:18, 6:18] = 1
    img[1, 40:54, 40:54] = 1
    return img.reshape(2, -1)


def gaussian_data(n: int, mean, cov, generator=None, dtype=torch.float64) -> Tensor:
    """``n`` samples ``(n, d)`` of ``N(mean, cov)`` (Cholesky factor times standard normals)."""
    n = check.integer(n, "n", low=0)
    check.generator(generator)
    mean = check.data(torch.as_tensor(mean, dtype=dtype)[None], "mean")[0]  # (d,)
    d = mean.shape[0]
    cov = torch.as_tensor(cov, dtype=dtype)
    if cov.shape != (d, d):
        raise ValueError(f"cov must have shape ({d}, {d}), got {tuple(cov.shape)}")
    chol, info = torch.linalg.cholesky_ex(cov)
    if info != 0 or not torch.allclose(cov, cov.T):
        raise ValueError("cov must be symmetric positive definite")
    z = torch.randn(n, d, generator=generator, dtype=dtype)
    return mean + z @ chol.T


def ring(n: int, radius: float = 1.0, width: float = 0.1, generator=None, dtype=torch.float64):
    """``n`` points ``(n, 2)`` near a circle: angle uniform, radius ``radius + width * N(0, 1)``."""
    n = check.integer(n, "n", low=0)
    check.generator(generator)
    check.positive(radius, "radius", zero=True)
    check.positive(width, "width", zero=True)
    u = torch.rand(n, generator=generator, dtype=dtype) * 2 * math.pi
    r = radius + width * torch.randn(n, generator=generator, dtype=dtype)
    return torch.stack([r * torch.cos(u), r * torch.sin(u)], 1)


def digits(dtype=torch.float32, scale: str = "unit", return_labels: bool = False):
    """The 1797 handwritten 8x8 digits of scikit-learn (UCI optical digits), flattened.

    ``scale="unit"``: grey levels ``0..16`` over 16, in ``[0, 1]``; ``"standard"``: minus the mean
    image, over the set's one pixel standard deviation (mean 0, mean per-pixel variance 1, blank
    border pixels 0). Source: Alpaydin and Kaynak 1998, via ``load_digits``.

    Returns:
        Tensor ``(1797, 64)``; with ``return_labels`` also the labels ``0..9``, long ``(1797,)``.
    """
    from sklearn.datasets import load_digits

    if scale not in ("unit", "standard"):
        raise ValueError(f"scale must be 'unit' or 'standard', got {scale!r}")
    bunch = load_digits()
    images = torch.tensor(bunch.data, dtype=torch.float64) / 16
    if scale == "standard":
        images = images - images.mean(0)
        images = images / images.pow(2).mean().sqrt()
    images = images.to(dtype)
    if return_labels:
        return images, torch.tensor(bunch.target, dtype=torch.long)
    return images


def _number(value: str):
    """``value`` as an int or a float where it reads as one, else the string."""
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def _results_text(name: str, directory) -> str:
    """The text of ``results/<name>.csv`` (a local file, else in Colab the release's)."""
    directory = directory if directory is not None else os.environ.get("MDIFF_RESULTS")
    if directory is not None:
        places = [Path(directory)]
    else:
        here = Path.cwd().resolve()
        places = [p / "results" for p in [here, *here.parents]]
    for place in places:
        if (place / f"{name}.csv").is_file():
            return (place / f"{name}.csv").read_text()
    if directory is None and "google.colab" in sys.modules:  # a notebook opened alone
        import urllib.request
        from importlib.metadata import metadata

        from . import __version__

        urls = dict(u.split(", ", 1) for u in metadata("mdiff").get_all("Project-URL") or [])
        repo = urls["Repository"].removeprefix("https://github.com/")
        url = f"https://raw.githubusercontent.com/{repo}/v{__version__}/results/{name}.csv"
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.read().decode()
    where = f"{places[0]}" if directory is not None else f"results/ of {Path.cwd()} or above"
    raise FileNotFoundError(
        f"no {name}.csv in {where}: run `make long-runs` in the repository, or pass "
        "directory= (or set MDIFF_RESULTS) to the folder of the stored results"
    )


def long_run(name: str, directory=None) -> tuple[list[str], list[dict]]:
    """The stored result ``results/<name>.csv`` of a long run (``make long-runs``).

    Looks in ``directory`` (default: the environment variable ``MDIFF_RESULTS``), else in
    ``results/`` of the working directory or its parents (a chapter in ``chapters/`` finds the
    repository's); in Colab, a notebook opened on its own reads its release's file instead.

    Returns:
        The provenance lines (without ``#``) and the rows: dicts of column to value, numbers
        as ``int`` or ``float``.
    """
    header, rows = split_results(_results_text(str(name), directory))
    return [line[1:].strip() for line in header], rows


#: The CPU vendor of the machines that made the stored results without a ``cpu:`` line.
LEGACY_VENDOR = "AuthenticAMD"
#: Off the vendor that made a stored result, a rerun's number may differ from the stored one by
#: ``NOISE_ATOL + NOISE_RTOL |stored|`` (sampling noise of the fractions and distances stored).
NOISE_ATOL, NOISE_RTOL = 0.03, 0.1


@functools.cache
def cpu() -> tuple[str, str]:
    """This machine's CPU vendor (``AuthenticAMD``, ``GenuineIntel``, ...) and model name. The
    BLAS and vectorised kernels torch uses depend on them: a run is bit-reproducible on machines
    of one vendor and instruction set, not across vendors (see ``tests/test_long_runs.py``)."""
    info = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return info.get("vendor_id", platform.processor() or "unknown"), info.get("model name", "")


def same_cpu_vendor(header: list[str]) -> bool:
    """Whether this machine's CPU is of the vendor that made a long run whose provenance lines
    are ``header`` (from :func:`long_run`: its ``cpu:`` line, else ``LEGACY_VENDOR``)."""
    made = next((h[5:].split(",")[0] for h in header if h.startswith("cpu: ")), LEGACY_VENDOR)
    return cpu()[0] == made


def matches_stored(got: float, stored: float, header: list[str], fmt: str) -> bool:
    """Whether a rerun's number ``got`` reproduces the ``stored`` one of a long run whose
    provenance lines are ``header`` (from :func:`long_run`): written with ``fmt``, equal on a CPU
    of the vendor that made the file (its ``cpu:`` line, else ``LEGACY_VENDOR``); elsewhere within
    ``NOISE_ATOL + NOISE_RTOL |stored|``, since training takes other kernels there."""
    if same_cpu_vendor(header):
        return f"{got:{fmt}}" == f"{stored:{fmt}}"
    return abs(got - stored) <= NOISE_ATOL + NOISE_RTOL * abs(stored)


def split_results(text: str, numbers: bool = True) -> tuple[list[str], list[dict]]:
    """The ``#`` lines (as written) and the CSV rows of a results file's ``text``; values as
    ``int``/``float`` where they read as one (``numbers=False``: the strings as stored)."""
    lines = text.splitlines()
    header = [line for line in lines if line.startswith("#")]
    rows = list(csv.DictReader(line for line in lines if line and not line.startswith("#")))
    if numbers:
        rows = [{k: _number(v) for k, v in row.items()} for row in rows]
    return header, rows
