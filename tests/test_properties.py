"""A seeded random sweep: exact scores, weights, denoiser and metrics against direct float64
references, over random shapes, dtypes, data offsets and scales, schedules and times.

The references are written from the definitions with explicit differences ``x - m y_n`` in
float64 on the same (rounded) inputs. Float64 results must agree to ~1e-9; float32 results to
the rounding that float32 inputs of that size allow: ``eps32 (|x| + |y|)`` in a distance.
"""

import math

import pytest
import torch

import mdiff

EPS32 = torch.finfo(torch.float32).eps


def case(seed: int):
    g = torch.Generator().manual_seed(seed)
    pick = lambda options: options[int(torch.randint(len(options), (1,), generator=g))]  # noqa: E731
    n_data, d, n = pick([1, 2, 7, 40]), pick([1, 2, 5, 33]), pick([1, 3, 50])
    offset, scale = pick([0.0, 3.0, -50.0, 1000.0]), pick([1e-2, 1.0, 30.0])
    schedule = pick([mdiff.VP(), mdiff.VE(), mdiff.VP(T=0.4), mdiff.VE(sigma0=3.0, T=2.0)])
    t = pick([1e-6, 1e-4, 1e-2, 0.3]) * schedule.T
    dtype = pick([torch.float32, torch.float64])
    data = offset + scale * torch.randn(n_data, d, dtype=torch.float64, generator=g)
    idx = torch.randint(n_data, (n,), generator=g)
    z = torch.randn(n, d, dtype=torch.float64, generator=g)
    x = schedule.m(t) * data[idx] + pick([0.5, 3.0]) * schedule.sigma(t) * z
    rounded = lambda a: a.to(dtype).double()  # noqa: E731
    return schedule, t, dtype, rounded(data), rounded(x)


def reference(schedule, data, x, t):
    m, var = float(schedule.m(t)), float(schedule.sigma(t)) ** 2
    diff = x[:, None, :] - m * data[None]  # (n, N, d)
    logits = -(diff * diff).sum(-1) / (2 * var)
    w = torch.softmax(logits, 1)
    resid = -(w[..., None] * diff).sum(1)  # m xbar - x, from the differences
    return w, w @ data, resid / var, torch.logsumexp(logits, 1), diff.norm(dim=-1)


@pytest.mark.parametrize("seed", range(120))
def test_sweep_against_direct_float64_references(seed):
    schedule, t, dtype, data, x = case(seed)
    w, den, score, lse, dist = reference(schedule, data, x, t)
    xs, ys = x.to(dtype), data.to(dtype)
    var = float(schedule.sigma(t)) ** 2
    size = (x.abs().max() + data.abs().max()).item()
    if dtype == torch.float64:
        dist_tol, rel = 1e-12 * size, 1e-9
    else:
        dist_tol, rel = 8 * EPS32 * size, 1e-4
    # a distance is known to dist_tol, so a logit to |x - m y| dist_tol / var
    logit_tol = (dist.min(1).values * dist_tol / var + dist_tol**2 / var).max().item()
    if logit_tol < 1e-2:  # weights resolvable in this dtype at this t
        got_w = mdiff.posterior_weights(schedule, ys, xs, t).double()
        assert (got_w - w).abs().max() <= 4 * logit_tol + rel
        got_den = mdiff.denoiser(schedule, ys, xs, t).double()
        spread = (data.max(0).values - data.min(0).values).max().item()
        assert (got_den - den).abs().max() <= (4 * logit_tol + rel) * spread + dist_tol
    got_s = mdiff.empirical_score(schedule, ys)(xs, t).double()
    if logit_tol < 1e-2:
        bound = rel * score.norm(dim=1) + (4 * logit_tol * dist.max(1).values + 2 * dist_tol) / var
        assert ((got_s - score).norm(dim=1) <= bound).all()
    got_lse = mdiff.empirical_log_density(schedule, ys, xs, t).double()
    want = lse - math.log(len(data)) - 0.5 * data.shape[1] * math.log(2 * math.pi * var)
    assert ((got_lse - want).abs() <= rel * want.abs() + 4 * logit_tol + 1e-9).all()
    plain = (x[:, None, :] - data[None]).norm(dim=-1).min(1).values  # metrics: |x - y|
    near = mdiff.nearest_distance(xs, ys).double()
    assert ((near - plain).abs() <= dist_tol + rel * plain).all()
