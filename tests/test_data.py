"""Data sets: the paper's points and latents, structured sets, images, toy laws, digits."""

import pytest
import torch

import mdiff


def test_paper_points():
    y = mdiff.paper_points()
    assert y.shape == (20, 2)
    assert y[0].tolist() == pytest.approx([1.6243453636632417, -0.6117564136500754])


def test_structured_sets():
    assert mdiff.four_points().abs().sum(1).tolist() == [1.0] * 4
    b = mdiff.square_boundary(80, 2.1)
    assert b.shape == (80, 2)
    assert torch.allclose(b.abs().max(1).values, torch.full((80,), 2.1, dtype=torch.float64))
    assert len(torch.unique(b, dim=0)) == 80


def test_rectangles():
    r = mdiff.rectangles().reshape(2, 64, 64)
    assert r[0].sum() == 144 and r[1].sum() == 196
    assert r[0, 6, 6] == 1 and r[0, 17, 17] == 1 and r[0, 18, 18] == 0
    assert r[1, 40, 40] == 1 and r[1, 53, 53] == 1 and r[1, 54, 54] == 0


def test_toy_sets(gen):
    g = mdiff.gaussian_data(50000, [1.0, 2.0], [[1.0, 0.5], [0.5, 2.0]], gen)
    assert torch.allclose(
        torch.cov(g.T), torch.tensor([[1.0, 0.5], [0.5, 2.0]]).double(), atol=0.05
    )
    r = mdiff.ring(1000, 2.0, 0.05, gen)
    assert (r.norm(dim=1) - 2.0).abs().mean() < 0.06


def test_unit_scale_shape_range_and_dtype():
    x = mdiff.digits()
    assert x.shape == (1797, 64) and x.dtype == torch.float32
    assert x.min() == 0 and x.max() == 1
    levels = torch.unique(x.double() * 16)
    assert torch.equal(levels, levels.round())  # the 17 grey levels 0..16, divided by 16


def test_standard_scale():
    x = mdiff.digits(torch.float64, scale="standard")
    assert x.dtype == torch.float64
    assert torch.allclose(x.mean(0), torch.zeros(64, dtype=x.dtype), atol=1e-12)
    assert torch.allclose(x.pow(2).mean(), torch.tensor(1.0, dtype=x.dtype))
    unit = mdiff.digits(torch.float64)
    blank = unit.std(0) == 0
    assert blank.any() and (x[:, blank] == 0).all()  # always-blank pixels stay exactly zero
    # an affine map of the unit-scale data: the same images
    scale = (unit - unit.mean(0)).pow(2).mean().sqrt()
    assert torch.allclose(x * scale + unit.mean(0), unit, atol=1e-12)


def test_labels():
    x, y = mdiff.digits(return_labels=True)
    assert x.shape == (1797, 64) and y.shape == (1797,) and y.dtype == torch.long
    assert torch.equal(torch.unique(y), torch.arange(10))
    assert torch.equal(x, mdiff.digits())


def test_bad_scale():
    with pytest.raises(ValueError, match="scale must be 'unit' or 'standard'"):
        mdiff.digits(scale="minmax")


def test_paper_latents_are_the_authors_seeded_float32_normals(schedule):
    torch.manual_seed(0)
    want = float(schedule.sigma(schedule.T)) * torch.randn(1000, 2).double()
    state = torch.get_rng_state()
    got = mdiff.paper_latents(schedule, 1000)
    assert torch.equal(torch.get_rng_state(), state)  # no global randomness used
    assert got.dtype == torch.float64 and torch.equal(got, want)
    torch.manual_seed(0)  # torch draws n normals in one pass: 30 is not a prefix of 1000
    assert torch.equal(
        mdiff.paper_latents(schedule, 30),
        torch.randn(30, 2).double() * float(schedule.sigma(schedule.T)),
    )
    assert mdiff.paper_latents(schedule, 5, d=4, seed=1).shape == (5, 4)
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        mdiff.paper_latents(schedule, 0)


def test_matches_stored_is_exact_on_the_vendor_that_made_a_run_and_within_noise_elsewhere(
    monkeypatch,
):
    intel = ["experiment: X", "cpu: GenuineIntel, Intel(R) Xeon(R)"]
    legacy = ["experiment: X"]  # no cpu line: made on mdiff.data.LEGACY_VENDOR
    monkeypatch.setattr(mdiff.data, "cpu", lambda: ("GenuineIntel", "a model"))
    assert mdiff.same_cpu_vendor(intel) and not mdiff.same_cpu_vendor(legacy)
    assert mdiff.matches_stored(0.16531, 0.1653, intel, ".4f")
    assert not mdiff.matches_stored(0.1653, 0.1658, intel, ".4f")  # one digit off: not equal
    assert mdiff.matches_stored(0.1653, 0.1658, legacy, ".4f")  # other vendor: noise
    assert not mdiff.matches_stored(0.30, 0.1658, legacy, ".4f")  # beyond 0.03 + 0.1 |stored|
    monkeypatch.setattr(mdiff.data, "cpu", lambda: (mdiff.data.LEGACY_VENDOR, "a model"))
    assert mdiff.same_cpu_vendor(legacy) and not mdiff.same_cpu_vendor(intel)


def test_cpu_reads_a_vendor():
    vendor, model = mdiff.data.cpu()
    assert vendor and isinstance(model, str)
