"""What machine this is, read once for the long runs' provenance and the benchmarks' tables."""

from __future__ import annotations

from mdiff.data import cpu

__all__ = ["cpu"]
