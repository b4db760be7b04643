"""Argument validation, in one place: every check raises ``ValueError`` naming the argument and what
was expected (a shape, a range, a type); the only conversions are the documented ones (integer
data to the default float dtype, a float ``t`` to a column)."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from torch import Tensor

#: A score: ``score(x, t)`` with ``x`` of shape ``(n, d)``, ``t`` a float or ``(n,)``.
Score = Callable[[Tensor, "float | Tensor"], Tensor]

#: Rows of data checked for finiteness at a time: at most 4 MB of booleans per block.
_FINITE_BLOCK = 1 << 22


def _real(value: Tensor, name: str) -> Tensor:
    """Integers and booleans become the default float dtype; complex numbers are refused."""
    if value.is_complex():
        raise ValueError(f"{name} must be real, got the complex dtype {value.dtype}")
    return value if value.is_floating_point() else value.to(torch.get_default_dtype())


#: Up to this many CPU float32/float64 numbers, NumPy checks finiteness on a shared view: a few
#: microseconds against torch's ~15 us of dispatch, the cost of a whole score call at N = 20.
_NUMPY_FINITE = 1 << 14


def _numpy_view(value: Tensor):
    """A NumPy view of a small plain CPU float32/float64 tensor (no copy), else None (also for
    tensors NumPy cannot see, e.g. inside ``torch.func`` transforms)."""
    if type(value) is not Tensor or value.numel() > _NUMPY_FINITE or value.device.type != "cpu":
        return None
    if value.dtype not in (torch.float32, torch.float64):
        return None
    try:
        return value.detach().numpy()
    except (RuntimeError, TypeError):
        return None


def finite(value: Tensor, name: str) -> None:
    """No NaN or inf in ``value`` (checked in row blocks of at most 4 MB of booleans)."""
    view = _numpy_view(value)
    if view is not None:
        ok = bool(np.isfinite(view).all())
    elif value.numel() <= _FINITE_BLOCK:  # one block: no split
        ok = bool(torch.isfinite(value).all())
    else:
        blocks = value.split(max(1, _FINITE_BLOCK // max(1, value[0].numel())))
        ok = all(torch.isfinite(block).all() for block in blocks)
    if not ok:
        raise ValueError(f"{name} must be finite (found NaN or inf)")


def data(value, name: str = "data") -> Tensor:
    """A finite, non-empty, real training set of shape ``(N, d)`` (integers become floats)."""
    try:
        value = torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(
            f"{name} must be a tensor of shape (N, d), got {type(value).__name__}"
        ) from err
    if value.ndim != 2:
        raise ValueError(f"{name} must have shape (N, d), got shape {tuple(value.shape)}")
    if value.shape[0] == 0 or value.shape[1] == 0:
        raise ValueError(f"{name} must be non-empty with shape (N, d), got {tuple(value.shape)}")
    value = _real(value, name)
    finite(value, name)
    return value


def points(x, d: int, name: str = "x", *, empty: bool = True) -> None:
    """Points ``x``: finite, floating-point, of shape ``(n, d)`` (``n >= 1`` unless ``empty``)."""
    if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[1] != d:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a tensor of shape (n, {d}), got {shape}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a real floating-point tensor, got dtype {x.dtype}")
    if not empty and x.shape[0] == 0:
        raise ValueError(f"{name} must have at least one row, got shape {tuple(x.shape)}")
    finite(x, name)


def start(x, name: str = "x") -> None:
    """Start points of a sampler: a finite, non-empty floating-point tensor of shape ``(n, d)``."""
    if not isinstance(x, Tensor) or x.ndim != 2 or x.numel() == 0:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a non-empty tensor of shape (n, d), got {shape}")
    points(x, x.shape[1], name)


def generator(value, name: str = "generator") -> None:
    """None or a ``torch.Generator``."""
    if value is not None and not isinstance(value, torch.Generator):
        raise ValueError(f"{name} must be None or a torch.Generator, got {type(value).__name__}")


def time_column(schedule, x: Tensor, t) -> Tensor:
    """``t`` (float or shape ``(n,)``) as an ``(n, 1)`` column in ``x``'s dtype, in ``[0, T]``."""
    n = x.shape[0]
    tt = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    if tt.ndim == 0:
        tt = tt.expand(n)
    elif tt.shape != (n,):
        raise ValueError(f"t must be a float or a tensor of shape ({n},), got {tuple(tt.shape)}")
    if not torch.isfinite(tt).all() or (tt < 0).any() or (tt > schedule.T).any():
        raise ValueError(f"t must lie in [0, T={schedule.T}], got values outside it")
    return tt[:, None]


def time_grid(schedule, ts) -> list[float]:
    """``ts``: 1-D, >= 2 finite times, strictly decreasing, in ``[0, T]`` (``T`` up to rounding)."""
    if isinstance(ts, Tensor) and (ts.is_complex() or not ts.is_floating_point()):
        ts = _real(ts, "ts")
    eps = torch.finfo(ts.dtype).eps if isinstance(ts, Tensor) else 0.0
    ts = torch.as_tensor(ts, dtype=torch.float64)
    if ts.ndim != 1 or ts.numel() < 2:
        raise ValueError(
            f"ts must be a 1-D tensor of at least 2 times, got shape {tuple(ts.shape)}"
        )
    if not torch.isfinite(ts).all():
        raise ValueError("ts must be finite")
    T = float(schedule.T)
    if T < ts[0] <= T * (1 + 2 * eps):
        ts = torch.cat([ts.new_tensor([T]), ts[1:]])
    if not (ts[1:] < ts[:-1]).all():
        raise ValueError("ts must be strictly decreasing (from T towards 0)")
    if ts[-1] < 0 or ts[0] > T:
        raise ValueError(f"ts must lie in [0, T={T}], got [{ts[-1]:.3g}, {ts[0]:.3g}]")
    return ts.tolist()


def number(value, name: str) -> float:
    """A real number (a Python number or a one-element real tensor), as a float."""
    if isinstance(value, Tensor):
        if value.numel() != 1 or value.is_complex():
            raise ValueError(
                f"{name} must be a real number, got a tensor of shape {tuple(value.shape)}"
            )
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a real number, got {type(value).__name__}")
    return float(value)


def positive(value, name: str, *, zero: bool = False) -> float:
    """A finite number ``> 0`` (``>= 0`` with ``zero=True``), as a float."""
    number_ = number(value, name)
    if not math.isfinite(number_) or number_ < 0 or (number_ == 0 and not zero):
        expected = "a finite number >= 0" if zero else "a positive finite number"
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return number_


def integer(value, name: str, low: int = 1, *, optional: bool = False) -> int | None:
    """An integer ``>= low`` (or None with ``optional=True``), as an int."""
    if optional and value is None:
        return None
    try:
        ok = not isinstance(value, bool) and int(value) == value and value >= low
    except (TypeError, ValueError, RuntimeError):
        ok = False
    if not ok:
        prefix = "None or " if optional else ""
        raise ValueError(f"{name} must be {prefix}an integer >= {low}, got {value!r}")
    return int(value)


def in_range(value, name: str, low: float, high: float, *, closed: str = "[)") -> float:
    """A number in the interval from ``low`` to ``high``; ``closed`` is ``"[)"``, ``"()"`` …"""
    x = number(value, name)
    above = x >= low if closed[0] == "[" else x > low
    below = x <= high if closed[1] == "]" else x < high
    if not (math.isfinite(x) and above and below):
        raise ValueError(f"{name} must lie in {closed[0]}{low}, {high}{closed[1]}, got {value!r}")
    return x


def one_of(value, name: str, allowed: tuple) -> str:
    """One of the ``allowed`` names."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value
