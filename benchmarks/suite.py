"""The benchmark suite: figures 1-5 and 7-10 in one run, one table per figure, written as JSON.

Figure 6 (every chapter's wall time, slow) runs separately: ``python -m benchmarks.chapters``.
Each figure prints its table, then its target (from issue 18 where it has one) with a verdict
computed from the rows just measured: ``met``, ``not met``, or ``no verdict`` when a measurement
could not be made (e.g. no baseline commit for figure 7).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

import torch

from . import accuracy, chapters, kernel, memory, peers, sampling, small_t, steps, training
from .common import BUILD, ROOT, machine, row, table, verdict

FIGURES = {
    1: ("score vs this machine's dense limit", "float32 score >= 0.8 of the dense limit"),
    2: (
        "peers on identical inputs (ratio = peer time / mdiff time)",
        "at M=200 N=20 d=2 mdiff at least as fast as the naive code; the authors' loop >= 10x "
        "slower at M=1000 N=2000 d=64",
    ),
    3: ("peak memory (child process)", "peak memory <= 1.5 GB"),
    4: ("sampler evaluations", "exponential steps >= 10x fewer evaluations than RK45"),
    5: ("training steps/s (one thread)", None),
    7: (
        "sampler steps at N = 20 (ratio = baseline time / current time)",
        f"chapter 7's sampling (1000 samples) >= {steps.TARGET}x faster than at {steps.BASELINE}",
    ),
    8: ("the score at small t", f"at most {small_t.SLOWDOWN}x slower at t = 1e-4 than at t = 0.5"),
    9: (
        "past the dense limit (one-hot weights)",
        "faster than the dense limit where the weights are one-hot (fraction > 1)",
    ),
    10: ("float32 accuracy near the data", f"relative error <= {accuracy.TARGET:g} at every t"),
}
DEFAULT = ",".join(map(str, FIGURES))


def _steps(rates: dict, quick: bool, repeat: int, small_peers: bool = False) -> dict:
    return {
        1: lambda: kernel.limit_rows(rates, quick, repeat),
        2: lambda: peers.peer_rows(quick, repeat, small_peers),
        3: lambda: memory.memory_rows(quick),
        4: lambda: sampling.sampling_rows(quick),
        5: lambda: training.training_rows(quick, repeat),
        7: lambda: steps.step_rows(quick, repeat),
        8: lambda: small_t.small_t_rows(quick, repeat),
        9: lambda: small_t.truncated_rows(rates, quick, repeat),
        10: lambda: accuracy.accuracy_rows(quick),
    }


def figure_verdict(rows: list[dict]) -> bool | None:
    """All targets of a figure met (True), one not met (False), else None (some not measured)."""
    verdicts = [r["met"] for r in rows if r.get("target") is not None]
    if any(v is False for v in verdicts):
        return False
    return True if verdicts and all(verdicts) else None


def report(figure: int, rows: list[dict], seconds: float) -> None:
    """Print one figure's table, its target and the verdict of each row that has one."""
    title, goal = FIGURES[figure]
    print(f"\n## Figure {figure}: {title} [{seconds:.1f} s]\n")
    print(table(rows))
    if goal is None:
        print("target: none (measurement only)")
        return
    print(f"target: {goal}: {verdict(figure_verdict(rows))}")
    for r in rows:
        if r.get("target") is not None:
            shown = r["measured"] if r.get("ratio") is None else f"{r['ratio']:.3g}"
            print(f"  {r['case']}: {shown} (target {r['target']}): {verdict(r['met'])}")


def run(figures, quick: bool, small_peers: bool = False) -> tuple[dict, list[dict]]:
    """Measure the requested figures, printing each; returns (reference rates, all rows)."""
    rates, rows, repeat = {}, [], 1 if quick else 3
    todo = _steps(rates, quick, repeat, small_peers)
    for figure in figures:
        start = time.perf_counter()
        try:
            new = todo[figure]()
        except Exception as err:  # noqa: BLE001 - one failing figure must not lose the others
            case = f"failed: {type(err).__name__}: {err}"[:300]
            new = [row(f"{figure} {FIGURES[figure][0]}", case, "-", "-", failed=True)]
            if FIGURES[figure][1] is not None:
                new[0].update(target="(figure failed)", met=None)
        report(figure, new, time.perf_counter() - start)
        if figure == 1:
            print(
                f"float32 matmul {rates['matmul'] / 1e9:.1f} Gflop/s, float32 exp "
                f"{rates['exp'] / 1e9:.2f} G/s ({torch.get_num_threads()} threads)"
            )
        print(flush=True)
        rows += new
    return rates, rows


def source_state() -> str:
    """The commit and the files of ``mdiff/`` changed in the working tree (read-only git)."""
    try:
        git = ["git", "-C", str(ROOT)]
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        )
        changed = subprocess.run(
            [*git, "diff", "--name-only", "HEAD", "--", "mdiff"], capture_output=True, text=True
        )
    except OSError as err:
        return f"unknown ({err})"
    if head.returncode:
        return "not a git checkout"
    files = [Path(f).name for f in changed.stdout.split()]
    return f"commit {head.stdout.strip()}, " + (
        f"mdiff/ changed in the working tree: {', '.join(files)}" if files else "mdiff/ unchanged"
    )


def summary(figures, rows: list[dict]) -> str:
    """One line per figure with a target: its verdict."""
    lines = []
    for figure in figures:
        goal = FIGURES[figure][1]
        if goal is not None:
            mine = [r for r in rows if r["figure"].split()[0] == str(figure)]
            lines.append(f"figure {figure}: {goal}: {verdict(figure_verdict(mine))}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--only", default=DEFAULT, help="figures to run, e.g. 1,3")
    parser.add_argument("--json", type=Path, default=BUILD / "benchmarks.json")
    parser.add_argument("--chapters", action="store_true", help="also time every chapter (slow)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own)")
    parser.add_argument(
        "--small-peers",
        action="store_true",
        help="figure 2 on its two small shapes only (for a busy machine)",
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    figures = [int(f) for f in args.only.split(",") if f.strip()]
    unknown = sorted(set(figures) - set(FIGURES))
    if unknown:
        parser.error(f"--only: no figure {unknown} (figures: {DEFAULT}; 6 is benchmarks.chapters)")
    info = {**machine(), "source": source_state()}
    print(
        f"{info['cpu']}, {info['cores']} cores, torch {info['torch']} ({info['blas']}), "
        f"{info['threads']} threads, load average {info['load_average']}, {info['date']}\n"
        f"source: {info['source']}",
        flush=True,
    )
    start = time.perf_counter()
    rates, rows = run(figures, args.quick, args.small_peers)
    info["load_average_end"] = machine()["load_average"]
    info["seconds"] = round(time.perf_counter() - start, 1)
    print("## Targets\n")
    print(summary(figures, rows))
    print(f"\nload average at the end {info['load_average_end']}; {info['seconds']} s in all")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    result = {"machine": info, "quick": args.quick, "small_peers": args.small_peers}
    result.update(rates=rates, rows=rows)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")
    failed = [r["figure"] for r in rows if r.get("failed")]
    if failed:
        print(f"FAILED: {', '.join(failed)} (the error is in the table)")
    if args.chapters:
        return chapters.main([]) or int(bool(failed))
    return int(bool(failed))
