"""Typical wrong answers to chapter 7's exercises (nbgrader round trip)."""

WRONG = {
    # divides by 1 + diag(Gamma): ignores the off-diagonal entries
    "ex-07-minimizer-solution": """def regularized_minimizer(s_emp, gamma):
    return s_emp / (1 + gamma.diagonal())
""",
    # the VE answer, without the drift's contribution
    "ex-07-vp-offset-solution": """def terminal_offset_vp(schedule, u1, t1, c):
    s1 = schedule.sigma(t1)
    return u1 * (c / (s1**2 + c)) ** 0.5
""",
    # only one of the two bugs fixed: stable weights, but m(t) still missing
    "ex-07-assignment-a-solution": """def tikhonov_score_fixed(schedule, data, c):
    def score(x, t):
        m, var = schedule.m(t), schedule.sigma(t) ** 2
        logits = -((x[:, None, :] - m * data[None]) ** 2).sum(-1) / (2 * var)
        w = torch.softmax(logits, dim=1)
        return (w @ data - x) / (var + c)

    return score
""",
    # the two-dimensional (Rayleigh) law in every dimension
    "ex-07-assignment-b-solution": """def frac_prediction(c, d, tol):
    return 1 - math.exp(-(tol**2) / (2 * c))
""",
    # the number of memorized samples instead of the fraction
    "ex-07-assignment-c-solution": """def measure_frac(schedule, data, c, n_samples, seed):
    gen = torch.Generator().manual_seed(seed)
    x = schedule.prior(n_samples, data.shape[1], generator=gen)
    ts = mdiff.time_grid(schedule, 200, t_min=1e-8)
    score = mdiff.tikhonov_score(schedule, data, c)
    out = mdiff.probability_flow(schedule, score, x, ts, method="heun")
    return int((mdiff.nearest_distance(out, data) < 1e-2).sum())
""",
    # the prediction left at d = 2 (the chapter's plane) instead of the assignment's d = 6
    "ex-07-assignment-c-solution-2": """def c_half(frac_of_c, lo=1e-8, hi=1e-2):
    for _ in range(60):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if frac_of_c(mid) > 0.5 else (lo, mid)
    return math.sqrt(lo * hi)


c_half_predicted = c_half(lambda c: frac_prediction(c, 2, TOL_A))
measured = {c: measure_frac(VE_A, DATA_6, c, 1000, 0) for c in C_SWEEP}
for c in C_SWEEP:
    print(f"{c:9.3g} {measured[c]:9.3f} {frac_prediction(c, 2, TOL_A):10.3f}")
""",
}
