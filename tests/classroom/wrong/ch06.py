"""Typical wrong answers to chapter 6's exercises (nbgrader round trip)."""

WRONG = {
    # the probability-flow path (sigma(t) / sigma(T)) in place of the bridge mean
    "ex-06-bridge-solution": """def bridge(schedule, x0, xT, t):
    T = schedule.T
    m, sig, mT, sT = schedule.m(t), schedule.sigma(t), schedule.m(T), schedule.sigma(T)
    mean = m * x0 + (sig / sT) * (xT - mT * x0)
    return mean, sig**2 * (1 - (sig * mT / (m * sT)) ** 2)
""",
    # the quantiles 1 - level and level instead of (1 - level)/2 and (1 + level)/2
    "ex-06-coverage-solution": """def interval_coverage(samples, truth, level=0.9):
    q = torch.tensor([1 - level, level], dtype=samples.dtype)
    lo, hi = torch.quantile(samples, q, dim=0)
    return ((truth >= lo) & (truth <= hi)).double().mean().item()
""",
}
