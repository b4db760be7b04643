"""Chapter 11 exercise checks: the reference solutions pass, typical wrong answers fail."""

import pytest
import torch

import mdiff
from mdiff.classroom import CheckFailed, check_copier_energy, check_heldout_rate

# ---------------------------------------------------------------------------------------
# ex-11-heldout-rate: the share of fresh ring points that the ratio test flags


def heldout_rate(n, n_fresh, seed, ratio=1 / 3):
    gen = torch.Generator().manual_seed(seed)
    train, fresh = mdiff.ring(n, generator=gen), mdiff.ring(n_fresh, generator=gen)
    return mdiff.memorized(fresh, train, ratio).double().mean().item()


def test_heldout_rate_reference_passes(capsys):
    assert check_heldout_rate(heldout_rate)
    assert "Correct" in capsys.readouterr().out


def test_heldout_rate_accepts_a_tensor_and_cdist():
    def by_hand(n, n_fresh, seed, ratio=1 / 3):
        gen = torch.Generator().manual_seed(seed)
        train, fresh = mdiff.ring(n, generator=gen), mdiff.ring(n_fresh, generator=gen)
        d12 = torch.cdist(fresh, train).topk(2, dim=1, largest=False).values
        return (d12[:, 0] / d12[:, 1] < ratio).float().mean()

    assert check_heldout_rate(by_hand)


def _swapped(n, n_fresh, seed, ratio=1 / 3):
    gen = torch.Generator().manual_seed(seed)
    fresh, train = mdiff.ring(n_fresh, generator=gen), mdiff.ring(n, generator=gen)
    return mdiff.memorized(fresh, train, ratio).double().mean().item()


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda n, m, s, ratio=1 / 3: heldout_rate(n, m, s, ratio) * m, "not their number"),
        (lambda n, m, s, ratio=1 / 3: 1 - heldout_rate(n, m, s, ratio), "BELOW"),
        (lambda n, m, s, ratio=1 / 3: heldout_rate(n, m, s), "ratio argument"),
        (_swapped, "training points first"),
        (lambda n, m, s, ratio=1 / 3: ratio, "expected"),
        (lambda n, m, s, ratio=1 / 3: None, "None"),
    ],
)
def test_heldout_rate_wrong_answers(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_heldout_rate(wrong)


# ---------------------------------------------------------------------------------------
# ex-11-copier-energy: the energy distance of the empirical measure to the data law


def copier_energy(train, fresh):
    m = len(fresh)
    cross = torch.cdist(train, fresh).mean()
    within = torch.pdist(fresh).sum() * 2 / (m * (m - 1))
    return (2 * cross - torch.cdist(train, train).mean() - within).item()


def test_copier_energy_reference_passes(capsys):
    assert check_copier_energy(copier_energy)
    assert "Correct" in capsys.readouterr().out


def test_copier_energy_accepts_float32_and_tensors():
    def in_float32(train, fresh):
        train, fresh = train.float(), fresh.float()
        m = len(fresh)
        ff = torch.cdist(fresh, fresh).sum() / (m * (m - 1))
        return 2 * torch.cdist(train, fresh).mean() - torch.cdist(train, train).mean() - ff

    assert check_copier_energy(in_float32)


def _v_fresh(train, fresh):
    return (
        2 * torch.cdist(train, fresh).mean()
        - torch.cdist(train, train).mean()
        - torch.cdist(fresh, fresh).mean()
    ).item()


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda y, z: mdiff.energy_distance(y, z, unbiased=True), "bug of the cell above"),
        (_v_fresh, "leave out their pairs"),
        (lambda y, z: mdiff.energy_distance(y, z), "leave out their pairs"),
        (lambda y, z: copier_energy(y, z) ** 0.5, "square root"),
        (lambda y, z: copier_energy(y[:-1], z), "every training point"),
        (lambda y, z: 0.0, "expected"),
    ],
)
def test_copier_energy_wrong_answers(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_copier_energy(wrong)


def test_copier_energy_matches_the_theory_on_average():
    """E[copier energy] = E|X - X'| / N for N points of the law (the fresh part is unbiased)."""
    gen = torch.Generator().manual_seed(3)
    n, values = 10, []
    for _ in range(300):
        train = torch.randn(n, 2, generator=gen, dtype=torch.float64)
        fresh = torch.randn(200, 2, generator=gen, dtype=torch.float64)
        values.append(copier_energy(train, fresh))
    pair = torch.pdist(torch.randn(3000, 2, generator=gen, dtype=torch.float64)).mean()
    mean = torch.tensor(values).mean()
    assert abs(mean / (pair / n) - 1) < 0.15
