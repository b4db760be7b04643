"""Chapter 10 checks: the ratio test's false-positive rate, the ratio test without duplicates,
a scale-free tolerance test and its excess over held-out points (the Part IV assignment)."""

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


def _rate_variants(ratio: float, d: int) -> dict:
    """Typical wrong false-positive rates (message -> value)."""
    return {
        "the rate must depend on the dimension d: the volume of a ball of radius r scales "
        "like r^d": ratio,
        "the exponent is the dimension d, not 2 in every dimension": ratio**2,
        "the ratio of the volumes of two concentric balls of radii r rho and rho is r^d, "
        "not r^(1/d)": ratio ** (1 / d),
        "that is the probability that the point is NOT flagged (d1/d2 >= ratio)": 1 - ratio**d,
        "the nearest point is uniform in the BALL of radius d2 (exponent d), not on its "
        "sphere (exponent d - 1)": ratio ** (d - 1),
        "P(d1 < r d2) is a ratio of two ball volumes, not a product over the coordinates": 1
        - (1 - ratio) ** d,
    }


def check_false_positive_rate(fn) -> bool:
    """Chapter 10: ``fn(ratio, d)``, the probability ``ratio**d`` that the ratio test flags a point.

    For a homogeneous Poisson process of training points in ``R^d``, ``(d1/d2)^d`` is uniform on
    ``(0, 1)``. Checked for several thresholds and dimensions (1 to 64); names a rate that
    ignores ``d``, the plane's exponent 2 everywhere, ``r^(1/d)``, the complement, the exponent
    ``d - 1`` and ``1 - (1 - r)^d``.
    """
    name = "false_positive_rate"
    for ratio, d in ((0.2, 5), (1 / 3, 2), (1 / 3, 1), (0.5, 3), (0.9, 10), (1 / 3, 64)):
        diagnose(
            fn,
            name,
            (ratio, d),
            torch.tensor(ratio**d, dtype=torch.float64),
            where=f"(ratio = {ratio:.4g}, d = {d})",
            rtol=1e-9,
            atol=0.0,
            variants=_rate_variants(ratio, d),
            shape="one number, the probability that a new point is flagged",
        )
    return passed(name)


def _excess_variants(samples, heldout, data, rel: float) -> dict:
    """Typical wrong excesses (message -> value)."""
    s_frac = _scale_free_fraction(samples, data, rel)
    h_frac = _scale_free_fraction(heldout, data, rel)

    def fixed(x):
        return float((_pairwise(x, data).min(1).values < rel).double().mean())

    return {
        "subtract the held-out points' fraction: the excess is frac(samples) - frac(heldout), "
        "the share of copies beyond what fresh data get by chance": s_frac,
        "the sign is reversed: return frac(samples) - frac(heldout)": h_frac - s_frac,
        "the tolerance is rel x (median nearest-neighbour spacing of the training set), not "
        "rel itself": fixed(samples) - fixed(heldout),
        "use the rel argument (here not 0.1)": _scale_free_fraction(samples, data, 0.1)
        - _scale_free_fraction(heldout, data, 0.1),
    }


def check_calibrated_excess(fn) -> bool:
    """Chapter 10: ``fn(samples, heldout, data, rel=0.1)``, the scale-free fraction of the samples
    minus that of held-out points.

    Checks a hand-built case, random cases in d = 2 and d = 6 at two ``rel`` and in other units
    (everything multiplied by 1e3); names a missing subtraction, the reversed sign, a fixed
    tolerance and an ignored ``rel``.
    """
    name = "calibrated_excess"
    data = torch.tensor(
        [[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [2.0, 2.0], [5.0, 3.0]], dtype=torch.float64
    )
    samples = data[[0, 1, 2, 3]] + torch.tensor(
        [[0.05, 0.0], [0.0, 0.19], [0.3, 0.0], [1.0, 0.0]], dtype=torch.float64
    )
    heldout = torch.tensor([[0.15, 0.0], [3.0, 0.5], [4.0, 4.0], [1.0, 1.0]], dtype=torch.float64)
    cases = [(samples, heldout, data, 0.1, "on a hand-built case (tolerance 0.2)")]
    gen = torch.Generator().manual_seed(13)
    for n_data, d, rel in ((25, 2, 0.3), (18, 6, 0.5)):
        y = torch.randn(n_data, d, generator=gen, dtype=torch.float64)
        pick = torch.randint(n_data, (150,), generator=gen)
        x = y[pick] + 0.2 * torch.randn(150, d, generator=gen, dtype=torch.float64)
        z = torch.randn(120, d, generator=gen, dtype=torch.float64)
        where = f"for N = {n_data} training points in d = {d}, rel = {rel}"
        cases.append((x, z, y, rel, where))
        cases.append((1e3 * x, 1e3 * z, 1e3 * y, rel, where + ", all multiplied by 1000"))
    for x, z, y, rel, where in cases:
        want = _scale_free_fraction(x, y, rel) - _scale_free_fraction(z, y, rel)
        diagnose(
            fn,
            name,
            (x, z, y),
            torch.tensor(want, dtype=torch.float64),
            kwargs={"rel": rel},
            where=where,
            rtol=0.0,
            atol=1e-9,
            variants=_excess_variants(x, z, y, rel),
            shape="one number, a difference of two fractions",
        )
    return passed(name)
