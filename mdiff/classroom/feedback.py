"""The shared flow of an exercise check: call, coerce, compare, diagnose.

A check calls the student's function on cloned inputs (so the student cannot change the
reference's), turns the result into a float64 tensor (a tensor of any real dtype, a Python
number, a nested list or a NumPy array; complex, meta-device or unconvertible results fail with a
message), checks its shape and finiteness, and compares it with the reference at a tolerance no
tighter than the precision the answer carries (:func:`tolerance`: a float32 answer is held to
float32 precision). On a mismatch it names the known slip the answer reproduces (:func:`diagnose`),
never one that coincides with the reference at that input. Every failure raises
:class:`CheckFailed` with a message that says what is wrong; a passed check prints one line and
returns a true value that displays nothing. Calling and coercing live in ``coercion.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import torch

from .coercion import (  # noqa: F401  (re-exported: the checks import them from here)
    CheckFailed,
    _call,
    _cloned,
    _label,
    as_answer,
    as_booleans,
    as_float,
    as_tensor,
    fail,
    float32_numbers,
)

#: A function of a wrong answer that names its slip, or returns None.
Explain = Callable[[torch.Tensor], "str | None"]

#: An answer of a float dtype is held to 100 roundings of that dtype (float32: 1.2e-5).
ROUNDINGS = 100


class _Passed(int):
    """The value 1 (``== True``) that shows no ``Out[...]`` in a notebook.

    A check cell's last expression is the check itself; returning a plain ``True`` would print
    ``True`` under the message, and nbgrader would try to read that output as partial credit.
    """

    def __new__(cls):
        return super().__new__(cls, 1)

    def __repr__(self) -> str:
        return "True"

    def _ipython_display_(self) -> None:  # IPython: display nothing
        pass


PASSED = _Passed()


def passed(name: str) -> bool:
    """Report a passed check; returns a truthy value that displays nothing in a notebook."""
    print(f"Correct: {name} passes all checks.")
    return PASSED


def tolerance(got, want, rtol: float, atol: float, scale: float | None = None):
    """``(rtol, atol)`` widened to the precision ``got`` carries (:func:`float32_numbers`).

    A float32 answer is held to ``ROUNDINGS`` float32 roundings relative to itself and to
    ``scale``, the size of the numbers it is computed from (default: the largest ``|want|``).
    """
    if not float32_numbers(torch.as_tensor(got)):
        return rtol, atol
    want = torch.as_tensor(want, dtype=torch.float64)
    if scale is None:
        scale = float(want.abs().max()) if want.numel() and torch.isfinite(want).all() else 0.0
    rounding = ROUNDINGS * torch.finfo(torch.float32).eps
    return max(rtol, rounding), max(atol, rounding * scale)


def _close(got: torch.Tensor, want: torch.Tensor, rtol: float = 1e-9, atol: float = 1e-12) -> bool:
    got = torch.as_tensor(got)
    return got.shape == want.shape and bool(
        torch.allclose(got.to(want.dtype), want, rtol=rtol, atol=atol)
    )


def close(got, want, *, rtol=1e-9, atol=1e-12, scale=None, like=None) -> bool:
    """``got`` matches ``want`` to ``(rtol, atol)``, widened to the precision of ``like``
    (default ``got``: the student's numbers), see :func:`tolerance`."""
    got = torch.as_tensor(got)
    want = torch.as_tensor(want, dtype=torch.float64)
    rtol, atol = tolerance(got if like is None else like, want, rtol, atol, scale)
    return _close(got, want, rtol, atol)


def _relative_error(got: torch.Tensor, want: torch.Tensor) -> float:
    got = got.to(want.dtype)
    if not torch.isfinite(got).all():
        return math.inf
    return float(((got - want).abs() / want.abs().clamp_min(1e-300)).max())


def _first_match(got, variants: Mapping, rtol: float, atol: float, want=None) -> str | None:
    """The message of the first wrong-answer variant that ``got`` reproduces, if any.

    ``variants`` maps a message to the wrong value it explains (a tensor or a number); a
    variant whose value is None (it could not be computed) is skipped, and so is one that equals
    ``want`` to ``(rtol, atol)``: at this input it is no mistake.
    """
    for message, value in variants.items():
        if value is None:
            continue
        value = torch.as_tensor(value, dtype=torch.float64)
        if want is not None and _close(value, want, rtol=rtol, atol=atol):
            continue
        if _close(got, value, rtol=rtol, atol=atol):
            return message
    return None


def result_of(
    fn,
    name: str,
    args: tuple,
    want,
    *,
    kwargs: Mapping | None = None,
    where: str = "",
    hint: str = "",
    shape: str = "",
    nonfinite: str = "",
) -> torch.Tensor:
    """``fn(*args, **kwargs)`` on cloned inputs, as a float64 tensor shaped like ``want``.

    ``hint`` follows the message of an exception raised by ``fn``; ``shape`` and ``nonfinite``
    are as in :func:`as_answer`.
    """
    raw = _call(fn, name, *args, hint=hint, **(kwargs or {}))
    return as_answer(raw, _label(name, where), want, shape=shape, nonfinite=nonfinite)


def expect_close(got, want: torch.Tensor, what: str, where: str = "", rtol=1e-6, atol=1e-8):
    """Fail with shape, finiteness or size-of-error feedback unless ``got`` matches ``want``."""
    label = _label(what, where)
    got = as_answer(got, label, want)
    rtol, atol = tolerance(got, want, rtol, atol)
    if not _close(got, want.to(torch.float64), rtol=rtol, atol=atol):
        err = (got - want.to(torch.float64)).abs().max().item()
        fail(f"{label} is off by up to {err:.3g} (expected agreement to rtol={rtol:g})")
    return got


def shown(value: float, other: float, digits: int = 6) -> str:
    """``value`` to ``digits`` significant digits, or as many more as tell it from ``other``."""
    while f"{value:.{digits}g}" == f"{other:.{digits}g}" and digits < 17:
        digits += 1
    return f"{value:.{digits}g}"


def precision_note(got: torch.Tensor, relative: float) -> str:
    """A word on float32 where the precision of ``got`` may explain a ``relative`` error."""
    float32 = ROUNDINGS * torch.finfo(torch.float32).eps
    if float32_numbers(got) and relative <= 1e-3:
        return (
            f" (your float32 answer is off by a relative {relative:.2g}, more than float32 "
            f"rounding, about {float32:.1g}, explains: if your formula is right, it loses digits "
            "to cancellation in float32; compute in float64)"
        )
    if relative <= float32:
        return (
            f" (a relative {relative:.2g}: float32 precision; part of your computation runs in "
            "float32, e.g. a tensor made without dtype=torch.float64)"
        )
    return ""


def _mismatch(got: torch.Tensor, want: torch.Tensor, label: str, scale) -> str:
    """How far ``got`` is from ``want``, with a word on float32 when precision may be why."""
    err = float((got - want).abs().max())
    if want.numel() == 1:
        text = f"{label} returned {shown(float(got), float(want))}, expected "
        text += shown(float(want), float(got))
    else:
        text = f"{label} is off by up to {err:.3g}"
    size = float(want.abs().max()) if scale is None else scale
    return text + precision_note(got, err / size if size > 0 else math.inf)


def compare(
    got,
    want,
    name: str,
    *,
    where: str = "",
    rtol: float = 1e-9,
    atol: float = 1e-12,
    scale: float | None = None,
    variants: Mapping | None = None,
    explain: Explain | None = None,
    advice: str = "",
) -> torch.Tensor:
    """Return ``got`` if it matches ``want`` (``rtol``, ``atol``), else fail with a diagnosis.

    The tolerance is widened to the precision ``got`` carries (:func:`tolerance`, with
    ``scale``). ``variants`` maps a message to the wrong value it explains; the first one ``got``
    reproduces, to at least ``rtol = 1e-7`` and ``atol = 1e-10`` (widened the same way), gives
    the message, unless it coincides with ``want`` at this input; ``explain(got)`` may then name a
    slip that no single value describes. Otherwise the message says where and by how much ``got``
    differs, followed by ``advice``.
    """
    got = torch.as_tensor(got, dtype=torch.float64)
    want = torch.as_tensor(want, dtype=torch.float64)
    if _close(got, want, *tolerance(got, want, rtol, atol, scale)):
        return got
    label = _label(name, where)
    loose = tolerance(got, want, max(rtol, 1e-7), max(atol, 1e-10), scale)
    message = _first_match(got, variants or {}, *loose, want=want)
    if message is None and explain is not None:
        message = explain(got)
    if message:
        fail(f"{label}: {message}")
    if got.shape != want.shape:
        fail(f"{label} has shape {tuple(got.shape)}, expected {tuple(want.shape)}")
    fail(_mismatch(got, want, label, scale) + (f": {advice}" if advice else ""))


def diagnose(
    fn,
    name: str,
    args: tuple,
    want,
    *,
    kwargs: Mapping | None = None,
    where: str = "",
    hint: str = "",
    shape: str = "",
    nonfinite: str = "",
    **options,
) -> torch.Tensor:
    """The flow every check repeats: :func:`result_of`, then :func:`compare` with ``want``.

    Calls ``fn(*args, **kwargs)`` on clones of the arguments, coerces the result to float64,
    checks shape and finiteness (``hint``, ``shape``, ``nonfinite`` as in :func:`result_of`),
    compares with ``want`` at a tolerance no tighter than the answer's precision and names the
    wrong variant the answer reproduces; ``options`` are those of :func:`compare` (``rtol``,
    ``atol``, ``scale``, ``variants``, ``explain``, ``advice``). Returns the student's result
    (float64) when it is correct.
    """
    got = result_of(
        fn,
        name,
        args,
        want,
        kwargs=kwargs,
        where=where,
        hint=hint,
        shape=shape,
        nonfinite=nonfinite,
    )
    return compare(got, want, name, where=where, **options)
