"""The benchmark suite runs end to end at tiny sizes (its numbers are measured, not tested)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_benchmark_suite_smoke(tmp_path):
    """``python -m benchmarks --quick`` (tiny sizes) runs every figure and writes its JSON."""
    out = tmp_path / "bench.json"
    cmd = [sys.executable, "-m", "benchmarks", "--quick", "--threads", "1", "--json", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    figures = {r["figure"].split()[0] for r in result["rows"]}
    assert figures == {"1", "2", "3", "4", "5"}
    assert "| figure" in done.stdout
