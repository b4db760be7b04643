"""Two-sample distances (energy distance, MMD) on hand-built cases and known Gaussian values."""

import math

import pytest
import torch

import mdiff
import mdiff.metrics

F64 = torch.float64


def _normal_quantiles(n: int, shift: float = 0.0) -> torch.Tensor:
    """A deterministic 'sample' of N(shift, 1): the quantiles at (i - 1/2) / n, shape (n, 1)."""
    p = (torch.arange(n, dtype=F64) + 0.5) / n
    return (shift + math.sqrt(2) * torch.erfinv(2 * p - 1))[:, None]


def _abs_normal_mean(mu: float, s: float) -> float:
    """E|Z| for Z ~ N(mu, s^2)."""
    phi = 0.5 * (1 + math.erf(-mu / (s * math.sqrt(2))))
    return s * math.sqrt(2 / math.pi) * math.exp(-(mu**2) / (2 * s * s)) + mu * (1 - 2 * phi)


def test_identical_samples_give_exactly_zero():
    a = torch.randn(200, 3, dtype=F64)
    assert mdiff.energy_distance(a, a) == 0.0
    assert mdiff.energy_distance(a, a.clone()) == 0.0
    assert mdiff.mmd(a, a, 0.7) == 0.0
    far = 1000 + torch.randn(100, 2)  # float32 far from the origin: centring keeps it exact
    assert mdiff.energy_distance(far, far) == 0.0
    assert mdiff.mmd(far, far, 0.1) == 0.0


def test_hand_built_single_points():
    a, b = torch.tensor([[0.0]], dtype=F64), torch.tensor([[1.0]], dtype=F64)
    assert mdiff.energy_distance(a, b) == pytest.approx(2.0)
    assert mdiff.mmd(a, b, 0.5) == pytest.approx(2 - 2 * math.exp(-2.0))
    a2, b2 = torch.tensor([[0.0, 0.0]], dtype=F64), torch.tensor([[3.0, 4.0]], dtype=F64)
    assert mdiff.energy_distance(a2, b2) == pytest.approx(10.0)


def test_hand_built_v_and_u_statistics():
    # a = b = {0, 1}: all pairs (V) average |x - y| = 1/2 everywhere; pairs i != j (U) give 1
    a = torch.tensor([[0.0], [1.0]], dtype=F64)
    assert mdiff.energy_distance(a, a.clone()) == 0.0
    assert mdiff.energy_distance(a, a.clone(), unbiased=True) == pytest.approx(2 * 0.5 - 1 - 1)
    q = math.exp(-1 / (2 * 0.8**2))
    assert mdiff.mmd(a, a.clone(), 0.8) == pytest.approx(0.0, abs=1e-15)
    assert mdiff.mmd(a, a.clone(), 0.8, unbiased=True) == pytest.approx(q - 1)


@pytest.mark.parametrize("mu", [0.5, 1.0, 2.0])
def test_energy_distance_of_shifted_gaussians_1d(mu):
    # X ~ N(0, 1), Y ~ N(mu, 1): E = 2 E|N(mu, 2)| - 2 E|N(0, 2)|
    want = 2 * _abs_normal_mean(mu, math.sqrt(2)) - 2 * _abs_normal_mean(0.0, math.sqrt(2))
    a, b = _normal_quantiles(1000), _normal_quantiles(1000, mu)  # a grid: no sampling noise
    assert mdiff.energy_distance(a, b) == pytest.approx(want, abs=1e-3)


@pytest.mark.parametrize(("mu", "h"), [(0.5, 1.0), (1.0, 0.5), (2.0, 2.0)])
def test_mmd_of_shifted_gaussians_1d(mu, h):
    # E exp(-Z^2 / (2 h^2)) for Z ~ N(m, s^2) is h / sqrt(h^2 + s^2) exp(-m^2 / (2 (h^2 + s^2)))
    c = h / math.sqrt(h * h + 2)
    want = 2 * c * (1 - math.exp(-(mu**2) / (2 * (h * h + 2))))
    a, b = _normal_quantiles(1000), _normal_quantiles(1000, mu)
    assert mdiff.mmd(a, b, h) == pytest.approx(want, abs=1e-3)


def test_symmetric():
    g = torch.Generator().manual_seed(3)
    a = torch.randn(70, 2, generator=g, dtype=F64)
    b = 0.3 + 1.5 * torch.randn(40, 2, generator=g, dtype=F64)
    for unbiased in (False, True):
        e_ab = mdiff.energy_distance(a, b, unbiased=unbiased)
        assert e_ab == pytest.approx(mdiff.energy_distance(b, a, unbiased=unbiased), rel=1e-12)
        m_ab = mdiff.mmd(a, b, 0.4, unbiased=unbiased)
        assert m_ab == pytest.approx(mdiff.mmd(b, a, 0.4, unbiased=unbiased), rel=1e-12)


def test_scaling_and_translation():
    g = torch.Generator().manual_seed(4)
    a = torch.randn(60, 3, generator=g, dtype=F64)
    b = torch.randn(50, 3, generator=g, dtype=F64) + torch.tensor([0.5, 0.0, -1.0], dtype=F64)
    shift = torch.tensor([10.0, -3.0, 7.0], dtype=F64)
    e = mdiff.energy_distance(a, b)
    assert mdiff.energy_distance(2.5 * a + shift, 2.5 * b + shift) == pytest.approx(2.5 * e)
    m = mdiff.mmd(a, b, 0.8)
    assert mdiff.mmd(2.5 * a + shift, 2.5 * b + shift, 2.5 * 0.8) == pytest.approx(m)


def test_row_blocks_give_the_same_numbers(monkeypatch):
    g = torch.Generator().manual_seed(5)
    a = torch.randn(53, 2, generator=g, dtype=F64)
    b = torch.randn(37, 2, generator=g, dtype=F64) + 0.2
    full = [mdiff.energy_distance(a, b, unbiased=u) for u in (False, True)]
    full += [mdiff.mmd(a, b, 0.5, unbiased=u) for u in (False, True)]
    monkeypatch.setattr(mdiff.metrics, "_PAIR_BLOCK", 40)  # one row per block
    small = [mdiff.energy_distance(a, b, unbiased=u) for u in (False, True)]
    small += [mdiff.mmd(a, b, 0.5, unbiased=u) for u in (False, True)]
    assert small == pytest.approx(full, rel=1e-12, abs=1e-15)


def test_unbiased_estimates_average_to_zero_for_equal_laws():
    g = torch.Generator().manual_seed(6)
    u, v = [], []
    for _ in range(300):
        a, b = (torch.randn(15, 2, generator=g, dtype=F64) for _ in range(2))
        u.append(mdiff.energy_distance(a, b, unbiased=True))
        v.append(mdiff.energy_distance(a, b))
    u, v = torch.tensor(u), torch.tensor(v)
    assert abs(u.mean()) < 3 * u.std() / math.sqrt(len(u))
    assert v.mean() > 10 * v.std() / math.sqrt(len(v))  # the V-statistic is biased upwards
    assert (v > u).all()


def test_float32_input_is_accepted():
    a = torch.randn(100, 2)
    b = a + 1.0
    e32, e64 = mdiff.energy_distance(a, b), mdiff.energy_distance(a.double(), b.double())
    assert isinstance(e32, float) and e32 == pytest.approx(e64, rel=1e-6)


def test_bad_input():
    a = torch.zeros(5, 2)
    with pytest.raises(ValueError, match="same d"):
        mdiff.energy_distance(a, torch.zeros(5, 3))
    with pytest.raises(ValueError, match="bandwidth"):
        mdiff.mmd(a, a, 0.0)
    with pytest.raises(ValueError, match="bandwidth"):
        mdiff.mmd(a, a, float("nan"))
    with pytest.raises(ValueError, match="at least 2 rows"):
        mdiff.energy_distance(a, torch.zeros(1, 2), unbiased=True)
    with pytest.raises(ValueError, match="non-empty"):
        mdiff.mmd(torch.zeros(0, 2), a, 1.0)
    with pytest.raises(ValueError, match="finite"):
        mdiff.energy_distance(torch.full((3, 2), float("inf")), a)


def test_exported():
    assert {"energy_distance", "mmd"} <= set(mdiff.__all__)
