"""Typical wrong answers to chapter 2's exercises (nbgrader round trip)."""

WRONG = {
    # the divergence as the sum of all Jacobian entries (the gradient of s.sum())
    "ex-02-ism-solution": """def ism_per_sample(score, x, t):
    x = x.clone().requires_grad_(True)
    s = score(x, t)
    (grad,) = torch.autograd.grad(s.sum(), x)
    return ((s * s).sum(1) + 2 * grad.sum(1)).detach()
""",
    # only the VE-visible bug fixed: the mean over coordinates; m(t) still missing
    "ex-02-dsm-loss-solution": """def dsm_per_sample(schedule, score, x0, t, z):
    sig = schedule.sigma(t)[:, None]
    x_t = x0 + sig * z
    residual = sig * score(x_t, t) + z
    return (residual * residual).sum(1)
""",
    # m(t) instead of m(t)^2 in the covariance of x_t
    "ex-02-dsm-minimum-solution": """def dsm_minimum(schedule, cov, t):
    d = cov.shape[0]
    m, var = schedule.m(t), schedule.sigma(t) ** 2
    cov_t = m * cov + var * torch.eye(d, dtype=cov.dtype)
    return d - var * torch.linalg.inv(cov_t).trace()
""",
}
