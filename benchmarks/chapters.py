"""Figure 6: wall time and peak memory of executing every chapter (slow; run separately).

``python -m benchmarks.chapters [NOTEBOOK ...]`` executes each chapter with the executor
(``tools.execute.execute``: fresh kernel, top to bottom) on a copy in a temporary directory,
so the committed notebooks are not rewritten, and writes ``_build/chapter_times.json`` and a
Markdown table ``_build/chapter_times.md``. Budgets (DESIGN.md section 4): 120 s per chapter
(300 s for the chapters that train networks, 09-* and 11-*), 2 GB peak memory.
``python -m tools.chapter_table`` turns the JSON into the table of the instructors' page
(``chapters/_chapter_times.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from tools.execute import execute

from .common import BUILD, ROOT, machine

BUDGET_SECONDS, NETWORK_BUDGET_SECONDS, BUDGET_BYTES = 120, 300, 2e9


NETWORK_CHAPTERS = ("09-", "11-")  # the chapters that train networks


def budget_seconds(path: Path) -> int:
    return NETWORK_BUDGET_SECONDS if path.name.startswith(NETWORK_CHAPTERS) else BUDGET_SECONDS


def time_chapters(notebooks: list[Path], timeout: int = 600) -> list[dict]:
    """Execute each notebook (a copy) and return its wall time and peak kernel memory."""
    results = []
    os.environ.setdefault("MDIFF_RESULTS", str(ROOT / "results"))  # the kernels inherit it
    with tempfile.TemporaryDirectory(prefix="mdiff-chapters-") as tmp:
        for path in notebooks:
            copy = Path(tmp) / path.name
            shutil.copy(path, copy)  # results/ is found through MDIFF_RESULTS (below)
            print(f"executing {path.name} ...", flush=True)
            entry = {"chapter": path.name, "budget_seconds": budget_seconds(path)}
            try:
                seconds, peak = execute(copy, timeout)
                entry.update(
                    seconds=round(seconds, 1),
                    peak_mib=round(peak / 2**20),
                    within_budget=seconds <= entry["budget_seconds"] and peak <= BUDGET_BYTES,
                )
            except Exception as err:  # a failing chapter is reported, the others still run
                entry.update(error=f"{type(err).__name__}: {str(err)[:300]}", within_budget=False)
            print(f"  {entry}", flush=True)
            results.append(entry)
    return results


def markdown(results: list[dict], info: dict) -> str:
    """The results as a Markdown table with a line saying where they were measured."""
    lines = [
        "| chapter | wall time (s) | peak memory (MiB) | time budget (s) | within budget |",
        "|---|---:|---:|---:|---|",
    ]
    for r in results:
        time_cell = r.get("seconds", "failed")
        mem_cell = r.get("peak_mib", "-")
        ok = "yes" if r["within_budget"] else "**no**"
        lines.append(
            f"| {r['chapter']} | {time_cell} | {mem_cell} | {r['budget_seconds']} | {ok} |"
        )
    lines.append("")
    lines.append(
        f"Measured {info['date']} on {info['cpu']} ({info['cores']} cores, torch "
        f"{info['torch']} with {info['threads']} threads), load average "
        f"{info['load_average'][0]} at the start; memory budget 2 GB per chapter."
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    parser.add_argument("--json", type=Path, default=BUILD / "chapter_times.json")
    parser.add_argument("--markdown", type=Path, default=BUILD / "chapter_times.md")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "chapters").glob("*.ipynb"))
    info = machine()
    results = time_chapters([p.resolve() for p in notebooks], args.timeout)
    info["load_average_end"] = machine()["load_average"]
    for path in (args.json, args.markdown):
        path.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"machine": info, "chapters": results}, indent=2) + "\n")
    args.markdown.write_text(markdown(results, info))
    print(args.markdown.read_text())
    print(f"wrote {args.json} and {args.markdown}")
    return 1 if any("error" in r for r in results) else 0  # budgets are reported, not enforced


if __name__ == "__main__":
    sys.exit(main())
