"""What the student returned, as numbers: call on cloned inputs, coerce to a float64 tensor.

:func:`as_tensor` accepts a tensor of any real dtype, a Python number, a nested list or a NumPy
array, and turns what it cannot use (None, a string, a dict, complex numbers, a meta-device or
half-precision tensor) into a :class:`CheckFailed` with a message; :func:`float32_numbers` tells
whether an answer carries float32 rounding, so that the comparison can be as tolerant as the
answer's precision requires (``feedback.tolerance``).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch


class CheckFailed(AssertionError):
    """A student's answer is wrong; the message says how.

    In IPython and Jupyter the failure shows as its message alone, without a traceback through
    the checker's code (IPython's ``_render_traceback_`` protocol); the cell still ends in an
    error, so nbgrader records the failed check.
    """

    def _render_traceback_(self) -> list[str]:
        lines = str(self).splitlines() or [""]
        return ["\x1b[1;31mCheck failed:\x1b[0m " + lines[0], *lines[1:]]


def fail(message: str) -> None:
    """Raise :class:`CheckFailed` with ``message``."""
    raise CheckFailed(message)


def _to_tensor(value, what: str) -> torch.Tensor:
    """``value`` as a tensor; Python and NumPy floats become float64 (never float32)."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (str, bytes, Mapping)) or callable(value):
        fail(f"{what} should return a tensor, got {type(value).__name__}")
    try:
        tensor = torch.as_tensor(value)
        if tensor.is_floating_point() and tensor.dtype != torch.float64:
            tensor = torch.as_tensor(value, dtype=torch.float64)  # a list of floats: exactly
        return tensor
    except (TypeError, ValueError, RuntimeError, OverflowError):
        if isinstance(value, (list, tuple)) and value:
            return torch.stack([_to_tensor(v, what) for v in value])  # a list of tensors
        fail(f"{what} should return a tensor, got {type(value).__name__}")


def as_tensor(value, what: str) -> torch.Tensor:
    """The student's result as a real, dense, detached CPU tensor, or a clear failure.

    Float lists and NumPy floats become float64; integer and bool tensors keep their dtype.
    """
    if value is None:
        fail(f"{what} returned None: did you forget a `return` statement?")
    try:
        tensor = _to_tensor(value, what)
    except (TypeError, ValueError, RuntimeError):
        fail(f"{what} should return a tensor (or numbers of one shape), got {type(value).__name__}")
    if tensor.device.type == "meta":
        fail(
            f"{what} returned a tensor on the meta device, which holds no numbers: compute it on "
            "the device of the inputs"
        )
    if tensor.is_complex():
        kind = tensor.dtype if isinstance(value, torch.Tensor) else type(value).__name__
        fail(
            f"{what} returned complex numbers ({kind}); the answer is real (a fractional "
            "power of a negative Python number, such as (-2.0) ** 0.5, is complex)"
        )
    if tensor.dtype in (torch.float16, torch.bfloat16):
        fail(
            f"{what} returned {tensor.dtype}, which keeps about 3 significant digits: compute in "
            "float32 or float64"
        )
    try:
        tensor = tensor.detach()
        return (tensor.to_dense() if tensor.layout != torch.strided else tensor).cpu()
    except (TypeError, ValueError, RuntimeError, NotImplementedError):
        fail(f"{what} returned a tensor that cannot be read ({tensor.layout}, {tensor.device})")


def as_float(value, what: str) -> float:
    """A number returned by the student as a Python float (float64), or a clear failure."""
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, (str, bytes, Mapping)) or callable(value):
        fail(f"{what} should return a number, got {type(value).__name__}")
    tensor = as_tensor(value, what)
    if tensor.numel() != 1:
        fail(f"{what} should be one number, got shape {tuple(tensor.shape)}")
    return float(tensor.double().reshape(()))


def as_booleans(value, what: str, test: str = "") -> torch.Tensor:
    """The student's booleans (a bool tensor, or 0/1 numbers) as a bool tensor; ``test`` says
    what to return instead of other numbers."""
    got = as_tensor(value, what)
    if got.is_floating_point():
        if not torch.isfinite(got).all():
            fail(f"{what} returned NaN or inf; return booleans{': ' + test if test else ''}")
        other = got[(got != 0) & (got != 1)]
        if other.numel():
            fail(
                f"{what} returned numbers such as {float(other[0]):.3g}: return "
                f"{test or 'booleans (True/False)'}"
            )
    return got.to(torch.bool)


def float32_numbers(got: torch.Tensor) -> bool:
    """Whether ``got`` carries float32 rounding: float32, or float64 whose finite numbers are all
    float32 numbers (``.item()``, ``.tolist()`` or ``.double()`` of a float32 result)."""
    if got.dtype == torch.float32:
        return True
    if got.dtype != torch.float64:
        return False
    finite = got[torch.isfinite(got)]
    return bool(torch.equal(finite.float().double(), finite))


def _cloned(value):
    """A copy of ``value`` the student cannot change the checker's data through."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, (list, tuple)):
        return type(value)(_cloned(v) for v in value)
    if isinstance(value, dict):
        return {k: _cloned(v) for k, v in value.items()}
    return value


def _call(fn, name: str, *args, hint: str = "", **kwargs):
    """Call the student's function on clones of the arguments; any error but NotImplementedError
    becomes a CheckFailed."""
    args, kwargs = _cloned(args), _cloned(kwargs)
    try:
        return fn(*args, **kwargs)
    except (NotImplementedError, CheckFailed):
        raise
    except Exception as err:  # the original traceback stays attached (raise ... from)
        raise CheckFailed(f"{name} raised {type(err).__name__}: {err}. {hint}".strip()) from err


def _label(name: str, where: str) -> str:
    return f"{name} {where}" if where else name


def as_answer(raw, label: str, want, *, shape: str = "", nonfinite: str = "") -> torch.Tensor:
    """The student's result ``raw`` as a float64 tensor shaped like ``want``, or a failure.

    A number is accepted where ``want`` holds one; a single number where ``want`` is a vector
    is named as a mean over samples. ``shape`` replaces the expected shape in the message (e.g.
    ``"x's (6, 2)"``) and ``nonfinite`` explains a NaN or inf.
    """
    want = torch.as_tensor(want, dtype=torch.float64)
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        raw = torch.tensor(float(raw), dtype=torch.float64)
    got = as_tensor(raw, label)
    if got.numel() == 1 and want.numel() == 1:
        got = got.reshape(want.shape)
    elif got.numel() == 1 and want.dim() == 1:
        fail(
            f"{label} returned one number; return one value per sample, shape "
            f"{tuple(want.shape)} (do not take the mean)"
        )
    if got.shape != want.shape:
        expected = shape or ("one number" if want.numel() == 1 else str(tuple(want.shape)))
        fail(f"{label} returned shape {tuple(got.shape)}, expected {expected}")
    got = got.to(torch.float64)
    if not torch.isfinite(got).all():
        fail(f"{label} returned NaN or inf" + (f": {nonfinite}" if nonfinite else ""))
    return got
