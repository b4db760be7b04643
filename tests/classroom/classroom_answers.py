"""Correct answers to every exercise check, taken from the chapters' solution cells.

``ANSWERS`` maps a check's name (``check_<name>``) to a correct float64 implementation; the
robustness tests (``test_robustness.py``) return these answers in every form a student might.
"""

import math

import torch

import mdiff


def vp_m_sigma(t, beta_min=1e-3, beta_max=3.0):
    alpha = beta_min * t + 0.5 * (beta_max - beta_min) * t**2
    return torch.exp(-0.5 * alpha), torch.sqrt(-torch.expm1(-alpha))


def reverse_sde_step(schedule, score, x, t, h, xi):
    f, g2 = float(schedule.f(t)), float(schedule.g2(t))
    return x - h * (f * x - g2 * score(x, t)) + math.sqrt(g2 * h) * xi


def heun_step_to_zero(schedule, score, x, t, t_next):
    m, sig = float(schedule.m(t)), float(schedule.sigma(t))
    if t_next == 0:
        return (x + sig**2 * score(x, t)) / m

    def velocity(y, u):
        return float(schedule.f(u)) * y - 0.5 * float(schedule.g2(u)) * score(y, u)

    v = velocity(x, t)
    x_pred = x + (t_next - t) * v
    return x + 0.5 * (t_next - t) * (v + velocity(x_pred, t_next))


def ism_per_sample(score, x, t):
    x = x.clone().requires_grad_(True)
    s = score(x, t)
    div = torch.zeros(x.shape[0], dtype=x.dtype)
    for i in range(x.shape[1]):
        (grad_i,) = torch.autograd.grad(s[:, i].sum(), x, retain_graph=True)
        div = div + grad_i[:, i]
    return ((s * s).sum(1) + 2 * div).detach()


def dsm_per_sample(schedule, score, x0, t, z):
    m, sig = schedule.m(t)[:, None], schedule.sigma(t)[:, None]
    return ((sig * score(m * x0 + sig * z, t) + z) ** 2).sum(1)


def dsm_minimum(schedule, cov, t):
    d = cov.shape[0]
    m, var = schedule.m(t), schedule.sigma(t) ** 2
    cov_t = m**2 * cov + var * torch.eye(d, dtype=cov.dtype)
    return d - var * torch.linalg.inv(cov_t).trace()


def stable_weights(schedule, data, x, t):
    m, var = schedule.m(t), schedule.sigma(t) ** 2
    logits = -((x[:, None, :] - m * data[None]) ** 2).sum(-1) / (2 * var)
    return torch.softmax(logits, 1)


def score_from_weights(schedule, data, x, t, w):
    return (schedule.m(t) * (w @ data) - x) / schedule.sigma(t) ** 2


def score_norm_exponent(schedule, data, x, ts):
    norms = []
    for t in ts.tolist():
        w = stable_weights(schedule, data, x, t)
        norms.append(score_from_weights(schedule, data, x, t, w).norm())
    u = torch.log(schedule.sigma(ts.double()))
    v = torch.log(torch.stack(norms).double())
    return -(((u - u.mean()) * (v - v.mean())).sum() / ((u - u.mean()) ** 2).sum()).item()


def weighted_score(schedule, data, probs, x, t):
    m, var = schedule.m(t), schedule.sigma(t) ** 2
    logits = -((x[:, None, :] - m * data[None]) ** 2).sum(-1) / (2 * var)
    w = torch.softmax(logits + torch.log(probs), 1)
    return (m * (w @ data) - x) / var


def tau_sde_step(data, y, tau, h, xi):
    sq = ((y[:, None, :] - data[None]) ** 2).sum(-1)
    xbar = torch.softmax(-0.5 * math.exp(2 * tau) * sq, 1) @ data
    return y - 2 * h * (y - xbar) + math.sqrt(2 * h) * math.exp(-tau) * xi


def energy_hessian(data, y, tau):
    a = math.exp(2 * tau)
    w = torch.softmax(-0.5 * a * ((y - data) ** 2).sum(1), 0)
    centred = data - w @ data
    return torch.eye(len(y), dtype=data.dtype) - a * (w[:, None] * centred).T @ centred


def points_needed(t, d, var_data=1.0, eps=0.5):
    return (1 + var_data / math.expm1(2 * t)) ** (d / 2) * eps / (1 - eps)


def heuristic_collapsed(y, data, rho):
    d1, d2 = torch.cdist(y, data).topk(2, dim=1, largest=False).values.T
    return rho**2 < (d2**2 - d1**2) / (2 * math.log(data.shape[0]))


def nn_sq_distances(data):
    sq = torch.cdist(data, data, compute_mode="donot_use_mm_for_euclid_dist") ** 2
    return sq.fill_diagonal_(math.inf).min(1).values


def nn_collapse_prediction(data):
    r2 = nn_sq_distances(data).median().item()
    return 0.5 * math.log1p(r2 / (2 * math.log(len(data))))


def measured_median_collapse(data, seed=0):
    from mdiff.classroom.ch05 import _collapse_times, _ou_and_times

    schedule, times = _ou_and_times()
    gen = torch.Generator().manual_seed(seed)
    start = schedule.prior(48, data.shape[1], generator=gen, dtype=data.dtype)
    return _collapse_times(schedule, data, start, times).quantile(0.5).item()


def bridge(schedule, x0, xT, t):
    T = schedule.T
    m, s, mT, sT = schedule.m(t), schedule.sigma(t), schedule.m(T), schedule.sigma(T)
    mean = m * x0 + (mT * s**2 / (m * sT**2)) * (xT - mT * x0)
    return mean, s**2 * (1 - (s * mT / (m * sT)) ** 2)


def interval_coverage(samples, truth, level=0.9):
    q = torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=samples.dtype)
    lo, hi = torch.quantile(samples, q, dim=0)
    return ((truth >= lo) & (truth <= hi)).double().mean().item()


def regularized_minimizer(s_emp, gamma):
    eye = torch.eye(gamma.shape[0], dtype=gamma.dtype)
    return torch.linalg.solve(eye + gamma, s_emp.T).T


def tikhonov_score_fixed(schedule, data, c):
    def score(x, t):
        m, var = schedule.m(t), schedule.sigma(t) ** 2
        logits = -((x[:, None, :] - m * data[None]) ** 2).sum(-1) / (2 * var)
        return (m * (torch.softmax(logits, 1) @ data) - x) / (var + c)

    return score


def frac_prediction(c, d, tol):
    return torch.special.gammainc(torch.tensor(d / 2), torch.tensor(tol**2 / (2 * c))).item()


def measure_frac(schedule, data, c, n_samples, seed):
    x = schedule.prior(n_samples, data.shape[1], generator=torch.Generator().manual_seed(seed))
    ts = mdiff.time_grid(schedule, 200, t_min=1e-8)
    out = mdiff.probability_flow(schedule, mdiff.tikhonov_score(schedule, data, c), x, ts)
    return mdiff.fraction_within(out, data, 1e-2)


def terminal_offset_vp(schedule, u1, t1, c):
    m1, s1 = schedule.m(t1), schedule.sigma(t1)
    return u1 * (c / (s1**2 + c)) ** (1 / (2 * (1 + c))) * m1 ** (-c / (1 + c))


def eb_frac_prediction(tau, d):
    if tau >= 1:
        return 0.0
    return float(torch.special.gammainc(torch.tensor(d / 2), torch.tensor(math.log(1 / tau))))


def freeze_bandwidth(tau, n_data, density, d):
    return (tau / (n_data * density)) ** (1 / d) / math.sqrt(2 * math.pi)


def energy_v(a, b):
    return 2 * torch.cdist(a, b).mean() - torch.cdist(a, a).mean() - torch.cdist(b, b).mean()


def fraction_table(samples, data, tols):
    nearest = (samples[:, :, None, :] - data[None, None]).norm(dim=-1).min(dim=-1).values
    tols = torch.as_tensor(tols, dtype=nearest.dtype)
    return (nearest[..., None] < tols).to(nearest.dtype).mean(dim=1)


def displacement_budget(schedule, t1, L, output):
    alpha = float(schedule.alpha(torch.tensor(t1, dtype=torch.float64)))
    return 0.5 * L * alpha if output == "score" else L * math.acosh(math.exp(alpha / 2))


def eps_tikhonov(schedule, data, c):
    score = mdiff.tikhonov_score(schedule, data.clone(), c)  # its own copy of the data

    def eps(x, t):
        return -schedule.sigma(torch.as_tensor(t, dtype=x.dtype)) * score(x, t)

    return eps


def false_positive_rate(ratio, d):
    return ratio**d


def scale_free_fraction(samples, data, rel):
    dd = torch.cdist(data, data)
    dd.fill_diagonal_(float("inf"))
    tol = rel * dd.min(1).values.median()
    return (torch.cdist(samples, data).min(1).values < tol).double().mean().item()


def distinct_ratio_test(samples, data, ratio=1 / 3):
    d12 = torch.cdist(samples, torch.unique(data, dim=0)).topk(2, dim=1, largest=False).values
    return d12[:, 0] < ratio * d12[:, 1]


def calibrated_excess(samples, heldout, data, rel=0.1):
    return scale_free_fraction(samples, data, rel) - scale_free_fraction(heldout, data, rel)


def heldout_rate(n, n_fresh, seed, ratio=1 / 3):
    gen = torch.Generator().manual_seed(seed)
    train = mdiff.ring(n, generator=gen)
    fresh = mdiff.ring(n_fresh, generator=gen)
    return mdiff.memorized(fresh, train, ratio).double().mean().item()


def copier_energy(train, fresh):
    m = len(fresh)
    cross = torch.cdist(train, fresh).mean()
    within_train = torch.cdist(train, train).mean()  # all N^2 pairs: the empirical measure
    within_fresh = torch.pdist(fresh).sum() * 2 / (m * (m - 1))  # pairs i != j
    return (2 * cross - within_train - within_fresh).item()


def gaussian_denoiser(mean, cov, x, sigma):
    eye = torch.eye(len(mean), dtype=cov.dtype)
    return mean + (x - mean) @ torch.linalg.solve(cov + sigma**2 * eye, cov)


def empirical_energy(sizes, repeats, seed):
    gen = torch.Generator().manual_seed(seed)
    means = []
    for n in sizes:
        total = 0.0
        for _ in range(repeats):
            train = mdiff.ring(n, generator=gen)
            fresh = mdiff.ring(4 * n, generator=gen)
            cross = torch.cdist(train, fresh).mean()
            total += (
                2 * cross - torch.cdist(train, train).mean() - torch.pdist(fresh).mean()
            ).item()
        means.append(total / repeats)
    return torch.tensor(means, dtype=torch.float64)


def convergence_rate(ns, errors):
    x = torch.log(torch.as_tensor(ns, dtype=torch.float64))
    y = torch.log(torch.as_tensor(errors, dtype=torch.float64))
    slope = ((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum()
    return -slope.item()


ANSWERS = {
    name: value
    for name, value in dict(globals()).items()
    if callable(value) and not name.startswith("_") and value.__module__ == __name__
}
