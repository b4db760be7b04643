"""Figure 3: peak memory of one ``empirical_score`` call, measured in a fresh child process.

The child (``python -m benchmarks.memory M N d``) imports torch, draws a float32 training set
``(N, d)`` and ``M`` points, makes the score and calls it once; it prints its resident memory
before the call and its peak, as JSON on stdout. The peak is ``VmHWM``, the high-water mark
the kernel keeps for the child's own address space (nothing is missed by polling). Not
``ru_maxrss``: a child started by vfork + exec inherits its parent's peak in that figure.
"""

from __future__ import annotations

import json
import subprocess
import sys

from .common import ROOT, row

SHAPE = (4000, 60000, 784)
QUICK_SHAPE = (100, 2000, 16)
BUDGET = 1.5e9  # bytes
MB = 1e6


def _status(field: str) -> int:
    """A memory field of ``/proc/self/status`` (``VmRSS``, ``VmHWM``) in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(M: int, N: int, d: int) -> dict:
    """Run in the child: one call of the score; resident sizes in bytes."""
    import torch

    import mdiff

    idle = _status("VmRSS")
    g = torch.Generator().manual_seed(0)
    data = torch.randn(N, d, generator=g)
    x = data[:M] + torch.randn(M, d, generator=g)
    before = _status("VmRSS")
    out = mdiff.empirical_score(mdiff.VE(), data)(x, 0.5)
    assert out.shape == (M, d) and bool(out.isfinite().all())
    peak = _status("VmHWM")
    return {"idle": idle, "before_call": before, "peak": peak, "data": data.nbytes}


def memory_rows(quick: bool = False) -> list[dict]:
    """Figure 3: peak resident memory of the child over the 1.5 GB budget."""
    M, N, d = QUICK_SHAPE if quick else SHAPE
    cmd = [sys.executable, "-m", "benchmarks.memory", str(M), str(N), str(d)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    r = json.loads(done.stdout.strip().splitlines()[-1])
    note = (
        f"idle {r['idle'] / MB:.0f} MB, with data {r['before_call'] / MB:.0f} MB "
        f"(data {r['data'] / MB:.0f} MB)"
    )
    return [
        row(
            "3 peak memory",
            f"M={M} N={N} d={d} float32",
            f"{r['peak'] / MB:.0f} MB",
            note,
            r["peak"] / BUDGET,
            "<= 1 (1.5 GB)",
            r["peak"] <= BUDGET,
            call_adds_mb=(r["peak"] - r["before_call"]) / MB,
            **{k: v / MB for k, v in r.items()},
        )
    ]


if __name__ == "__main__":
    print(json.dumps(child(*(int(a) for a in sys.argv[1:4]))))
