"""Chapter 1 checks: the VP schedule's ``m`` and ``sigma``, one reverse-SDE step, and a Heun
step that survives the last step to ``t = 0``."""

from __future__ import annotations

import math
from functools import partial

import torch

from ..schedules import VE, VP
from ..scores import empirical_score, gaussian_score
from .feedback import (
    _call,
    _relative_error,
    as_answer,
    as_tensor,
    close,
    compare,
    fail,
    float32_numbers,
    passed,
    result_of,
    shown,
    tolerance,
)


def _m_sigma(fn, name: str, t: torch.Tensor, **params) -> list[torch.Tensor]:
    """The student's ``(m, sigma)`` at ``t`` as float64 tensors; a tensor must keep t's dtype."""
    hint = "It must accept a tensor t (use torch.exp, not math.exp)."
    result = _call(fn, name, t, **params, hint=hint)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail(f"{name} should return a pair (m, sigma), got {type(result).__name__}")
    pair = []
    for value, what in zip(result, ("m", "sigma")):
        label = f"{name}: {what}"
        if isinstance(value, torch.Tensor) and as_tensor(value, label).dtype != t.dtype:
            fail(
                f"for {t.dtype} input your function returns {what} in {value.dtype}: keep t's dtype"
            )
        pair.append(as_answer(value, label, t, shape=f"t's {tuple(t.shape)}"))
    return pair


def _moderate_t(fn, name: str) -> None:
    """``m`` and ``sigma`` at t = 0.1, 0.5, 1 for the paper's VP and for the OU process."""
    vp, t = VP(), torch.tensor([0.1, 0.5, 1.0], dtype=torch.float64)
    where = "at t = 0.1, 0.5, 1"
    m, sigma = _m_sigma(fn, name, t)
    m_ref, s_ref, no_half = vp.m(t), vp.sigma(t), torch.exp(-vp.alpha(t))
    if not close(m, m_ref):
        if close(m, no_half) and not close(no_half, m_ref, like=m):
            fail(
                f"m(t) equals exp(-alpha(t)) {where}: the factor 1/2 is missing, m = exp(-alpha/2)"
            )
        fail(
            f"m(t) {where} is off by up to {(m - m_ref).abs().max():.3g}: check "
            "alpha(t) = beta_min t + (beta_max - beta_min) t^2 / 2 and m = exp(-alpha/2)"
        )
    if close(sigma, s_ref**2) and not close(s_ref**2, s_ref, like=sigma):
        fail(f"your sigma equals 1 - exp(-alpha) = sigma^2 {where}: take the square root")
    total = m**2 + sigma**2
    if not close(total, torch.ones_like(t), like=m):
        fail(
            f"m(t)^2 + sigma(t)^2 = {shown(float(total[1]), 1.0, 4)} at t = 0.5, but the VP "
            "schedule preserves variance: it must be 1 (sigma^2 = 1 - exp(-alpha) = 1 - m^2)"
        )
    if not close(sigma, s_ref):
        fail(f"sigma(t) {where} is off by up to {(sigma - s_ref).abs().max():.3g}")
    ou = VP(beta_min=2.0, beta_max=2.0)
    m, sigma = _m_sigma(fn, name, t, beta_min=2.0, beta_max=2.0)
    if not (close(m, ou.m(t)) and close(sigma, ou.sigma(t))):
        fail(
            "with beta_min = beta_max = 2 (the OU process, m = exp(-t)) your m or sigma is "
            "wrong: use the arguments beta_min and beta_max, not fixed numbers"
        )


def _small_t(fn, name: str, dtype: torch.dtype, times: list[float], rtol: float) -> None:
    """Relative accuracy at tiny ``t``, where ``1 - exp(-alpha)`` cancels; ``t``'s dtype kept."""
    vp, tiny = VP(), torch.tensor(times, dtype=dtype)
    m, sigma = _m_sigma(fn, name, tiny)
    exact = tiny.double()
    coarse = dtype == torch.float64 and float32_numbers(sigma)
    if _relative_error(m, vp.m(exact)) > rtol:
        fail(f"m(t) is inaccurate at small t in {dtype}: check alpha(t) and m = exp(-alpha/2)")
    for k, time in enumerate(times):
        err = _relative_error(sigma[k : k + 1], vp.sigma(exact[k : k + 1]))
        if err > rtol and coarse:
            fail(f"sigma(t) at t = {time:g} has only float32 precision: keep t's dtype ({dtype})")
        if err > rtol:
            fail(
                f"sigma(t) at t = {time:g} ({dtype}) has relative error {err:.2g}: "
                "1 - exp(-alpha) loses its digits to cancellation when alpha is tiny. "
                "Compute it as -torch.expm1(-alpha), which is accurate for small alpha."
            )


def check_vp_m_sigma(fn) -> bool:
    """Chapter 1: ``fn(t, beta_min=1e-3, beta_max=3.0) -> (m, sigma)`` of the VP schedule.

    Compares with :class:`mdiff.VP` (the paper's and the OU parameters), checks
    ``m^2 + sigma^2 = 1``, that ``t``'s dtype is kept, and the relative accuracy of ``sigma``
    at tiny ``t`` in float64 and float32, where ``1 - exp(-alpha)`` cancels and
    ``-expm1(-alpha)`` does not.
    """
    name = "vp_m_sigma"
    _moderate_t(fn, name)
    _small_t(fn, name, torch.float64, [0.0, 1e-9, 1e-7, 1e-5], 1e-8)
    _small_t(fn, name, torch.float32, [1e-6, 1e-4, 1e-2], 1e-5)
    return passed(name)


def _reverse_step_variants(schedule, score, x, t: float, h: float, xi) -> dict:
    """The correct reverse-SDE step (both signs of the noise) and the typical wrong ones."""
    f, g2 = float(schedule.f(t)), float(schedule.g2(t))
    f1, g21 = float(schedule.f(t - h)), float(schedule.g2(t - h))
    s, noise = score(x, t), math.sqrt(g2 * h) * xi
    end_time = x - h * (f1 * x - g21 * score(x, t - h)) + math.sqrt(g21 * h) * xi
    return {
        "correct": x - h * (f * x - g2 * s) + noise,
        "correct_mirrored": x - h * (f * x - g2 * s) - noise,  # -xi has the law of xi
        "sign error in the score term: your step pushes x away from the data. Backwards in "
        "time (dt = -h) the drift f x - g^2 s enters as x - h (f x - g^2 s)": (
            x - h * (f * x + g2 * s) + noise
        ),
        "sign error in the f(t) x term: the step is x - h (f x - g^2 s) + sqrt(g^2 h) xi": (
            x + h * (f * x + g2 * s) + noise
        ),
        "your score term is half as large as it should be: the factor 1/2 belongs to the "
        "probability-flow ODE (dx/dt = f x - g^2 s / 2); the reverse SDE has drift f x - g^2 s": (
            x - h * (f * x - 0.5 * g2 * s) + noise
        ),
        "this is an Euler step of the probability-flow ODE, not of the reverse SDE: the reverse "
        "SDE has the drift f x - g^2 s (no factor 1/2) and adds the noise sqrt(g^2 h) xi": (
            x - h * (f * x - 0.5 * g2 * s)
        ),
        "you stepped forwards in time: the step goes from t to t - h, so dt = -h and the drift "
        "enters as x - h (f x - g^2 s)": x + h * (f * x - g2 * s) + noise,
        "no noise was added: the reverse SDE adds sqrt(g(t)^2 h) xi at every step": (
            x - h * (f * x - g2 * s)
        ),
        "you evaluated f, g2 or the score at t - h: Euler-Maruyama takes them at the current "
        "time t (the start of the step)": end_time,
    }


def _noise_scale_hint(got, no_noise, xi, g2: float, h: float) -> str | None:
    """If ``got - no_noise`` is a multiple ``c xi`` of the noise, say how ``c`` is wrong."""
    residual = got - no_noise
    c = float((residual * xi).sum() / (xi * xi).sum())
    scale = float(got.abs().max())  # a float32 answer's rounding is relative to x, not to c xi
    if not close(residual, c * xi, rtol=1e-7, atol=1e-10, scale=scale, like=got):
        return None
    rounding, _ = tolerance(got, got, 0.0, 0.0)  # 0 unless got carries float32 rounding
    rtol = max(1e-7, rounding * scale / max(abs(c) * float(xi.abs().max()), 1e-300))
    g, want = math.sqrt(g2), math.sqrt(g2 * h)
    named = {
        "g(t) h: the noise scales like sqrt(h), not h": g * h,
        "sqrt(h): the factor g(t) = sqrt(g2(t)) is missing": math.sqrt(h),
        "g(t)^2 sqrt(h): use g(t) = sqrt(g2(t)), not g2(t)": g2 * math.sqrt(h),
        "g(t)^2 h: the standard deviation is sqrt(g(t)^2 h)": g2 * h,
    }
    for text, value in named.items():
        if math.isclose(abs(c), value, rel_tol=rtol) and not math.isclose(
            value, want, rel_tol=rtol
        ):
            return f"your noise has standard deviation {text}"
    return f"your noise has standard deviation {abs(c):.3g}, expected sqrt(g(t)^2 h) = {want:.3g}"


def check_reverse_sde_step(fn) -> bool:
    """Chapter 1: one Euler-Maruyama step of the reverse SDE, ``fn(schedule, score, x, t, h, xi)``.

    Reference: ``x - h (f(t) x - g(t)^2 s(x, t)) + sqrt(g(t)^2 h) xi`` (the sign of the noise
    term is free), on VP and VE with the exact score of Gaussian data. Recognises and names
    the sign errors, the probability-flow factor 1/2, a step forwards in time, missing or
    mis-scaled noise, and coefficients taken at ``t - h``.
    """
    name = "reverse_sde_step"
    gen = torch.Generator().manual_seed(0)
    mean = torch.tensor([1.0, -0.5], dtype=torch.float64)
    cov = torch.tensor([[1.0, 0.6], [0.6, 0.8]], dtype=torch.float64)
    for schedule in (VP(), VE()):
        score = gaussian_score(schedule, mean, cov)
        for t, h in ((0.9, 0.07), (0.5, 0.013), (0.05, 0.021)):
            x = 2 * torch.randn(6, 2, generator=gen, dtype=torch.float64)
            xi = torch.randn(6, 2, generator=gen, dtype=torch.float64)
            steps = _reverse_step_variants(schedule, score, x, t, h, xi)
            want, mirrored = steps.pop("correct"), steps.pop("correct_mirrored")
            args = (schedule, score, x, t, h, xi)
            got = result_of(fn, name, args, want, shape=f"x's {tuple(x.shape)}")
            if close(got, mirrored):
                continue
            where = f"(for {type(schedule).__name__} at t = {t}, h = {h})"
            f, g2 = float(schedule.f(t)), float(schedule.g2(t))
            no_noise = x - h * (f * x - g2 * score(x, t))
            explain = partial(_noise_scale_hint, no_noise=no_noise, xi=xi, g2=g2, h=h)
            advice = "the step is x - h (f(t) x - g2(t) s(x, t)) + sqrt(g2(t) h) xi"
            compare(got, want, name, where=where, variants=steps, explain=explain, advice=advice)
    return passed(name)


def _velocity(schedule, score, x, t: float):
    return float(schedule.f(t)) * x - 0.5 * float(schedule.g2(t)) * score(x, t)


def _heun_zero_variants(schedule, score, x, t: float, t_next: float, data) -> tuple:
    """The reference step (Heun, or the denoiser at ``t_next = 0``) and the typical wrong ones."""
    h, v = t_next - t, _velocity(schedule, score, x, t)
    euler = x + h * v
    m, sig = float(schedule.m(t)), float(schedule.sigma(t))
    den = (x + sig**2 * score(x, t)) / m  # D(x, t), Tweedie
    exponential = float(schedule.m(t_next)) * den + float(schedule.sigma(t_next)) / sig * (
        x - m * den
    )
    if t_next > 0:
        heun = x + 0.5 * h * (v + _velocity(schedule, score, euler, t_next))
        return heun, {
            "for t_next > 0 your step is an Euler step: keep Heun's corrector there (only the "
            "step to t = 0 changes)": euler,
            "for t_next > 0 your step is the exponential step: keep Heun's step there, the "
            "change concerns the last step to t = 0 only": exponential,
        }
    nearest = None
    if data is not None:
        nearest = data[((x[:, None, :] - data[None]) ** 2).sum(-1).argmin(1)]
    return den, {
        "your last step is an Euler step: it no longer crashes, but near a training point it only "
        "halves the distance (the factor 1/2 measured above). Land on the data: the exponential "
        "step to t = 0 returns the denoiser D(x, t) = (x + sigma(t)^2 s(x, t)) / m(t)": euler,
        "your last step returns x unchanged: at t = 0 the step must return the denoiser "
        "D(x, t) = (x + sigma(t)^2 s(x, t)) / m(t)": x,
        "your last step returns x + sigma^2 s without dividing by m(t): the denoiser is "
        "D(x, t) = (x + sigma(t)^2 s(x, t)) / m(t) (m(t) < 1 for VP)": x + sig**2 * score(x, t),
        "your last step returns the nearest training point: the exponential step returns the "
        "denoiser D(x, t) = (x + sigma(t)^2 s(x, t)) / m(t), the weighted mean of the points, "
        "which is a training point only once the weights are one-hot": nearest,
    }


def check_heun_step_to_zero(fn) -> bool:
    """Chapter 1: ``fn(schedule, score, x, t, t_next)``, Heun's step that survives ``t_next = 0``.

    For ``t_next > 0`` the reference is Heun's step; for ``t_next = 0`` it is the exponential
    step's limit, the denoiser ``D(x, t) = (x + sigma(t)^2 s(x, t)) / m(t)``, which needs no score
    at ``t = 0`` and is exact once the weights are one-hot. Tested on VP and VE (``T = 1`` and
    ``T = 0.8``) with the empirical score of random points in ``d = 3`` and with a Gaussian
    score; names an Euler step in either place, ``x`` returned unchanged, a missing ``1/m`` and
    the nearest training point returned instead of the denoiser.
    """
    name = "heun_step_to_zero"
    gen = torch.Generator().manual_seed(1)
    hint = (
        "If the error comes from the score at t = 0: Heun's corrector evaluates the score at "
        "t_next, and at t_next = 0 sigma = 0, so the last step must not call the score there."
    )
    mean = torch.tensor([0.5, -1.0, 0.3], dtype=torch.float64)
    cov = torch.diag(torch.tensor([1.0, 0.5, 2.0], dtype=torch.float64))
    for schedule in (VP(), VE(), VP(T=0.8), VE(sigma0=5.0, T=0.8)):
        data = torch.randn(7, 3, generator=gen, dtype=torch.float64)
        scores = {"the empirical score": (empirical_score(schedule, data), data)}
        scores["a Gaussian score"] = (gaussian_score(schedule, mean, cov), None)
        for what, (score, pts) in scores.items():
            for t, t_next in ((0.6, 0.3), (0.3, 0.0), (1e-4, 0.0)):
                m, sig = float(schedule.m(t)), float(schedule.sigma(t))
                base = data[torch.randint(0, 7, (5,), generator=gen)]
                x = m * base + sig * (1 if t > 1e-3 else 0.5) * torch.randn(
                    5, 3, generator=gen, dtype=torch.float64
                )
                want, variants = _heun_zero_variants(schedule, score, x, t, t_next, pts)
                where = f"(for {type(schedule).__name__}, {what}, t = {t:g}, t_next = {t_next:g})"
                got = result_of(
                    fn,
                    name,
                    (schedule, score, x, t, t_next),
                    want,
                    where=where,
                    hint=hint,
                    shape=f"x's {tuple(x.shape)}",
                )
                advice = (
                    "Heun's step for t_next > 0, the denoiser (x + sigma^2 s) / m at t_next = 0"
                )
                compare(got, want, name, where=where, variants=variants, advice=advice)
    return passed(name)
