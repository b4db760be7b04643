"""Typical wrong answers to chapter 3's exercises (nbgrader round trip)."""

WRONG = {
    # the probabilities pi_n forgotten: the score of the uniform empirical measure
    "ex-03-weighted-data-solution": """def weighted_score(schedule, data, probs, x, t):
    m, var = schedule.m(t), schedule.sigma(t) ** 2
    logits = -((x[:, None, :] - m * data[None]) ** 2).sum(-1) / (2 * var)
    w = torch.softmax(logits, 1)  # the probabilities pi_n forgotten
    return (m * (w @ data) - x) / var
""",
    # the partial repair: float64 instead of log-sum-exp
    "ex-03-assignment-a-solution": """def stable_weights(schedule, data, x, t):
    m, var = schedule.m(t), schedule.sigma(t) ** 2
    logits = -((x[:, None, :] - m * data[None]) ** 2).sum(-1) / (2 * var)
    kernel = torch.exp(logits.double())
    return (kernel / kernel.sum(1, keepdim=True)).to(x.dtype)
""",
    # the denoiser's scaling forgotten: (xbar - x) / sigma^2
    "ex-03-assignment-b-solution": """def score_from_weights(schedule, data, x, t, w):
    var = schedule.sigma(t) ** 2
    return (w @ data - x) / var
""",
    # the slope returned with its sign, and fitted against log t
    "ex-03-assignment-c-solution": """def score_norm_exponent(schedule, data, x, ts):
    norms = []
    for t in ts.tolist():
        w = stable_weights(schedule, data, x, t)
        norms.append(score_from_weights(schedule, data, x, t, w).norm())
    u = torch.log(ts.double())
    v = torch.log(torch.stack(norms).double())
    return (((u - u.mean()) * (v - v.mean())).sum() / ((u - u.mean()) ** 2).sum()).item()
""",
}
