"""The formulas of the notation page (chapters/notation.md), checked against ``mdiff``.

The DDPM dictionary (``bar alpha_t = m^2``, ``beta_t``, the epsilon-, x0- and v-predictions and
their conversions to the score and the denoiser) and the flow-matching dictionary (an
interpolant ``a x_0 + b z`` as a schedule with ``m = a``, ``sigma = b``, and the flow-matching
velocity equal to the probability-flow velocity), on the course's schedules and on a linear
(rectified-flow) interpolant written as a schedule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
import torch

import mdiff
from mdiff.sampling import pf_drift

TIMES = (1.0, 0.5, 0.1, 1e-2, 1e-3)


@dataclass(frozen=True)
class Linear:
    """The rectified-flow interpolant ``x_t = (1 - t) x_0 + t z`` as a schedule on ``[0, T]``."""

    T: float = 0.9  # m(1) = 0 would make the score's m-division singular

    @staticmethod
    def _t(t):
        return t if isinstance(t, torch.Tensor) else torch.tensor(float(t), dtype=torch.float64)

    def m(self, t):
        return 1 - self._t(t)

    def sigma(self, t):
        return self._t(t) * 1.0

    def f(self, t):  # a' / a
        return -1 / (1 - self._t(t))

    def g2(self, t):  # 2 b b' - 2 (a'/a) b^2
        t = self._t(t)
        return 2 * t + 2 * t * t / (1 - t)

    def t_of_sigma(self, sigma):  # for mdiff.time_grid
        return self._t(sigma) * 1.0


SCHEDULES = {"VP": mdiff.VP(), "VE": mdiff.VE(), "OU": mdiff.VP(2.0, 2.0), "linear": Linear()}


def _derivative(fn, t: float) -> float:
    """d fn / dt at t by autograd (the schedules are torch functions of a tensor t)."""
    tt = torch.tensor(t, dtype=torch.float64, requires_grad=True)
    out = fn(tt)
    if not out.requires_grad:  # a constant, e.g. m = 1 for VE
        return 0.0
    (grad,) = torch.autograd.grad(out, tt)
    return float(grad)


@pytest.fixture
def setting():
    gen = torch.Generator().manual_seed(3)
    data = mdiff.paper_points()
    x = 1.5 * torch.randn(64, 2, generator=gen, dtype=torch.float64)
    return data, x


# --- DDPM ------------------------------------------------------------------------------------


def test_bar_alpha_is_m_squared_and_the_ddpm_forward_process():
    vp = mdiff.VP()
    t = torch.linspace(0, 1, 101, dtype=torch.float64)
    bar_alpha = vp.m(t) ** 2
    assert torch.allclose(bar_alpha, torch.exp(-vp.alpha(t)), rtol=1e-14)
    assert torch.allclose(1 - bar_alpha, vp.sigma(t) ** 2, atol=1e-14)
    # x_t = sqrt(bar alpha) x_0 + sqrt(1 - bar alpha) eps has the transition kernel's moments
    gen = torch.Generator().manual_seed(0)
    x0 = torch.tensor([1.0, -2.0], dtype=torch.float64)
    eps = torch.randn(200_000, 2, generator=gen, dtype=torch.float64)
    tt = 0.4
    xt = math.sqrt(float(vp.m(tt) ** 2)) * x0 + math.sqrt(float(1 - vp.m(tt) ** 2)) * eps
    assert torch.allclose(xt.mean(0), vp.m(tt) * x0, atol=1e-2)
    assert torch.allclose(
        xt.var(0), vp.sigma(tt) ** 2 * torch.ones(2, dtype=torch.float64), rtol=1e-2
    )


@pytest.mark.parametrize("steps", [100, 1000])
def test_ddpm_beta_is_the_rate_times_the_step(steps):
    vp = mdiff.VP()
    t = torch.linspace(0, 1, steps + 1, dtype=torch.float64)
    bar_alpha = vp.m(t) ** 2
    beta_k = 1 - bar_alpha[1:] / bar_alpha[:-1]  # DDPM: 1 - beta_t = bar alpha_t / bar alpha_{t-1}
    exact = -torch.expm1(-(vp.alpha(t[1:]) - vp.alpha(t[:-1])))
    assert torch.allclose(beta_k, exact, rtol=1e-10)
    dt = 1 / steps
    # beta_t is the rate times the step, to first order: 1 - exp(-beta dt) =
    # beta dt (1 - beta dt / 2 + ...), beta read at the middle of the step (linear in t)
    approx = vp.beta((t[1:] + t[:-1]) / 2) * dt
    rel = ((beta_k - approx).abs() / approx).max()
    assert rel < 0.6 * vp.beta_max * dt  # the bound beta dt / 2, with beta <= beta_max
    assert torch.allclose(1 - beta_k, bar_alpha[1:] / bar_alpha[:-1])  # DDPM's alpha_t


@pytest.mark.parametrize("name", ["VP", "VE", "OU", "linear"])
def test_predictions_convert_to_the_score_and_the_denoiser(name, setting):
    schedule, (data, x) = SCHEDULES[name], setting
    score = mdiff.empirical_score(schedule, data)
    for t in TIMES:
        if t > schedule.T:
            continue
        m, sigma = float(schedule.m(t)), float(schedule.sigma(t))
        s = score(x, t)
        den = mdiff.denoiser(schedule, data, x, t)
        # Tweedie: D = (x + sigma^2 s) / m, s = (m D - x) / sigma^2
        assert torch.allclose(den, (x + sigma**2 * s) / m, atol=1e-9)
        # epsilon-prediction: eps_hat = E[Z | X_t = x] = (x - m D) / sigma = -sigma s
        eps = (x - m * den) / sigma
        assert torch.allclose(eps, -sigma * s, atol=1e-9)
        assert torch.allclose((x - sigma * eps) / m, den, atol=1e-9)
        # v-prediction: v_hat = m eps_hat - sigma D
        v = m * eps - sigma * den
        norm = m * m + sigma * sigma
        assert torch.allclose((m * x - sigma * v) / norm, den, atol=1e-9)
        assert torch.allclose(-(sigma * x + m * v) / (sigma * norm), s, rtol=1e-9, atol=1e-9)
        if name in ("VP", "OU"):  # m^2 + sigma^2 = 1
            assert norm == pytest.approx(1.0, abs=1e-12)
            assert torch.allclose(m * x - sigma * v, den, atol=1e-9)
            assert torch.allclose(sigma * x + m * v, eps, atol=1e-9)


def test_eps_loss_is_dsm_with_weight_sigma_squared(setting):
    data, _ = setting
    vp = mdiff.VP()
    score = mdiff.empirical_score(vp, data)
    gen = torch.Generator().manual_seed(1)
    z = torch.randn(len(data), 2, generator=gen, dtype=torch.float64)
    t = 0.3
    m, sigma = float(vp.m(t)), float(vp.sigma(t))
    xt = m * data + sigma * z
    eps_hat = -sigma * score(xt, t)
    simple = ((eps_hat - z) ** 2).sum(1)
    dsm = sigma**2 * ((score(xt, t) + z / sigma) ** 2).sum(1)  # lambda = sigma^2
    assert torch.allclose(simple, dsm, rtol=1e-12)


def test_log_snr_is_twice_vartheta():
    vp = mdiff.VP()
    for t in TIMES:
        bar_alpha = float(vp.m(t) ** 2)
        vartheta = math.log(float(vp.m(t)) / float(vp.sigma(t)))  # = -log rho
        assert math.log(bar_alpha / (1 - bar_alpha)) == pytest.approx(2 * vartheta, rel=1e-9)


# --- flow matching ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["VP", "VE", "OU", "linear"])
def test_interpolant_coefficients_give_f_and_g2(name):
    schedule = SCHEDULES[name]
    for t in TIMES:
        if t > schedule.T:
            continue
        a, b = float(schedule.m(t)), float(schedule.sigma(t))
        da, db = _derivative(schedule.m, t), _derivative(schedule.sigma, t)
        assert float(schedule.f(t)) == pytest.approx(da / a, rel=1e-9, abs=1e-12)
        assert float(schedule.g2(t)) == pytest.approx(2 * b * db - 2 * (da / a) * b**2, rel=1e-9)


@pytest.mark.parametrize("name", ["VP", "VE", "OU", "linear"])
def test_flow_matching_velocity_is_the_probability_flow_velocity(name, setting):
    schedule, (data, x) = SCHEDULES[name], setting
    score = mdiff.empirical_score(schedule, data)
    for t in TIMES:
        if t > schedule.T:
            continue
        a, b = float(schedule.m(t)), float(schedule.sigma(t))
        da, db = _derivative(schedule.m, t), _derivative(schedule.sigma, t)
        den = mdiff.denoiser(schedule, data, x, t)
        fm = da * den + db * (x - a * den) / b  # E[a' X_0 + b' Z | X_t = x]
        assert torch.allclose(pf_drift(schedule, score, x, t), fm, rtol=1e-8, atol=1e-8)


def test_flow_matching_target_regression_recovers_the_velocity():
    """The marginal velocity minimizes the flow-matching loss: at a point x, it is the
    posterior average of the conditional targets a' y_n + b' z_n over the training points."""
    vp, data = mdiff.VP(), mdiff.paper_points()
    t, x = 0.2, torch.tensor([[0.3, -0.4]], dtype=torch.float64)
    a, b = float(vp.m(t)), float(vp.sigma(t))
    da, db = _derivative(vp.m, t), _derivative(vp.sigma, t)
    w = mdiff.posterior_weights(vp, data, x, t)[0]  # (N,): P(X_0 = y_n | X_t = x)
    z_n = (x - a * data) / b  # the noise that carries y_n to x
    target = (w[:, None] * (da * data + db * z_n)).sum(0)
    drift = pf_drift(vp, mdiff.empirical_score(vp, data), x, t)[0]
    assert torch.allclose(target, drift, rtol=1e-10, atol=1e-12)


def test_linear_interpolant_flow_also_memorizes():
    """The empirical flow-matching velocity of the linear path ends on training points."""
    lin, data = Linear(T=0.999), mdiff.paper_points()
    gen = torch.Generator().manual_seed(0)
    x = float(lin.sigma(lin.T)) * torch.randn(200, 2, generator=gen, dtype=torch.float64)
    ts = mdiff.time_grid(lin, 200, t_min=1e-5)
    out = mdiff.probability_flow(lin, mdiff.empirical_score(lin, data), x, ts, method="exponential")
    assert mdiff.fraction_within(out, data, 1e-2) == 1.0
