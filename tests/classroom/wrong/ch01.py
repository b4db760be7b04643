"""Typical wrong answers to chapter 1's exercises (nbgrader round trip)."""

WRONG = {
    "ex-01-vp-kernel-solution": '''def vp_m_sigma(t, beta_min=1e-3, beta_max=3.0):
    """Mean factor m(t) and noise level sigma(t) of the VP schedule (dtype of t)."""
    alpha = beta_min * t + 0.5 * (beta_max - beta_min) * t**2
    return torch.exp(-0.5 * alpha), torch.sqrt(1 - torch.exp(-alpha))
''',
    "ex-01-reverse-step-solution": '''def reverse_sde_step(schedule, score, x, t, h, xi):
    """One Euler-Maruyama step of the reverse SDE, from time t to time t - h."""
    f, g2 = float(schedule.f(t)), float(schedule.g2(t))
    drift = f * x - 0.5 * g2 * score(x, t)
    return x - h * drift + math.sqrt(g2 * h) * xi
''',
    "ex-01-heun-zero-solution": '''def heun_step_to_zero(schedule, score, x, t, t_next):
    """Heun's step from t to t_next > 0; a step that needs no score at t = 0 otherwise."""
    if t_next == 0:
        return euler_step(schedule, score, x, t, t_next)
    return heun_step(schedule, score, x, t, t_next)
''',
}
