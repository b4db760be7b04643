"""The 8x8 digits loader (scikit-learn's copy of the UCI optical digits)."""

import pytest
import torch

import mdiff


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
