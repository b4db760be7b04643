"""What machine this is, read once for the long runs' provenance and the benchmarks' tables."""

from __future__ import annotations

import platform
from pathlib import Path


def cpu() -> tuple[str, str]:
    """This machine's CPU vendor (``AuthenticAMD``, ``GenuineIntel``, ...) and model name. The
    BLAS and vectorised kernels torch uses depend on them: a run is bit-reproducible on machines
    of one vendor and instruction set, not across vendors (see ``tests/test_long_runs.py``)."""
    info = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return info.get("vendor_id", platform.processor() or "unknown"), info.get("model name", "")
