"""Typical wrong answers to chapter 4's exercises (nbgrader round trip)."""

WRONG = {
    "ex-04-tau-sde-solution": """def tau_sde_step(data, y, tau, h, xi):
    sq = ((y[:, None, :] - data[None]) ** 2).sum(-1)
    xbar = torch.softmax(-0.5 * math.exp(2 * tau) * sq, 1) @ data
    return y - h * (y - xbar) + math.sqrt(2 * h) * math.exp(-tau) * xi
""",
    "ex-04-hessian-solution": """def energy_hessian(data, y, tau):
    a = math.exp(2 * tau)
    w = torch.softmax(-0.5 * a * ((y - data) ** 2).sum(1), 0)
    second = (w[:, None] * data).T @ data
    return torch.eye(len(y), dtype=data.dtype) - a * second
""",
}
