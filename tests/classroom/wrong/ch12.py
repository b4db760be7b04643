"""Typical wrong answers to chapter 12's exercises (nbgrader round trip)."""

WRONG = {
    "ex-12-wiener-solution": """def gaussian_denoiser(mean, cov, x, sigma):
    eye = torch.eye(len(mean), dtype=cov.dtype)
    return x @ torch.linalg.solve(cov + sigma**2 * eye, cov)
""",
    "ex-12-rate-solution-1": """def convergence_rate(ns, errors):
    x = torch.log(torch.as_tensor(ns, dtype=torch.float64))
    y = torch.log(torch.as_tensor(errors, dtype=torch.float64))
    return (((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum()).item()
""",
    "ex-12-rate-solution-2": """def empirical_energy(sizes, repeats, seed):
    gen = torch.Generator().manual_seed(seed)
    means = []
    for n in sizes:
        values = [
            mdiff.energy_distance(
                mdiff.ring(n, generator=gen), mdiff.ring(4 * n, generator=gen), unbiased=True
            )
            for _ in range(repeats)
        ]
        means.append(sum(values) / repeats)
    return torch.tensor(means)
""",
}
