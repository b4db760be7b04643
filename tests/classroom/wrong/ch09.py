"""Typical wrong answers to chapter 9's exercises (nbgrader round trip)."""

WRONG = {
    "ex-09-fraction-table-solution": """def fraction_table(samples, data, tols):
    nearest = torch.cdist(samples, data.expand(len(samples), *data.shape)).min(-1).values
    tols = torch.as_tensor(tols, dtype=nearest.dtype)
    return (nearest[..., None] <= tols).to(nearest.dtype).mean(dim=1)
""",
    "ex-09-displacement-budget-solution": """def displacement_budget(schedule, t1, L, output):
    t = torch.tensor(t1, dtype=torch.float64)
    if output == "score":
        return 0.5 * L * float(schedule.alpha(t))
    return L * float(schedule.sigma(t))
""",
    "ex-09-eps-tikhonov-solution": """def eps_tikhonov(schedule, data, c):
    score = mdiff.empirical_score(schedule, data)

    def eps(x, t):
        return -schedule.sigma(torch.as_tensor(t, dtype=x.dtype)) * score(x, t)

    return eps
""",
}
