"""Typical wrong answers to chapter 11's exercises (nbgrader round trip)."""

WRONG = {
    "ex-11-heldout-rate-solution": """def heldout_rate(n, n_fresh, seed, ratio=1 / 3):
    gen = torch.Generator().manual_seed(seed)
    train = mdiff.ring(n, generator=gen)
    fresh = mdiff.ring(n_fresh, generator=gen)
    return mdiff.memorized(fresh, train).double().sum().item()
""",
    "ex-11-copier-energy-solution": """def copier_energy(train, fresh):
    return mdiff.energy_distance(train, fresh, unbiased=True)
""",
}
