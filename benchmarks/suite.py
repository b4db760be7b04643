"""The benchmark suite: figures 1-5 in one run, printed as a table and written as JSON."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from . import chapters, kernel, memory, sampling, training
from .common import BUILD, machine, table

FIGURES = {
    1: "score vs this machine's limit",
    2: "speed-up vs simple implementations",
    3: "peak memory (child process)",
    4: "sampler evaluations",
    5: "training steps/s",
}


def run(figures, quick: bool) -> tuple[dict, list[dict]]:
    """Measure the requested figures; returns (reference rates of figure 1, rows)."""
    rates, rows, repeat = {}, [], 1 if quick else 3
    steps = {
        1: lambda: kernel.limit_rows(rates, quick, repeat),
        2: lambda: kernel.speedup_rows(quick, repeat),
        3: lambda: memory.memory_rows(quick),
        4: lambda: sampling.sampling_rows(quick),
        5: lambda: training.training_rows(quick, repeat),
    }
    for figure in figures:
        start = time.perf_counter()
        rows += steps[figure]()
        print(f"[{time.perf_counter() - start:6.1f} s] figure {figure}: {FIGURES[figure]}")
        if figure == 1:
            print(
                f"         float32 matmul {rates['matmul'] / 1e9:.1f} Gflop/s, float32 exp "
                f"{rates['exp'] / 1e9:.2f} G/s ({torch.get_num_threads()} threads)",
                flush=True,
            )
    return rates, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--only", default="1,2,3,4,5", help="figures to run, e.g. 1,3")
    parser.add_argument("--json", type=Path, default=BUILD / "benchmarks.json")
    parser.add_argument("--chapters", action="store_true", help="also time every chapter (slow)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    figures = [int(f) for f in args.only.split(",") if f.strip()]
    info = machine()
    print(
        f"{info['cpu']}, {info['cores']} cores, torch {info['torch']} ({info['blas']}), "
        f"{info['threads']} threads, load average {info['load_average']}",
        flush=True,
    )
    start = time.perf_counter()
    rates, rows = run(figures, args.quick)
    info["load_average_end"] = machine()["load_average"]
    info["seconds"] = round(time.perf_counter() - start, 1)
    print()
    print(table(rows))
    print(f"\nload average at the end {info['load_average_end']}; {info['seconds']} s in all")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    result = {"machine": info, "quick": args.quick, "rates": rates, "rows": rows}
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")
    if args.chapters:
        return chapters.main([])
    return 0
