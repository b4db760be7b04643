"""The benchmark suite runs end to end at tiny sizes (its numbers are measured, not tested).

One run of ``python -m benchmarks --quick`` (module fixture); the tests parse its JSON and its
printed tables: every figure is there with its rows, every target has a computed verdict.
"""

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIGURES = {"1", "2", "3", "4", "5", "7", "8", "9", "10"}
VERDICT = re.compile(r": (met|not met|no verdict)$")


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """``(stdout, rows)`` of one quick run on one thread."""
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    cmd = [sys.executable, "-m", "benchmarks", "--quick", "--threads", "1", "--json", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]  # a failed figure: stdout
    return done.stdout, json.loads(out.read_text())["rows"]


def _figure(rows, number: str) -> list[dict]:
    return [r for r in rows if r["figure"].split()[0] == number]


def test_every_figure_runs_and_prints_its_table(quick):
    stdout, rows = quick
    assert {r["figure"].split()[0] for r in rows} == FIGURES
    for number in FIGURES:
        assert f"## Figure {number}:" in stdout
    assert "| figure" in stdout


def test_every_target_has_a_computed_verdict(quick):
    stdout, rows = quick
    for r in rows:
        if r.get("target") is not None:
            assert r["met"] in (True, False, None), r
    summary = stdout.split("## Targets", 1)[1].strip().splitlines()
    lines = [line for line in summary if line.startswith("figure ")]
    assert {line.split()[1].rstrip(":") for line in lines} == FIGURES - {"5"}  # 5 has none
    assert all(VERDICT.search(line) for line in lines), lines


def test_peers_side_by_side(quick):
    """Figure 2: the authors' loop and the naive code on all four shapes, same results."""
    rows = _figure(quick[1], "2")
    measured = [r for r in rows if "skipped" not in r]
    for peer in ("authors' loop", "naive cdist+softmax"):
        mine = [r for r in measured if r["peer"] == peer]
        assert len(mine) == 4
        assert all(r["ratio"] > 0 and r["relative_difference"] < 1e-4 for r in mine)
    course = [r for r in measured if r["shape"] == [200, 20, 2] and r["peer"].startswith("naive")]
    assert course[0]["target"] == ">= 1"
    for r in rows:  # a peer not measured says why
        if "skipped" in r:
            assert r["skipped"] and r["measured"] == "-"
    names = {r["peer"] for r in rows}
    assert {"torch.compile(naive)", "smalldiffusion", "KeOps"} <= names


def test_sampler_steps_at_n20(quick):
    """Figure 7: the fixed cost of a score call and both methods, both scores, two sizes."""
    rows = _figure(quick[1], "7")
    assert rows[0]["score_call_seconds"] > 0 and rows[0]["naive_call_seconds"] > 0
    cases = {(r["method"], r["score"], r["samples"]) for r in rows[1:]}
    assert len(cases) == 8 and {m for m, _, _ in cases} == {"heun", "exponential-2m"}
    assert all(r["seconds_per_step"] > 0 for r in rows[1:])
    targets = [r for r in rows if r.get("target") is not None]
    assert targets and all(r["samples"] == max(s for _, _, s in cases) for r in targets)
    for r in targets:  # a ratio whenever the baseline could be measured
        assert (r["ratio"] is None) == (r["met"] is None)


def _has_baseline() -> bool:
    from benchmarks.steps import BASELINE

    try:  # no git on the machine, or not a git checkout (an unpacked archive): no baseline
        found = subprocess.run(
            ["git", "cat-file", "-e", f"{BASELINE}^{{commit}}"], cwd=ROOT, capture_output=True
        )
    except OSError:
        return False
    return found.returncode == 0


@pytest.mark.skipif(not _has_baseline(), reason="no baseline commit (a shallow clone, or no git)")
def test_the_baseline_child_runs_against_the_old_mdiff(quick):
    """Figure 7's baseline child imports ``benchmarks`` from the working tree beside the baseline's
    ``mdiff``: whatever ``benchmarks`` imports at module level must exist there too. Its end points
    equal the current ones (the lean path changes no result)."""
    rows = _figure(quick[1], "7")[1:]
    assert all(r["ratio"] is not None and r["ratio"] > 0 for r in rows)
    assert all(r["max_end_difference"] <= 1e-12 for r in rows)


def test_small_t_and_past_the_dense_limit(quick):
    *rows, f64 = _figure(quick[1], "8")
    assert len(rows) == 2 and all(r["ratio"] > 0 and r["target"] == "<= 1.2" for r in rows)
    assert "float64" in f64["case"] and f64["ratio"] > 0 and f64["target"] is None
    dense, truncated = _figure(quick[1], "9")
    assert dense["ratio"] > 0 and dense["max_weight_min"] > 0.999
    assert dense["relative_difference"] < 1e-4
    assert (truncated["truncated"] is None) == (truncated["measured"] == "not available")


def test_float32_accuracy_table(quick):
    rows = _figure(quick[1], "10")
    assert [r["t"] for r in rows] == [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    assert all(math.isfinite(r["max_relative_error"]) for r in rows)
    assert all(r["met"] == (r["max_relative_error"] <= 1e-3) for r in rows)


def test_training_sweep_and_padded_stack(quick):
    rows = _figure(quick[1], "5")
    assert [r["models"] for r in rows if "models" in r] == [1, 2, 3, 4, 6]
    padded = [r for r in rows if r["figure"] == "5 padded width stack"]
    assert len(padded) == 1 and padded[0]["ratio"] > 0
