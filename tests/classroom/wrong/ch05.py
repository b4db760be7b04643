"""Typical wrong answers to chapter 5's exercises (nbgrader round trip)."""

WRONG = {
    "ex-05-points-needed-solution": """def points_needed(t, d, var_data=1.0, eps=0.5):
    n_eps = (1 + var_data / math.expm1(2 * t)) ** (d / 2)
    return n_eps * (1 - eps) / eps
""",
    "ex-05-heuristic-solution": """def heuristic_collapsed(y, data, rho):
    d1, d2 = torch.cdist(y, data).topk(2, dim=1, largest=False).values.T
    return rho**2 < (d2 - d1) / (2 * math.log(data.shape[0]))
""",
    "ex-05-assignment-a-solution": """def nn_sq_distances(data):
    return (torch.cdist(data, data) ** 2).min(1).values
""",
    "ex-05-assignment-b-solution": """def nn_collapse_prediction(data):
    sq = torch.cdist(data, data) ** 2
    r2 = sq.fill_diagonal_(math.inf).min(1).values.mean().item()
    return 0.5 * math.log1p(r2 / (2 * math.log(len(data))))
""",
    "ex-05-assignment-c-solution": """def measured_median_collapse(data, seed=0):
    gen = torch.Generator().manual_seed(seed)
    start = OU.prior(N_TRAJ, data.shape[1], generator=gen, dtype=data.dtype)
    t_eps, _ = collapse_times(OU, data, start, TIMES)
    return t_eps.mean().item()
""",
}
