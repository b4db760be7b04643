"""Chapter 11 checks: the ratio test's false-positive rate on the ring, measured; the energy
distance of the training set itself (the copier) to the data law, debugged."""

from __future__ import annotations

import torch

from .feedback import diagnose, passed


def _pairs(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Exact Euclidean distances between the rows of ``a`` and ``b`` (no matrix-product trick)."""
    return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")


def _heldout_rate(n: int, n_fresh: int, seed: int, ratio: float = 1 / 3) -> float:
    """Reference: ``n`` ring points, then ``n_fresh`` more, from one generator; flagged share."""
    from ..data import ring

    gen = torch.Generator().manual_seed(seed)
    train, fresh = ring(n, generator=gen), ring(n_fresh, generator=gen)
    d12 = _pairs(fresh, train).topk(2, dim=1, largest=False).values
    return float((d12[:, 0] < ratio * d12[:, 1]).double().mean())


def _rate_variants(n: int, n_fresh: int, seed: int, ratio: float) -> dict:
    """Typical wrong measurements (message -> value)."""
    from ..data import ring

    gen = torch.Generator().manual_seed(seed)
    train, fresh = ring(n, generator=gen), ring(n_fresh, generator=gen)
    d12 = _pairs(fresh, train).topk(2, dim=1, largest=False).values
    flagged = (d12[:, 0] < ratio * d12[:, 1]).double()
    other = torch.Generator().manual_seed(seed)
    fresh_first, train_second = ring(n_fresh, generator=other), ring(n, generator=other)
    d12_swapped = _pairs(fresh_first, train_second).topk(2, dim=1, largest=False).values
    return {
        "return the fraction of flagged fresh points, not their number": float(flagged.sum()),
        "that is the share NOT flagged: a point is flagged when d1/d2 is BELOW the ratio": float(
            1 - flagged.mean()
        ),
        "use the ratio argument (here not 1/3)": _heldout_rate(n, n_fresh, seed),
        "draw the n training points first and the n_fresh fresh points second, from the one "
        "generator seeded with seed": float(
            (d12_swapped[:, 0] < ratio * d12_swapped[:, 1]).double().mean()
        ),
    }


def check_heldout_rate(fn) -> bool:
    """Chapter 11: ``fn(n, n_fresh, seed, ratio=1/3)``, the share of fresh ring points flagged.

    Protocol: ``gen = torch.Generator().manual_seed(seed)``, ``n`` training points
    ``mdiff.ring(n, generator=gen)``, then ``n_fresh`` fresh points from the same generator, and
    the fraction of fresh points with ``d1/d2 < ratio`` against the training points. Checked for
    sizes from 8 to 3000, several seeds and ratios; names a count, the complement, an ignored
    ``ratio`` and the draws in the wrong order.
    """
    name = "heldout_rate"
    for n, n_fresh, seed, ratio in ((16, 600, 0, 1 / 3), (3000, 500, 4, 1 / 3), (8, 300, 9, 0.2),
                                    (200, 400, 7, 0.5)):  # fmt: skip
        diagnose(
            fn,
            name,
            (n, n_fresh, seed),
            torch.tensor(_heldout_rate(n, n_fresh, seed, ratio), dtype=torch.float64),
            kwargs={"ratio": ratio},
            where=f"(n = {n}, n_fresh = {n_fresh}, seed = {seed}, ratio = {ratio:.3g})",
            rtol=0.0,
            atol=1e-9,
            variants=_rate_variants(n, n_fresh, seed, ratio),
            shape="one number, a fraction of the fresh points",
        )
    return passed(name)


def _copier_energy(train: torch.Tensor, fresh: torch.Tensor, unbiased_train: bool = False):
    """Reference: ``2 E|Y - Z| - E|Y - Y'| - E|Z - Z'|``, ``Y`` from the empirical measure of
    ``train`` (all ``N^2`` pairs) and ``Z, Z'`` distinct fresh points (pairs ``i != j``)."""
    n, m = len(train), len(fresh)
    tt = _pairs(train, train).sum() / (n * (n - 1) if unbiased_train else n * n)
    ff = _pairs(fresh, fresh).sum() / (m * (m - 1))
    return float(2 * _pairs(train, fresh).mean() - tt - ff)


def _copier_variants(train: torch.Tensor, fresh: torch.Tensor) -> dict:
    n, m = len(train), len(fresh)
    cross, tt, ff = _pairs(train, fresh).mean(), _pairs(train, train).mean(), _pairs(fresh, fresh)
    return {
        "this is the bug of the cell above: without the pairs i = j the training-set term is "
        "that of a sample OF p_0, whose expected distance to p_0 is 0; the copier's law is the "
        "empirical measure, so average |y_i - y_j| over all N^2 pairs (i = j included)": (
            _copier_energy(train, fresh, unbiased_train=True)
        ),
        "the fresh points are a sample of p_0, not its law: leave out their pairs i = j "
        "(average over i != j), or the value is biased up by about E|X - X'| / n_fresh": float(
            2 * cross - tt - ff.mean()
        ),
        "the cross term 2 E|Y - Z| has the factor 2": float(cross - tt - ff.sum() / (m * (m - 1))),
        "return the energy distance itself, not its square root": (
            _copier_energy(train, fresh) ** 0.5 if _copier_energy(train, fresh) > 0 else None
        ),
        "use every training point (all N of them)": _copier_energy(train[: n - 1], fresh),
    }


def check_copier_energy(fn) -> bool:
    """Chapter 11: ``fn(train, fresh)``, the energy distance of the empirical measure of
    ``train`` to the law of ``fresh``: all ``N^2`` training pairs, fresh pairs ``i != j``.

    Checked on a hand-built case and random cases in d = 2 and d = 5 of several sizes; names
    the U-statistic over the training set (the bug), a V-statistic over the fresh points, a
    missing factor 2, a square root and a dropped training point.
    """
    name = "copier_energy"
    gen = torch.Generator().manual_seed(11)
    train = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]], dtype=torch.float64)
    fresh = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0], [-1.0, 0.5]], dtype=torch.float64)
    cases = [(train, fresh, "on a hand-built case")]
    for n, m, d in ((20, 300, 2), (7, 150, 5), (200, 250, 2)):
        y = torch.randn(n, d, generator=gen, dtype=torch.float64)
        z = torch.randn(m, d, generator=gen, dtype=torch.float64)
        cases.append((y, z, f"for N = {n} training points and {m} fresh points in d = {d}"))
    for y, z, where in cases:
        diagnose(
            fn,
            name,
            (y, z),
            torch.tensor(_copier_energy(y, z), dtype=torch.float64),
            where=where,
            rtol=1e-9,
            atol=1e-12,
            variants=_copier_variants(y, z),
            shape="one number, an energy distance",
        )
    return passed(name)
