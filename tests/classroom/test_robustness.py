"""Every check accepts every correct form of an answer and rejects every unusable one cleanly.

For each check a correct answer (``classroom_answers.py``) is returned as float64,
float32, a Python number, a nested list, a NumPy array, or a tensor that requires grad (all must
pass), by a function that mutates its inputs after computing the answer (must pass: the check
cloned them), and as None, a string, a dict, a complex or meta tensor, a NaN, a tuple of the
wrong length, an exception of the student's own, the first case's answer hard-coded, or a
slightly perturbed answer: these must fail with :class:`CheckFailed` and a message, never with
another exception.
"""

import math

import pytest
import torch
from classroom_answers import ANSWERS

import mdiff
import mdiff.classroom as classroom
from mdiff.classroom import CheckFailed

CHECKS = sorted(name for name in dir(classroom) if name.startswith("check_"))


def _f64(leaf):
    return torch.as_tensor(leaf, dtype=torch.float64)


def _scalar(leaf) -> bool:
    return not isinstance(leaf, torch.Tensor) or leaf.numel() == 1


def _float_tensor(leaf) -> bool:
    return isinstance(leaf, torch.Tensor) and leaf.is_floating_point()


def _perturbed(leaf):
    if isinstance(leaf, torch.Tensor) and leaf.dtype == torch.bool:
        return ~leaf
    value = _f64(leaf)
    value = value + 0.01 * (1 + value.abs())
    return value if isinstance(leaf, torch.Tensor) else float(value)


# mode -> (applies to this leaf?, transform of the leaf)
LEAVES = {
    "float64": (lambda leaf: True, _f64),
    "float32": (lambda leaf: True, lambda leaf: _f64(leaf).float()),
    "item": (_scalar, lambda leaf: _f64(leaf).item()),
    "item_of_float32": (_scalar, lambda leaf: _f64(leaf).float().item()),
    "list": (lambda leaf: isinstance(leaf, torch.Tensor) and leaf.dim() > 0, torch.Tensor.tolist),
    "numpy": (lambda leaf: isinstance(leaf, torch.Tensor), lambda leaf: leaf.numpy()),
    "requires_grad": (_float_tensor, lambda leaf: leaf.clone().requires_grad_(True)),
    "None": (lambda leaf: True, lambda leaf: None),
    "string": (lambda leaf: True, lambda leaf: "0.5"),
    "dict": (lambda leaf: True, lambda leaf: {"answer": leaf}),
    "complex": (lambda leaf: True, lambda leaf: _f64(leaf).to(torch.complex128)),
    "python_complex": (_scalar, lambda leaf: complex(float(leaf))),
    "meta": (lambda leaf: True, lambda leaf: _f64(leaf).to("meta")),
    "nan": (lambda leaf: True, lambda leaf: _f64(leaf) * math.nan),
    "perturbed": (lambda leaf: True, _perturbed),
}
PASS = ["float64", "float32", "item", "item_of_float32", "list", "numpy", "requires_grad"]
PASS += ["mutating"]
FAIL = ["None", "string", "dict", "complex", "python_complex", "meta", "nan", "raises"]
FAIL += ["wrong_tuple", "hard_coded", "perturbed"]

#: What the message about an unusable answer must mention.
SAYS = {"None": "None", "string": "str", "dict": "dict", "complex": "complex", "meta": "meta"}
SAYS |= {"python_complex": "complex", "nan": "NaN", "raises": "RuntimeError"}

#: Correct forms a check legitimately refuses, with what its message must say.
REFUSED = {
    # the exercise asks for m and sigma "in the dtype of t": float32 for float64 t is wrong
    ("check_vp_m_sigma", "float32"): "float32",
    ("check_vp_m_sigma", "float64"): "float32",
}


def _mutate(args, kwargs) -> None:
    """Scribble over every tensor and list argument, in place."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            with torch.no_grad():
                value.mul_(-3.0).add_(1.0)
        elif isinstance(value, list):
            value[:] = [3.0 * float(v) + 1.0 for v in value]


def _transform(out, mode: str, state: dict):
    if mode == "hard_coded":
        return state.setdefault("first", out)
    if mode == "wrong_tuple":
        return (*out, out[0]) if isinstance(out, tuple) else (out, out)
    if isinstance(out, tuple):
        return tuple(_transform(leaf, mode, state) for leaf in out)
    if mode not in LEAVES:
        return out
    applies, change = LEAVES[mode]
    if not applies(out):
        return out
    state["changed"] = True
    return change(out)


def student(ref, mode: str, state: dict):
    """``ref`` as a student who returns its answer in the form ``mode``."""

    def fn(*args, **kwargs):
        if mode == "raises":
            raise RuntimeError("the student's own bug")
        out = ref(*args, **kwargs)
        if callable(out) and not isinstance(out, torch.Tensor):
            return student(out, mode, state)  # a returned function answers in the same form
        if mode == "mutating":
            _mutate(args, kwargs)
        return _transform(out, mode, state)

    return fn


def _run(check_name: str, mode: str):
    state = {"changed": mode not in LEAVES}
    fn = student(ANSWERS[check_name.removeprefix("check_")], mode, state)
    try:
        getattr(classroom, check_name)(fn)
    except CheckFailed as err:
        return state, err
    return state, None


def test_every_check_has_a_correct_answer():
    assert CHECKS, "mdiff.classroom exports no check"
    assert {f"check_{name}" for name in ANSWERS} == set(CHECKS)


@pytest.mark.parametrize("mode", PASS)
@pytest.mark.parametrize("check_name", CHECKS)
def test_a_correct_answer_passes_in_every_form(check_name, mode, capsys):
    state, err = _run(check_name, mode)
    if (check_name, mode) in REFUSED:
        assert err is not None and REFUSED[check_name, mode] in str(err)
        return
    if err is None and not state["changed"]:
        pytest.skip(f"no part of the answer of {check_name} has the form {mode}")
    assert err is None, f"{check_name} refused a correct {mode} answer: {err}"
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("mode", FAIL)
@pytest.mark.parametrize("check_name", CHECKS)
def test_an_unusable_answer_fails_with_a_message(check_name, mode):
    state, err = _run(check_name, mode)
    if err is None and not state["changed"]:
        pytest.skip(f"no part of the answer of {check_name} has the form {mode}")
    assert err is not None, f"{check_name} passed a {mode} answer"
    assert "Traceback" not in str(err) and len(str(err)) > 20, str(err)
    assert SAYS.get(mode, "") in str(err), str(err)


def _slightly_off(ref, when, factor):
    """``ref``, but ``factor`` times it in the cases where ``when(*args)`` holds."""

    def fn(*args, **kwargs):
        out = ref(*args, **kwargs)
        return out * factor if when(*args) else out

    return fn


@pytest.mark.parametrize(
    "check_name, when, factor, slip",
    [
        # at d = 2 the chi-square CDF is 1 - tau: that "slip" is the right answer there
        ("check_eb_frac_prediction", lambda tau, d: d == 2, 1 + 1.6e-7, "1 - tau"),
        # at the centre of two symmetric points the second moment is the covariance
        ("check_energy_hessian", lambda pts, y, tau: len(pts) == 2, 1 + 5e-8, "second moment"),
        # VE has f = 0, so the sign of the f(t) x term cannot be wrong
        (
            "check_reverse_sde_step",
            lambda schedule, *args: isinstance(schedule, mdiff.VE),
            1 + 5e-8,
            "f(t) x term",
        ),
    ],
)
def test_a_slip_that_equals_the_reference_at_that_input_is_not_offered(
    check_name, when, factor, slip
):
    fn = _slightly_off(ANSWERS[check_name.removeprefix("check_")], when, factor)
    with pytest.raises(CheckFailed) as err:
        getattr(classroom, check_name)(fn)
    assert slip not in str(err.value), str(err.value)
