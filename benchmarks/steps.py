"""Figure 7: the per-step cost of the samplers on the course's own workload (N = 20, d = 2).

The paper's 20 points, VE, the paper's latents, float64 (as in the chapters): the time of one
score call at M = 200 (its fixed cost, next to the naive ``cdist`` code in the same process),
and the time per step of Heun (400 steps) and exponential-2m (72 steps), chapter 7's sampling,
for 1000 and 200 samples and for ``mdiff.empirical_score`` and ``mdiff.tikhonov_score``.

Measured against **today's** mdiff: the package as it was before issue 18 (commit ``BASELINE``),
unpacked by ``git archive`` (which changes nothing in the repository) into a temporary folder.
Both packages run in child processes (``python -m benchmarks.steps --child``), alternately, with
one torch thread (``THREADS``: the chapters' setting; at these sizes a second thread costs
time); each figure is the best over the rounds, ratio = baseline time / current
time (target: chapter 7's sampling, 1000 samples, >= 2.5x faster). The end points of the two
packages are compared (the lean path must give the same results). Without the commit (a shallow
clone, no git) the baseline is reported as not available and the ratios get no verdict.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import torch

from .common import ROOT, per_call, row

BASELINE = "95bebd0"  # mdiff before issue 18 (its kernel and samplers as in 96ce6b9)
TARGET = 2.5  # issue 18: chapter 7's sampling (1000 samples) at least 2.5x faster
C = 1e-3  # the Tikhonov constant of the tikhonov_score rows
T_MIN = 1e-8  # chapter 7's grid: log-sigma from t = 1 to 1e-8, then to 0
SAMPLES, QUICK_SAMPLES = (1000, 200), (100, 20)
METHODS, QUICK_METHODS = (
    (("heun", 400), ("exponential-2m", 72)),
    (("heun", 20), ("exponential-2m", 8)),
)
SCORES = ("empirical", "tikhonov")
THREADS = 1  # every chapter runs torch.set_num_threads(1): chapter 7's sampling is measured so
BUDGET = 0.6  # seconds of repeated runs per case in each child (best run counts)


def _best_run(fn, budget: float):
    """Best time of calls of ``fn`` repeated for ``budget`` seconds (twice at least); its result."""
    best, spent, calls = math.inf, 0.0, 0
    while calls < 2 or spent < budget:
        start = time.perf_counter()
        out = fn()
        elapsed = time.perf_counter() - start
        best, spent, calls = min(best, elapsed), spent + elapsed, calls + 1
    return best, out


def child(quick: bool) -> dict:
    """In the child: fixed cost of a score call, time per sampler step, and the end points."""
    import mdiff

    from .peers import naive_score

    ve, data = mdiff.VE(), mdiff.paper_points()
    latents = mdiff.paper_latents(ve, max(QUICK_SAMPLES if quick else SAMPLES))
    score, x200 = mdiff.empirical_score(ve, data), latents[:200]
    m, var = 1.0, float(ve.sigma(torch.tensor(0.5, dtype=torch.float64))) ** 2
    score(x200, 0.5), naive_score(data, x200, m, var)  # warm-up
    out = {
        "mdiff": str(Path(mdiff.__file__).parent),
        "score_call": per_call(lambda: score(x200, 0.5), 0.3),
        "naive_call": per_call(lambda: naive_score(data, x200, m, var), 0.3),
        "cases": [],
    }
    scores = {
        "empirical": mdiff.empirical_score(ve, data),
        "tikhonov": mdiff.tikhonov_score(ve, data, C),
    }
    for n in QUICK_SAMPLES if quick else SAMPLES:
        for kind in SCORES:
            for method, steps in QUICK_METHODS if quick else METHODS:
                ts = mdiff.time_grid(ve, steps, t_min=T_MIN)
                x = latents[:n]
                mdiff.probability_flow(ve, scores[kind], x, ts[:4], method=method)  # warm-up
                sec, end = _best_run(
                    lambda: mdiff.probability_flow(ve, scores[kind], x, ts, method=method),  # noqa: B023
                    0.05 if quick else BUDGET,
                )
                case = {"samples": n, "score": kind, "method": method, "steps": steps}
                out["cases"].append({**case, "seconds": sec, "end": end.flatten().tolist()})
    return out


def baseline_tree(folder: Path) -> str | None:
    """Unpack the baseline's ``mdiff/`` into ``folder``; None, or the reason it is not available."""
    try:
        done = subprocess.run(
            ["git", "archive", "--format=tar", BASELINE, "mdiff"],
            cwd=ROOT,
            capture_output=True,
            check=True,
            timeout=60,
        )
        with tarfile.open(fileobj=io.BytesIO(done.stdout)) as tar:
            tar.extractall(folder, filter="data")
    except (OSError, subprocess.SubprocessError) as err:
        stderr = getattr(err, "stderr", b"") or b""
        return f"baseline {BASELINE} not available ({stderr.decode().strip() or err})"[:200]
    return None


def _run_child(folder: Path | None, quick: bool) -> dict:
    """One child: mdiff from ``folder`` (the baseline) or from the working tree (None)."""
    cwd = folder or ROOT  # the working directory comes first on sys.path: it picks mdiff
    path = [str(cwd)] + ([str(ROOT)] if folder else [])  # benchmarks/ from the working tree
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    cmd = [sys.executable, "-m", "benchmarks.steps", "--child"]
    cmd += ["--threads", str(THREADS)] + (["--quick"] if quick else [])
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode:  # the table shows the child's own last line (e.g. an ImportError)
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{'baseline' if folder else 'current'} child: {last}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    where = Path(result["mdiff"]).resolve()
    if where != (cwd / "mdiff").resolve():
        raise RuntimeError(f"the child imported mdiff from {where}, not from {cwd}")
    return result


def _best(runs: list[dict]) -> dict:
    """Best fixed costs and case times over the rounds (the end points of the first round)."""
    best = dict(runs[0], cases=[dict(c) for c in runs[0]["cases"]])
    for run in runs[1:]:
        best["score_call"] = min(best["score_call"], run["score_call"])
        best["naive_call"] = min(best["naive_call"], run["naive_call"])
        for case, other in zip(best["cases"], run["cases"]):
            case["seconds"] = min(case["seconds"], other["seconds"])
    return best


def measure(quick: bool, rounds: int) -> tuple[dict, dict | None, str | None]:
    """Current and baseline measurements (baseline None with the reason if not available)."""
    with tempfile.TemporaryDirectory(prefix="mdiff-baseline-") as tmp:
        reason = baseline_tree(Path(tmp))
        current, base = [], []
        for _ in range(rounds):  # alternate: a busy moment spoils both trees' round
            current.append(_run_child(None, quick))
            if reason is None:
                base.append(_run_child(Path(tmp), quick))
    return _best(current), (_best(base) if base else None), reason


def _us(sec: float) -> str:
    return f"{sec * 1e6:.4g} us" if sec < 1e-3 else f"{sec * 1e3:.4g} ms"


def step_rows(quick: bool = False, repeat: int = 3) -> list[dict]:
    """Figure 7: fixed cost of a score call and time per sampler step, current vs baseline."""
    cur, base, reason = measure(quick, 1 if quick else min(repeat, 3))
    tag = f"baseline {BASELINE}"
    rows = [
        row(
            "7 sampler steps N=20",
            "score call M=200 N=20 d=2 float64 (fixed cost)",
            f"{_us(cur['score_call'])}/call",
            (f"{tag} {_us(base['score_call'])}; " if base else "")
            + f"naive cdist+softmax {_us(cur['naive_call'])}",
            base["score_call"] / cur["score_call"] if base else None,
            score_call_seconds=cur["score_call"],
            naive_call_seconds=cur["naive_call"],
            baseline_score_call_seconds=base["score_call"] if base else None,
        )
    ]
    for k, case in enumerate(cur["cases"]):
        per_step = case["seconds"] / case["steps"]
        ratio = diff = None
        ref = reason or ""
        if base:
            other = base["cases"][k]
            ratio = other["seconds"] / case["seconds"]
            a, b = torch.tensor(case["end"]), torch.tensor(other["end"])
            diff = float((a - b).abs().max())
            ref = f"{tag} {_us(other['seconds'] / other['steps'])}/step (max |dx| {diff:.1e})"
        target = case["samples"] == max(QUICK_SAMPLES if quick else SAMPLES)
        rows.append(
            row(
                "7 sampler steps N=20",
                f"{case['method']} {case['steps']} steps, {case['samples']} samples, "
                f"{case['score']} score",
                f"{_us(per_step)}/step",
                ref,
                ratio,
                f">= {TARGET}" if target else None,
                (ratio >= TARGET if ratio is not None else None) if target else None,
                seconds=case["seconds"],
                seconds_per_step=per_step,
                max_end_difference=diff,
                **{key: case[key] for key in ("samples", "score", "method", "steps")},
            )
        )
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.steps")
    parser.add_argument("--child", action="store_true", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(json.dumps(child(args.quick)))
