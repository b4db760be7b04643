"""Typical wrong answers to chapter 08's exercises (nbgrader round trip)."""

WRONG = {
    "ex-08-frac-prediction-solution": """def eb_frac_prediction(tau, d):
    return max(0.0, 1 - tau)
""",
    "ex-08-energy-solution": """def energy_v(a, b):
    cross = torch.cdist(a, b).mean()
    return 2 * cross - torch.pdist(a).mean() - torch.pdist(b).mean()
""",
    "ex-08-freeze-bandwidth-solution": """def freeze_bandwidth(tau, n_data, density, d):
    return (tau / (n_data * density)) ** (1 / d)
""",
}
