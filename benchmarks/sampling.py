"""Figure 4: score evaluations the samplers need on the paper's 20 points (VE, 1000 samples).

Test: every sample ends within ``TOL`` of the same training point as the reference solution
(DOP853, ``rtol = atol = 1e-10``, to ``t = 1e-5``, then one exponential step to ``t = 0``:
the sigma -> 0 limit, i.e. the denoiser). ``probability_flow`` runs on ``mdiff.time_grid``
(uniform in ``log sigma``); the smallest passing number of steps is found by doubling, then
bisection (to within 1/8), watching only the samples that failed at the last failing size,
and is checked on all samples at the end. Evaluations are counted by wrapping the score.
RK45 and DOP853 control an RMS error over all 2000 coordinates, not each sample's. The
figure counts evaluations, not time, so it runs on one thread: on a busy machine the many
tiny parallel regions of a 1000 x 20 problem would only make it slow.

What decides this test is the order of a method while the weights are still spread: a few
of 1000 samples start close to a boundary between two training points' basins, and a
first-order step (Euler, the exponential step) needs a very fine grid to send them the same
way as the reference; the exponential step's exactness only helps once the weights are one-hot.
Two further rows measure this directly: how many samples each method sends the wrong way at
the target's budget (a tenth of RK45's evaluations), and how many samples change their
training point when the reference's start ``x(T)`` is moved by ``eps`` (their margin).
"""

from __future__ import annotations

import torch
from scipy.integrate import solve_ivp

import mdiff
from mdiff.sampling import pf_drift

from .common import row

TOL = 1e-4
T_END = 1e-5  # where the adaptive solvers stop; one denoiser step then goes to t = 0
# Heun's and Euler's last step (to t = 0) is an Euler step that only halves the distance to the
# training point, so they need sigma(t_min) = 1e-5 << TOL; the exponential step is exact there.
T_MIN = {"euler": 1e-10, "heun": 1e-10, "exponential": 1e-5, "exponential-2m": 1e-5}
METHODS = ("exponential", "exponential-2m", "heun", "euler")


class Counted:
    """A score that counts its evaluations (one call on all samples = one evaluation)."""

    def __init__(self, score):
        self.score, self.calls = score, 0

    def __call__(self, x, t):
        self.calls += 1
        return self.score(x, t)


def _m_sigma(schedule, t: float) -> tuple[float, float]:
    tt = torch.tensor(t, dtype=torch.float64)
    return float(schedule.m(tt)), float(schedule.sigma(tt))


def adaptive(schedule, score, x, t_end: float, tol: float, method: str = "RK45"):
    """``solve_ivp`` on the probability-flow ODE from ``T`` to ``t_end``; returns (x, nfev)."""
    n, d = x.shape

    def rhs(t, y):
        return pf_drift(schedule, score, torch.from_numpy(y).view(n, d), t).numpy().ravel()

    sol = solve_ivp(rhs, (schedule.T, t_end), x.numpy().ravel(), method=method, rtol=tol, atol=tol)
    return torch.from_numpy(sol.y[:, -1].copy()).view(n, d), sol.nfev


def denoise(schedule, score, x, t: float):
    """The exponential step from ``t`` to ``0`` (``sigma' = 0``): the denoiser, one evaluation."""
    return mdiff.probability_flow(schedule, score, x, torch.tensor([t, 0.0]), method="exponential")


class Problem:
    """The paper's set, VE, the paper's latents (``mdiff.paper_latents``, seed 0); the reference."""

    def __init__(self, n_samples: int):
        self.schedule, self.data = mdiff.VE(), mdiff.paper_points()
        self.x0 = mdiff.paper_latents(self.schedule, n_samples, d=2, seed=0)
        self.score = mdiff.empirical_score(self.schedule, self.data)
        self.target, self.ref_nfev = self.reference(self.x0)

    def reference(self, x0) -> tuple[torch.Tensor, int]:
        """Training point each start reaches: DOP853 at 1e-10 to ``T_END``, then the denoiser."""
        x, nfev = adaptive(self.schedule, self.score, x0, T_END, 1e-10, "DOP853")
        return self.nearest(denoise(self.schedule, self.score, x, T_END))[1], nfev

    def nearest(self, x):
        dist, idx = mdiff.nearest_k(x, self.data, 1)
        return dist[:, 0], idx[:, 0]

    def ok(self, x, which) -> torch.Tensor:
        """Boolean per sample: within ``TOL`` of the reference's training point."""
        dist, idx = self.nearest(x)
        return (idx == self.target[which]) & (dist < TOL)

    def run(self, method: str, n_steps: int, which) -> tuple[torch.Tensor, int]:
        """Final points of the samples ``which`` after ``n_steps``; and the evaluations used."""
        score = Counted(self.score)
        ts = mdiff.time_grid(self.schedule, n_steps, t_min=T_MIN[method])
        x = mdiff.probability_flow(self.schedule, score, self.x0[which], ts, method=method)
        return self.ok(x, which), score.calls


def steps_needed(problem: Problem, method: str, cap: int) -> dict:
    """Smallest passing number of steps (see the module docstring), or None above ``cap``."""
    everyone = torch.arange(len(problem.x0))
    watch, lo, n, fails = everyone, 0, 4, {}
    while n <= cap:
        good, _ = problem.run(method, n, watch)
        fails[n] = int((~good).sum())
        if not good.all():
            watch, lo, n = watch[~good], n, 2 * n
            continue
        hi = n
        while hi - lo > max(1, lo // 8):
            mid = (lo + hi) // 2
            good, _ = problem.run(method, mid, watch)
            fails[mid] = int((~good).sum())
            lo, hi = (lo, mid) if good.all() else (mid, hi)
        good, calls = problem.run(method, hi, everyone)  # the check on all samples
        if good.all():
            return {"steps": hi, "evaluations": calls, "fails_by_steps": fails}
        watch, lo, n = everyone[~good], hi, 2 * hi
    return {"steps": None, "evaluations": None, "fails_by_steps": fails}


def sampling_rows(quick: bool = False) -> list[dict]:
    """Figure 4: RK45's evaluations over each method's (ratio; target >= 10 for exponential)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _sampling_rows(quick)
    finally:
        torch.set_num_threads(threads)


def _sampling_rows(quick: bool) -> list[dict]:
    problem = Problem(50 if quick else 1000)
    sched, score = problem.schedule, Counted(problem.score)
    x_end, nfev = adaptive(sched, score, problem.x0, T_END, 1e-5)
    rk_ok = bool(problem.ok(denoise(sched, score, x_end, T_END), slice(None)).all())
    rk_evals = score.calls
    note = f"RK45 {rk_evals} evals" + ("" if rk_ok else " (FAILS the test)")
    rows = [
        row(
            "4 sampler evaluations",
            f"RK45 rtol=atol=1e-5 to t={T_END:g} + 1 denoiser step",
            f"{rk_evals} evals",
            f"reference DOP853 1e-10: {problem.ref_nfev} evals",
            None,
            None,
            rk_ok,
            evaluations=rk_evals,
            nfev=nfev,
        )
    ]
    cap = 256 if quick else 1 << 15
    budget = max(1, rk_evals // 10)
    for method in METHODS:
        r = steps_needed(problem, method, cap)
        evals = r["evaluations"]
        ratio = rk_evals / evals if evals else None
        target = method.startswith("exponential")
        r["fails_at_budget"] = int((~problem.run(method, budget, slice(None))[0]).sum())
        rows.append(
            row(
                "4 sampler evaluations",
                f"{method}, log-sigma grid, t_min={T_MIN[method]:g}",
                f"{evals} evals ({r['steps']} steps)" if evals else f"> {cap} steps",
                f"{note}; at {budget} evals {r['fails_at_budget']} of {len(problem.x0)} fail",
                ratio,
                ">= 10" if target else None,
                (ratio is not None and ratio >= 10) if target else None,
                **r,
            )
        )
    if not quick:
        rows.append(margin_row(problem))
    return rows


def margin_row(problem: Problem, eps=(1e-1, 1e-2, 1e-3, 1e-4)) -> dict:
    """Samples whose reference end point changes when ``x(T)`` moves by ``eps`` along +-e_i."""
    sched, n, d = problem.schedule, *problem.x0.shape
    moved = {}
    for e in eps:
        flipped = torch.zeros(n, dtype=torch.bool)
        for k in range(2 * d):
            shift = torch.zeros(d, dtype=problem.x0.dtype)
            shift[k // 2] = e if k % 2 == 0 else -e
            flipped |= problem.reference(problem.x0 + shift)[0] != problem.target
        moved[e] = int(flipped.sum())
    return row(
        "4 sampler evaluations",
        f"margin: samples whose end point moves when x(T) moves by eps (sigma(T)="
        f"{float(sched.sigma(torch.tensor(sched.T))):.3g})",
        ", ".join(f"{v} at {e:g}" for e, v in moved.items()),
        "reference DOP853 1e-10",
        moved={str(e): v for e, v in moved.items()},
    )
