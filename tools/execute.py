"""Re-execute chapter notebooks top to bottom in place, storing outputs and widget state.

Usage: ``python -m tools.execute [NOTEBOOK ...]`` (default: every ``chapters/*.ipynb``).
Used by ``make execute``. Each notebook runs in a fresh kernel of the current environment,
with the notebook's directory as working directory (as under nbval), a fixed hash seed, and
no per-cell timing metadata, so that re-running gives the same file; records the CPU vendor in
``metadata.mdiff.executed_on`` (``tests/nbval_cpu.py``). Prints the wall time
and the kernel's peak resident memory per chapter (budgets: DESIGN.md section 4).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient

from mdiff.data import cpu

ROOT = Path(__file__).resolve().parents[1]


class PeakMemory:
    """Poll the resident memory of a process tree (the kernel) in a background thread."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval, self.peak, self.pid = interval, 0, None
        self._stop, self._lock = threading.Event(), threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        """Read the tree's resident memory now and update the peak."""
        if self.pid is None:
            return
        try:
            proc = psutil.Process(self.pid)
            rss = sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)])
        except psutil.Error:
            return
        with self._lock:
            self.peak = max(self.peak, rss)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def execute(path: Path, timeout: int) -> tuple[float, int]:
    """Execute one notebook in place; return (wall seconds, peak kernel RSS in bytes)."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=True,
        record_timing=False,
    )
    start = time.perf_counter()
    with PeakMemory() as mem:
        client.on_notebook_start = lambda **kw: setattr(mem, "pid", _kernel_pid(client))
        client.on_cell_executed = lambda **kw: mem.sample()  # short notebooks too
        client.execute()
    elapsed = time.perf_counter() - start
    # the CPU vendor whose kernels made the stored outputs (tests/nbval_cpu.py reads it)
    nb.metadata.setdefault("mdiff", {})["executed_on"] = cpu()[0]
    nbformat.write(nb, path)
    return elapsed, mem.peak


def _kernel_pid(client: NotebookClient) -> int | None:
    provisioner = getattr(client.km, "provisioner", None)
    process = getattr(provisioner, "process", None)
    return getattr(process, "pid", None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "chapters").glob("*.ipynb"))
    os.environ["PYTHONHASHSEED"] = "0"  # inherited by the kernel
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    total = 0.0
    for path in notebooks:
        print(f"executing {path} ...", flush=True)
        elapsed, peak = execute(path.resolve(), args.timeout)
        total += elapsed
        print(f"  {path.name}: {elapsed:7.1f} s wall, peak kernel memory {peak / 2**20:6.0f} MiB")
    print(f"executed {len(notebooks)} notebook(s) in {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
