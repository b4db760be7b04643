"""Typical wrong answers to chapter 10's exercises (nbgrader round trip)."""

WRONG = {
    "ex-10-false-positive-solution": """def false_positive_rate(ratio, d):
    return ratio**2
""",
    "ex-10-distinct-ratio-solution": """def distinct_ratio_test(samples, data, ratio=1 / 3):
    d12 = torch.cdist(samples, data).topk(2, dim=1, largest=False).values
    return d12[:, 0] < ratio * d12[:, 1]
""",
    "ex-10-assignment-a-solution": """def scale_free_fraction(samples, data, rel):
    tol = rel * torch.cdist(data, data).min(1).values.median()
    d1 = torch.cdist(samples, data).min(1).values
    return (d1 < tol).double().mean().item()
""",
    "ex-10-assignment-b-solution": """def calibrated_excess(samples, heldout, data, rel=0.1):
    return scale_free_fraction(samples, data, rel)
""",
}
