"""The public API on a second device (a GPU), where one exists: every tensor follows its inputs.

On a machine without one these tests are skipped with the reason; the first machine with CUDA
or MPS runs them.
"""

import pytest
import torch

import mdiff


def _devices() -> list[str]:
    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        found.append("mps")
    return found


DEVICES = _devices() or [
    pytest.param("none", marks=pytest.mark.skip(reason="no CUDA or MPS device on this machine"))
]


@pytest.fixture(params=DEVICES)
def device(request):
    return torch.device(request.param)


def test_scores_samplers_and_metrics_stay_on_the_device(device, schedule):
    data = mdiff.paper_points(torch.float32).to(device)
    x = mdiff.paper_latents(schedule, 64, dtype=torch.float32).to(device)
    scores = [
        mdiff.empirical_score(schedule, data),
        mdiff.tikhonov_score(schedule, data, 1e-2),
        mdiff.empirical_bayes_score(schedule, data, 0.1),
        mdiff.smoothed_score(schedule, data, 0.05),
    ]
    for score in scores:
        out = score(x, 0.3)
        assert out.device == x.device
        cpu = score(x.cpu(), 0.3)
        assert torch.allclose(out.cpu(), cpu, rtol=1e-4, atol=1e-4)
    ts = mdiff.time_grid(schedule, 20, device=device, dtype=torch.float32)
    for method in ("heun", "exponential-2m"):
        y = mdiff.probability_flow(schedule, scores[0], x, ts, method=method)
        assert y.device == x.device
    gen = torch.Generator(device=device).manual_seed(0)
    y = mdiff.euler_maruyama(schedule, scores[0], x, ts, generator=gen)
    assert y.device == x.device
    assert mdiff.nearest_distance(y, data).device == x.device
    assert 0 <= mdiff.fraction_within(y, data, 1e-2) <= 1
    assert mdiff.memorized(y, data).device == x.device
    assert mdiff.posterior_weights(schedule, data, x, 0.5).device == x.device
    assert mdiff.empirical_log_density(schedule, data, x, 0.5).device == x.device


def test_training_stays_on_the_device(device, schedule):
    data = mdiff.paper_points(torch.float32).to(device)
    nets = [
        mdiff.MLP(width=16, generator=torch.Generator().manual_seed(k)).to(device) for k in range(2)
    ]
    gen = torch.Generator(device=device).manual_seed(0)
    run = mdiff.train(schedule, nets[0], data, 5, progress=False, generator=gen)
    assert run.losses.isfinite().all()
    gen = torch.Generator(device=device).manual_seed(0)
    runs = mdiff.train_many(schedule, nets, data, 5, c=[0.0, 0.1], progress=False, generator=gen)
    assert all(r.losses.isfinite().all() for r in runs)
    score = mdiff.score_from_model(schedule, runs[0].net)
    assert score(data, 0.5).device == data.device
