"""Chapter 10 checks: a scale-free tolerance test, the ratio test without duplicates, MMD^2."""

from __future__ import annotations

import math

import torch

from .feedback import _call, as_booleans, as_float, as_tensor, close, diagnose, fail, passed


def _pairwise(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Exact Euclidean distances between the rows of ``x`` and ``y`` (no matrix-product trick)."""
    return torch.cdist(x, y, compute_mode="donot_use_mm_for_euclid_dist")


def _spacing(data: torch.Tensor) -> torch.Tensor:
    """Median distance of a training point to its nearest *other* training point."""
    dd = _pairwise(data, data)
    dd.fill_diagonal_(math.inf)
    return dd.min(1).values.median()


def _scale_free_fraction(samples, data, rel: float) -> float:
    """Reference: ``frac(rel * spacing)`` with the median nearest-neighbour spacing of ``data``."""
    d1 = _pairwise(samples, data).min(1).values
    return float((d1 < rel * _spacing(data)).double().mean())


def _as_fraction(value, name: str) -> float:
    if not isinstance(value, (int, float)) and as_tensor(value, name).numel() != 1:
        shape = tuple(as_tensor(value, name).shape)
        fail(f"{name} should return one number (a fraction), got shape {shape}")
    value = as_float(value, name)
    if not math.isfinite(value):
        fail(f"{name} returned NaN or inf, but a fraction of samples lies in [0, 1]")
    if not 0 <= value <= 1:
        fail(f"{name} returned {value:.3g}, but a fraction of samples lies in [0, 1]")
    return value


def _hand_built_fraction(fn, name: str) -> None:
    """Spacings 1, 1, 2, 2, sqrt(10): median 2; with rel = 0.1 the tolerance is 0.2."""
    data = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [2.0, 2.0], [5.0, 3.0]])
    data = data.double()
    samples = data[[0, 1, 2, 3]] + torch.tensor([[0.05, 0.0], [0.0, 0.19], [0.3, 0.0], [1, 0]])
    got = _as_fraction(_call(fn, name, samples, data, 0.1), name)
    want = 0.5  # distances 0.05 and 0.19 are below 0.2; 0.3 and 1 are not
    if got == 0:
        fail(
            f"{name} returned 0 where 2 of 4 samples are within 0.1 x spacing: is your spacing "
            "zero? Each training point is at distance 0 from itself; exclude that distance "
            "(e.g. fill the diagonal of the data-to-data distance matrix with inf)"
        )
    if got != want:
        fail(
            f"{name} returned {got:.3g} on a hand-built case, expected {want}: the spacing is the "
            "MEDIAN over training points of the distance to the nearest other training point "
            "(here 2), the tolerance rel * spacing (here 0.2), and a sample counts when its "
            "nearest training point is closer than that"
        )


def check_scale_free_fraction(fn) -> bool:
    """Chapter 10: ``fn(samples, data, rel)``, the tolerance test with ``tol = rel * spacing``.

    ``spacing`` is the median over training points of the distance to the nearest *other*
    training point. Checks a hand-built case, random cases against the reference, and that
    rescaling samples and data together leaves the answer unchanged; recognises a spacing of
    zero (each point's distance to itself) and a fixed tolerance.
    """
    name = "scale_free_fraction"
    _hand_built_fraction(fn, name)
    gen = torch.Generator().manual_seed(10)
    for n_data, d in ((21, 2), (15, 5)):
        data = torch.randn(n_data, d, generator=gen, dtype=torch.float64)
        pick = torch.randint(n_data, (200,), generator=gen)
        samples = data[pick] + 0.3 * torch.rand(200, 1, generator=gen, dtype=torch.float64) * (
            torch.randn(200, d, generator=gen, dtype=torch.float64)
        )
        want = _scale_free_fraction(samples, data, 0.2)
        for k in (1.0, 1e-3, 1e3):
            got = _as_fraction(_call(fn, name, k * samples, k * data, 0.2), name)
            if not close(got, want, rtol=0.0, atol=1e-9):
                where = f"for N = {n_data} points in d = {d}"
                if k != 1.0:
                    fail(
                        f"{name} changes when samples and data are both multiplied by {k:g} "
                        f"({where}): the tolerance must scale with the data, rel * spacing, "
                        "not be a fixed number"
                    )
                fail(f"{name} returned {got:.4g} {where}, expected {want:.4g}")
    return passed(name)


def _distinct_ratio_test(samples, data, ratio: float = 1 / 3) -> torch.Tensor:
    """Reference: the ``d1 / d2 < ratio`` test on the training set without duplicates."""
    d12 = _pairwise(samples, torch.unique(data, dim=0)).topk(2, dim=1, largest=False).values
    return d12[:, 0] < ratio * d12[:, 1]


def _booleans(fn, name: str, samples, data, **kwargs) -> torch.Tensor:
    """The student's test on clones of ``samples`` and ``data``: one boolean per sample."""
    got = as_booleans(_call(fn, name, samples, data, **kwargs), name, "the test d1/d2 < ratio")
    if got.shape != (len(samples),):
        fail(
            f"{name} returns shape {tuple(got.shape)}, expected one boolean per sample "
            f"({len(samples)},)"
        )
    return got


def check_distinct_ratio_test(fn) -> bool:
    """Chapter 10: ``fn(samples, data, ratio=1/3)``, the ratio test robust to duplicated points.

    Returns a boolean per sample. Checks a hand-built training set with a duplicated point
    (a copy of it must be flagged), the direction of the test, the ``ratio`` argument and
    random cases; recognises ratios returned instead of booleans.
    """
    name = "distinct_ratio_test"
    data = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0], [0.0, 0.0]], dtype=torch.float64)
    samples = torch.tensor(
        [[0.0, 0.0], [0.1, 0.0], [3.0, 0.2], [1.5, 0.0], [0.0, 1.2]], dtype=torch.float64
    )
    # d1/d2 against the distinct points: 0, 0.1/2.9, 0.2/3.0, 1.5/1.5, 1.2/2.8
    want = torch.tensor([True, True, True, False, False])
    got = _booleans(fn, name, samples, data)
    if bool(got[3]) or bool(got[4]):
        fail(
            f"{name} flags samples that are far from every training point (d1/d2 = 1 and 0.43): "
            "a sample is memorized when d1/d2 is BELOW the ratio"
        )
    if not bool(got[0]):
        fail(
            f"{name} does not flag an exact copy of a training point that appears twice in the "
            "data: then d1 = d2 = 0. Remove duplicated training points (torch.unique(data, "
            "dim=0)) before taking the nearest and second-nearest distances"
        )
    if not torch.equal(got, want):
        fail(f"{name} returned {got.tolist()} on a hand-built case, expected {want.tolist()}")
    got = _booleans(fn, name, samples, data, ratio=0.05)
    if not torch.equal(got, torch.tensor([True, True, False, False, False])):
        fail(f"{name} ignores its ratio argument: with ratio = 0.05 only d1/d2 < 0.05 counts")
    gen = torch.Generator().manual_seed(11)
    data = torch.randn(30, 3, generator=gen, dtype=torch.float64)
    data = torch.cat([data, data[:5]])
    samples = torch.cat([data[:10], torch.randn(50, 3, generator=gen, dtype=torch.float64)])
    want = _distinct_ratio_test(samples, data)
    wrong = int((_booleans(fn, name, samples, data) != want).sum())
    if wrong:
        fail(f"{name} disagrees with the reference on {wrong} of 60 random samples")
    return passed(name)


def _mmd2(x, y, bandwidth: float) -> torch.Tensor:
    """Reference: squared MMD, Gaussian kernel, averages over all pairs (V-statistic)."""

    def k(a, b):
        return torch.exp(-(_pairwise(a, b) ** 2) / (2 * bandwidth**2))

    return k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean()


def _mmd2_variants(x, y, h: float) -> dict:
    """Typical wrong versions of the squared MMD (message -> value), for diagnosis."""
    dxx, dyy, dxy = _pairwise(x, x), _pairwise(y, y), _pairwise(x, y)

    def gauss(d):
        return torch.exp(-(d**2) / (2 * h * h))

    def v(k):
        return k(dxx).mean() + k(dyy).mean() - 2 * k(dxy).mean()

    n, m = len(x), len(y)
    u = (gauss(dxx).sum() - n) / (n * (n - 1)) + (gauss(dyy).sum() - m) / (m * (m - 1))
    right = v(gauss)
    return {
        "this is MMD, not MMD^2: return the square without taking its root": right.clamp_min(
            0
        ).sqrt(),
        "the cross term must be counted twice: MMD^2 = mean k(x, x') + mean k(y, y') "
        "- 2 mean k(x, y)": right + gauss(dxy).mean(),
        "the kernel uses the squared distance: exp(-|x - y|^2 / (2 h^2))": v(
            lambda d: torch.exp(-d / (2 * h * h))
        ),
        "check the kernel width: exp(-|x - y|^2 / (2 h^2)), with the factor 2": v(
            lambda d: torch.exp(-(d**2) / (h * h))
        ),
        "average over ALL pairs, including i = j (the V-statistic); you left out the "
        "diagonal terms k(x_i, x_i) = 1": u - 2 * gauss(dxy).mean(),
    }


def check_mmd2(fn) -> bool:
    """Chapter 10: ``fn(x, y, bandwidth)``, squared MMD with a Gaussian kernel (V-statistic).

    Checks zero for identical samples, a hand-built case, random cases in several dimensions
    and bandwidths, and names the usual slips: a square root, the cross-term factor 2, an
    unsquared distance, the kernel width, and leaving out the diagonal terms.
    """
    name = "mmd2"
    gen = torch.Generator().manual_seed(12)
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
    cases = [(x, x.clone(), 1.0), (x, torch.tensor([[0.0, 1.0]], dtype=torch.float64), 1.0)]
    for d, h in ((2, 0.5), (2, 2.0), (8, 1.5)):
        a = torch.randn(40, d, generator=gen, dtype=torch.float64)
        b = 0.5 + torch.randn(30, d, generator=gen, dtype=torch.float64)
        cases.append((a, b, h))
    for k, (a, b, h) in enumerate(cases):
        where = f"(x: {tuple(a.shape)}, y: {tuple(b.shape)}, bandwidth {h})"
        diagnose(
            fn,
            name,
            (a, b, h),
            _mmd2(a, b, h),
            where="(x, x)" if k == 0 else where,
            rtol=1e-8,
            atol=1e-12,
            scale=2.0,  # kernel values are at most 1: the terms that cancel are of size 1
            variants=_mmd2_variants(a, b, h),
            advice="the MMD of a sample with itself is 0" if k == 0 else "",
        )
    return passed(name)
