"""Chapter 2 checks: the per-sample DSM and ISM losses, the minimum of the DSM loss."""

from __future__ import annotations

import torch

from ..schedules import VE, VP
from ..scores import gaussian_score
from .feedback import diagnose, passed


def _gaussian() -> tuple[torch.Tensor, torch.Tensor]:
    mean = torch.tensor([1.0, -0.5], dtype=torch.float64)
    cov = torch.tensor([[1.0, 0.6], [0.6, 0.8]], dtype=torch.float64)
    return mean, cov


def _cov3() -> torch.Tensor:
    return torch.tensor([[1.0, 0.2, 0.0], [0.2, 0.5, 0.1], [0.0, 0.1, 2.0]], dtype=torch.float64)


def _dsm_variants(schedule, score, x0, t, z) -> dict:
    """Typical wrong per-sample DSM losses (message -> value)."""
    m, sig = schedule.m(t)[:, None], schedule.sigma(t)[:, None]
    s = score(m * x0 + sig * z, t)
    no_m = ((sig * score(x0 + sig * z, t) + z) ** 2).sum(1)
    d = x0.shape[1]
    mean_note = (
        "you averaged the squared entries over the d coordinates (.mean(1), or "
        "F.mse_loss, which averages); the squared norm sums them, |r|^2 = sum_i r_i^2"
    )
    return {
        "two bugs: the noised point misses m(t) (x_t = m(t) x0 + sigma(t) z; m < 1 for VP, "
        "so this only shows on VP), and " + mean_note: no_m / d,
        "missing m(t): the noised point is x_t = m(t) x0 + sigma(t) z (m < 1 for VP)": no_m,
        mean_note: ((sig * s + z) ** 2).sum(1) / d,
        "sign error: sigma s must match -z (the conditional score is -z / sigma), so the "
        "loss is |sigma s + z|^2, not |sigma s - z|^2": ((sig * s - z) ** 2).sum(1),
        "this is the unweighted loss |s + z/sigma|^2; with the weight lambda = sigma^2 it "
        "becomes |sigma s + z|^2": ((s + z / sig) ** 2).sum(1),
        "you multiplied s by sigma^2: the weight sigma^2 multiplies the squared norm, so "
        "inside the norm s is multiplied by sigma": ((sig**2 * s + z) ** 2).sum(1),
        "you returned the norm |sigma s + z|; the loss is its square": (
            ((sig * s + z) ** 2).sum(1).sqrt()
        ),
        "you used sigma(t) of the wrong time or a float t: evaluate m and sigma at each "
        "sample's own t": ((float(schedule.sigma(t[0])) * s + z) ** 2).sum(1),
    }


def check_dsm_per_sample(fn) -> bool:
    """Chapter 2: ``fn(schedule, score, x0, t, z)`` -> per-sample ``|sigma s(x_t, t) + z|^2``.

    ``x_t = m(t) x0 + sigma(t) z`` and ``t`` is a tensor of shape ``(n,)``. Checked on VP and
    VE with the exact score of Gaussian data (plus a shift, so that ``s`` is not the optimum),
    in d = 2 and d = 3; names a missing ``m(t)``, a mean over coordinates (as in
    ``F.mse_loss``), both at once (the two bugs of the chapter's debugging exercise), the sign of
    ``z``, the unweighted loss, ``sigma^2`` instead of ``sigma``, an unsquared norm, and a mean
    over samples.
    """
    name = "dsm_per_sample"
    gen = torch.Generator().manual_seed(20)
    mean, cov = _gaussian()
    mean3, cov3 = torch.tensor([0.5, 0.0, -1.0], dtype=torch.float64), _cov3()
    cases = [(VP(), mean, cov), (VE(), mean, cov), (VP(beta_min=0.1, beta_max=8.0), mean3, cov3)]
    for schedule, mean, cov in cases:
        exact = gaussian_score(schedule, mean, cov)

        def score(x, t, exact=exact):
            return exact(x, t) + 0.3

        d = len(mean)
        x0 = mean + torch.randn(9, d, generator=gen, dtype=torch.float64)
        z = torch.randn(9, d, generator=gen, dtype=torch.float64)
        t = torch.linspace(0.05, 1.0, 9, dtype=torch.float64)
        m, sig = schedule.m(t)[:, None], schedule.sigma(t)[:, None]
        want = ((sig * score(m * x0 + sig * z, t) + z) ** 2).sum(1)
        diagnose(
            fn,
            name,
            (schedule, score, x0, t, z),
            want,
            where=f"({type(schedule).__name__}, d = {d}, t from 0.05 to 1)",
            variants=_dsm_variants(schedule, score, x0, t, z),
            advice="expected |sigma s(x_t, t) + z|^2",
        )
    return passed(name)


def _divergence(score, x: torch.Tensor, t) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``s``, the trace and the sum of all entries of the Jacobian of ``s``, per row."""
    x = x.clone().requires_grad_(True)
    s = score(x, t)
    rows = [torch.autograd.grad(s[:, i].sum(), x, retain_graph=True)[0] for i in range(x.shape[1])]
    jac = torch.stack(rows, 1)  # (n, d_out, d_in)
    return s.detach(), jac.diagonal(dim1=1, dim2=2).sum(1), jac.sum((1, 2))


def _ism_cases(gen) -> list:
    """``(score, x, t)``: scores with non-symmetric, non-diagonal Jacobians in d = 2 and d = 3."""
    a2 = torch.tensor([[1.0, 0.7], [-0.4, 0.5]], dtype=torch.float64)
    b2 = torch.tensor([[0.3, -1.2], [0.8, 0.6]], dtype=torch.float64)
    a3 = torch.eye(3, dtype=torch.float64) + 0.5 * torch.randn(3, 3, generator=gen, dtype=a2.dtype)
    b3 = torch.randn(3, 3, generator=gen, dtype=torch.float64)
    cases = []
    for a, b, t in ((a2, b2, 0.2), (a2, b2, 0.7), (a3, b3, 0.4)):

        def score(x, t, a=a, b=b):
            return -(1 + t) * x @ a.T + torch.tanh(x @ b.T) * x.flip(1)

        x = torch.randn(10, a.shape[0], generator=gen, dtype=torch.float64)
        cases.append((score, x, t))
    return cases


def check_ism_per_sample(fn) -> bool:
    """Chapter 2: ``fn(score, x, t)`` -> per-sample ``|s(x, t)|^2 + 2 div s(x, t)`` (autograd).

    Uses scores with a non-symmetric, non-diagonal Jacobian (in d = 2 and d = 3), so that the
    trace differs from the sum of all Jacobian entries; names that slip, the missing factor 2,
    Hyvarinen's convention ``|s|^2/2 + div s``, the sign of the divergence and a missing ``|s|^2``.
    """
    name = "ism_per_sample"
    hint = (
        "Make x differentiable first: x = x.clone().requires_grad_(True), and compute the "
        "divergence with torch.autograd.grad(..., create_graph=False)."
    )
    for score, x, t in _ism_cases(torch.Generator().manual_seed(21)):
        s, div, jac_sum = _divergence(score, x, t)
        sq = (s * s).sum(1)
        variants = {
            "you summed all entries of the Jacobian (the gradient of s.sum() with respect to x); "
            "the divergence is its trace, sum_i ds_i/dx_i": sq + 2 * jac_sum,
            "the factor 2 in front of the divergence is missing": sq + div,
            "you used Hyvarinen's convention |s|^2/2 + div s; this exercise asks for twice it, "
            "|s|^2 + 2 div s": 0.5 * sq + div,
            "sign error: the divergence enters with a plus sign, |s|^2 + 2 div s": sq - 2 * div,
            "the squared norm |s|^2 is missing": 2 * div,
        }
        diagnose(
            fn,
            name,
            (score, x, t),
            sq + 2 * div,
            where=f"(t = {t}, d = {x.shape[1]})",
            rtol=1e-8,
            atol=1e-10,
            variants=variants,
            hint=hint,
        )
    return passed(name)


def _dsm_minimum(schedule, cov: torch.Tensor, t: float) -> dict:
    """The minimum ``d - sigma^2 tr(Sigma_t^-1)`` (key ``"correct"``) and typical wrong ones."""
    d = cov.shape[0]
    m, sig2 = float(schedule.m(t)), float(schedule.sigma(t)) ** 2
    eye = torch.eye(d, dtype=torch.float64)

    def trace_inv(mat):
        return float(torch.linalg.inv(mat).trace())

    tr = trace_inv(m * m * cov + sig2 * eye)
    no_m = trace_inv(cov + sig2 * eye)
    m_not_squared = d - sig2 * trace_inv(m * cov + sig2 * eye)
    return {
        "correct": d - sig2 * tr,
        "missing m(t)^2 in front of C: x_t has covariance m^2 C + sigma^2 I": d - sig2 * no_m,
        "you used m(t) instead of m(t)^2 in the covariance m^2 C + sigma^2 I": m_not_squared,
        "you returned sigma^2 E|s*|^2 = sigma^2 tr(Sigma_t^-1); the minimum is d minus this": (
            sig2 * tr
        ),
        "you returned E|s*|^2 = tr(Sigma_t^-1) without the factor sigma^2, and without "
        "subtracting it from d": tr,
        "the dimension d is missing: E|z|^2 = d": -sig2 * tr,
        "you used sigma instead of sigma^2 in front of the trace": d - sig2**0.5 * tr,
    }


def check_dsm_minimum(fn) -> bool:
    """Chapter 2: ``fn(schedule, cov, t)`` -> ``min_s E|sigma s(x_t) + z|^2`` for data ``N(mu, C)``.

    The value is ``d - sigma^2 tr((m^2 C + sigma^2 I)^{-1})``; checked for VP and VE, several
    ``t``, in 2 and 3 dimensions; names the usual slips (``m`` vs ``m^2``, ``d`` missing,
    ``sigma`` vs ``sigma^2``).
    """
    name = "dsm_minimum"
    _, cov2 = _gaussian()
    cov3 = _cov3()
    for schedule in (VP(), VE()):
        for cov in (cov2, cov3):
            for t in (0.05, 0.4, 1.0):
                variants = _dsm_minimum(schedule, cov, t)
                want = torch.tensor(variants.pop("correct"), dtype=torch.float64)
                where = f"({type(schedule).__name__}, d = {cov.shape[0]}, t = {t})"
                diagnose(
                    fn,
                    name,
                    (schedule, cov, t),
                    want,
                    where=where,
                    rtol=1e-8,
                    atol=1e-10,
                    scale=float(cov.shape[0]),  # the minimum is d minus a number of size d
                    variants=variants,
                )
    return passed(name)
