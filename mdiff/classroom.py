"""Exercise checks with specific feedback, and the student-version generator.

A check calls the student's function on several inputs (including edge cases such as small
``t``), compares with the reference, and on a wrong answer raises :class:`CheckFailed` with a
message that says what is wrong. On success it prints one line and returns ``True``.
"""

from __future__ import annotations

import torch


class CheckFailed(AssertionError):
    """A student's answer is wrong; the message says how."""


def fail(message: str) -> None:
    """Raise :class:`CheckFailed` with ``message``."""
    raise CheckFailed(message)


def passed(name: str) -> bool:
    """Report a passed check."""
    print(f"Correct: {name} passes all checks.")
    return True


def as_tensor(value, what: str) -> torch.Tensor:
    """The student's result as a tensor, or a clear failure."""
    if value is None:
        fail(f"{what} returned None: did you forget a `return` statement?")
    try:
        return torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError):
        fail(f"{what} should return a tensor, got {type(value).__name__}")


def expect_close(got, want: torch.Tensor, what: str, where: str = "", rtol=1e-6, atol=1e-8):
    """Fail with shape, finiteness or size-of-error feedback unless ``got`` matches ``want``."""
    got = as_tensor(got, what)
    at = f" {where}" if where else ""
    if got.shape != want.shape:
        fail(f"{what}{at} has shape {tuple(got.shape)}, expected {tuple(want.shape)}")
    got = got.to(want.dtype)
    if not torch.isfinite(got).all():
        fail(f"{what}{at} contains NaN or inf (a naive exponential that overflows?)")
    if not torch.allclose(got, want, rtol=rtol, atol=atol):
        err = (got - want).abs().max().item()
        fail(f"{what}{at} is off by up to {err:.3g} (expected agreement to rtol={rtol:g})")
    return got
