"""The shared flow of a check (``mdiff.classroom.feedback``): diagnose, its halves, the basics."""

import math

import pytest
import torch

from mdiff.classroom.feedback import (
    PASSED,
    CheckFailed,
    as_booleans,
    as_float,
    as_tensor,
    close,
    compare,
    diagnose,
    float32_numbers,
    passed,
    result_of,
    shown,
    tolerance,
)

X = torch.tensor([[1.0, -2.0, 0.5], [3.0, 0.25, -1.0]], dtype=torch.float64)


def double(x):
    return 2 * x


def test_diagnose_passes_a_correct_function_and_returns_its_float64_result():
    got = diagnose(lambda x: (2 * x).float(), "double", (X,), 2 * X, rtol=1e-6)
    assert got.dtype == torch.float64 and torch.allclose(got, 2 * X)


def test_diagnose_accepts_a_number_where_one_is_expected_without_losing_precision():
    want = torch.tensor(0.1 + 1e-10, dtype=torch.float64)  # float32 would round this away
    assert float(diagnose(lambda: 0.1 + 1e-10, "value", (), want)) == float(want)
    assert diagnose(lambda: torch.tensor([[0.5]]), "value", (), torch.tensor(0.5)).shape == ()


@pytest.mark.parametrize(
    "fn, kwargs, message",
    [
        (lambda x: x[0], {}, "double returned shape (3,), expected (2, 3)"),
        (
            lambda x: x[0],
            {"shape": "x's (2, 3)"},
            "double returned shape (3,), expected x's (2, 3)",
        ),
        (lambda x: x.sum(), {"where": "(case 1)"}, "double (case 1) returned shape (), expected"),
    ],
)
def test_diagnose_catches_a_wrong_shape(fn, kwargs, message):
    with pytest.raises(CheckFailed) as err:
        diagnose(fn, "double", (X,), 2 * X, **kwargs)
    assert message in str(err.value), str(err.value)


def test_diagnose_names_a_mean_over_samples_and_a_vector_for_a_number():
    with pytest.raises(CheckFailed, match=r"one value per sample, shape \(2,\) \(do not take"):
        diagnose(lambda x: x.sum(), "loss", (X,), X.sum(1))
    with pytest.raises(CheckFailed, match=r"returned shape \(2,\), expected one number"):
        diagnose(lambda x: x.sum(1), "total", (X,), X.sum())


def test_diagnose_catches_non_finite_output_with_its_explanation():
    with pytest.raises(CheckFailed, match=r"^double returned NaN or inf$"):
        diagnose(lambda x: x / 0, "double", (X,), 2 * X)
    with pytest.raises(CheckFailed, match=r"double \(t = 0\) returned NaN or inf: use softmax$"):
        diagnose(
            lambda x: x * math.nan, "double", (X,), 2 * X, where="(t = 0)", nonfinite="use softmax"
        )


def test_diagnose_names_the_known_wrong_variant_it_reproduces():
    variants = {"cannot be computed": None, "you forgot the 2": X, "you squared it": X**2}
    with pytest.raises(CheckFailed) as err:
        diagnose(lambda x: x**2, "double", (X,), 2 * X, where="(case 3)", variants=variants)
    assert str(err.value) == "double (case 3): you squared it"


def test_variants_are_matched_to_a_diagnosis_tolerance_and_explain_comes_after_them():
    variants = {"you forgot the 2": X}
    with pytest.raises(CheckFailed, match="forgot the 2"):  # 1e-9 off: within rtol 1e-7
        diagnose(lambda x: x * (1 + 1e-9), "double", (X,), 2 * X, rtol=0, atol=0, variants=variants)
    explain = {"explain": lambda got: f"you added {float((got - 2 * X).mean()):g}"}
    with pytest.raises(CheckFailed, match=r"^double: you added 1$"):
        diagnose(lambda x: 2 * x + 1, "double", (X,), 2 * X, variants=variants, **explain)


def test_diagnose_says_where_and_by_how_much_an_unknown_answer_differs():
    with pytest.raises(CheckFailed, match=r"^double \(VP\) is off by up to 0.3: expected 2 x$"):
        diagnose(
            lambda x: 2 * x + 0.1 * x, "double", (X,), 2 * X, where="(VP)", advice="expected 2 x"
        )
    with pytest.raises(CheckFailed, match=r"^mean returned 1.5, expected 0.5$"):
        diagnose(lambda: 1.5, "mean", (), torch.tensor(0.5))


def test_diagnose_clones_the_inputs_so_mutation_does_not_leak():
    x, before = X.clone(), X.clone()

    def in_place(x, *, scale):
        x.mul_(2)
        scale.zero_()
        return x

    scale = torch.tensor(3.0)
    assert diagnose(in_place, "double", (x,), 2 * before, kwargs={"scale": scale}) is not None
    assert torch.equal(x, before) and float(scale) == 3.0


def test_diagnose_reports_none_errors_and_lets_not_implemented_through():
    def broken(x):
        raise ValueError("bad")

    with pytest.raises(CheckFailed, match="returned None: did you forget a `return`"):
        diagnose(lambda x: None, "double", (X,), 2 * X)
    with pytest.raises(CheckFailed, match=r"^double raised ValueError: bad\. Use torch\.exp\.$"):
        diagnose(broken, "double", (X,), 2 * X, hint="Use torch.exp.")
    with pytest.raises(CheckFailed, match="should return a tensor, got str"):
        diagnose(lambda x: "2x", "double", (X,), 2 * X)

    def stub(x):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        diagnose(stub, "double", (X,), 2 * X)


def test_result_of_and_compare_are_the_two_halves_of_diagnose():
    got = result_of(double, "double", (X,), 2 * X)
    assert compare(got, 2 * X, "double") is got
    with pytest.raises(CheckFailed, match="double: halved"):
        compare(got / 4, 2 * X, "double", variants={"halved": X / 2})


def test_basics():
    assert as_float(torch.tensor([2.5]), "f") == 2.5 and as_float(3, "f") == 3.0
    with pytest.raises(CheckFailed, match=r"f should be one number, got shape \(2,\)"):
        as_float(torch.ones(2), "f")
    assert torch.equal(as_tensor([1, 2], "f"), torch.tensor([1, 2]))
    assert PASSED == True and repr(PASSED) == "True"  # noqa: E712


def test_passed_prints_one_line(capsys):
    assert passed("double") is PASSED
    assert capsys.readouterr().out == "Correct: double passes all checks.\n"


# ---------------------------------------------------------------------------------------
# every correct form passes; the tolerance follows the precision of the answer


def test_a_float32_answer_is_held_to_float32_precision_and_a_list_stays_float64():
    want = torch.tensor([1.0 / 3.0, 2.0 / 3.0], dtype=torch.float64)
    assert diagnose(lambda: want.float(), "f", (), want) is not None  # 1e-8 off: rounding
    assert diagnose(lambda: want.float().tolist(), "f", (), want) is not None
    assert diagnose(lambda: want.tolist(), "f", (), want).dtype == torch.float64
    with pytest.raises(CheckFailed, match="float32"):  # float64 numbers with float32 error
        diagnose(lambda: want * (1 + 3e-8), "f", (), want)
    with pytest.raises(CheckFailed, match="your float32 answer is off by a relative 0.0003"):
        diagnose(lambda: (want * (1 + 3e-4)).float(), "f", (), want)
    with pytest.raises(CheckFailed, match=r"^f returned 0.6, expected 0.5$"):
        diagnose(lambda: torch.tensor(0.6, dtype=torch.float32), "f", (), torch.tensor(0.5))


def test_tolerance_and_close_follow_the_precision_and_scale():
    want = torch.tensor([1.0, 1e-3], dtype=torch.float64)
    assert tolerance(want, want, 1e-9, 1e-12) == (1e-9, 1e-12)
    rtol, atol = tolerance(want.float(), want, 1e-9, 1e-12, scale=10.0)
    assert rtol == pytest.approx(1.19e-5, rel=0.01) and atol == pytest.approx(10 * rtol)
    assert float32_numbers(torch.tensor([0.5, 0.25], dtype=torch.float64))
    assert not float32_numbers(torch.tensor([0.1], dtype=torch.float64))
    assert close(want.float(), want) and not close(want + 1e-8, want)
    assert close(want.double() + 1e-8, want, like=want.float())


def test_a_mismatch_shows_enough_digits_to_differ():
    want = torch.tensor(1.3651912345, dtype=torch.float64)
    with pytest.raises(CheckFailed, match=r"returned 1\.3652\d+, expected 1\.3651\d+"):
        diagnose(lambda: float(want) + 2e-5, "f", (), want)
    assert shown(1.0000004, 1.0, 4) == "1.0000004" and shown(2.5, 1.0) == "2.5"


def test_a_variant_that_coincides_with_the_reference_is_never_offered():
    variants = {"you used sigma, not sigma^2": X * 2, "you forgot the 2": X}
    with pytest.raises(CheckFailed) as err:  # 1e-8 off: close to the first variant, but it is 2 X
        diagnose(lambda x: 2 * x * (1 + 1e-8), "double", (X,), 2 * X, variants=variants)
    assert "sigma" not in str(err.value) and "off by up to" in str(err.value), str(err.value)
    with pytest.raises(CheckFailed, match="you forgot the 2"):
        diagnose(lambda x: x, "double", (X,), 2 * X, variants=variants)


@pytest.mark.parametrize(
    "value, message",
    [
        (torch.ones(2, 3, dtype=torch.complex128), "complex numbers"),
        (2 * X.to("meta"), "meta device"),
        (X.half(), "float16"),
        ({"x": X}, "got dict"),
        ((X, X[:, :2]), "got tuple"),
        (object(), "got object"),
    ],
)
def test_unusable_results_fail_with_a_message(value, message):
    with pytest.raises(CheckFailed, match=message):
        diagnose(lambda x: value, "double", (X,), 2 * X)
    with pytest.raises(CheckFailed, match=message):
        as_float(value, "f")


def test_numbers_in_other_forms_are_read():
    import numpy as np

    pair = as_tensor([torch.tensor(1.0), torch.tensor(2.0)], "f")  # a list of tensors
    assert torch.equal(pair, torch.tensor([1.0, 2.0]))
    assert as_tensor(np.array([0.1]), "f").dtype == torch.float64
    assert as_tensor([0.1], "f").dtype == torch.float64 and float(as_tensor([0.1], "f")) == 0.1
    assert float(diagnose(lambda: np.float32(0.5), "f", (), torch.tensor(0.5))) == 0.5
    assert as_float(True, "f") == 1.0
    with pytest.raises(CheckFailed, match="should return a number, got str"):
        as_float("0.5", "f")
    with pytest.raises(CheckFailed, match=r"f returned complex numbers \(complex\)"):
        as_float(0.5 + 0j, "f")


def test_as_booleans():
    assert torch.equal(as_booleans(torch.tensor([1.0, 0.0]), "f"), torch.tensor([True, False]))
    assert torch.equal(as_booleans([True, False], "f"), torch.tensor([True, False]))
    with pytest.raises(CheckFailed, match="returned numbers such as 0.3: return the test x < 1"):
        as_booleans(torch.tensor([1.0, 0.3]), "f", "the test x < 1")
    with pytest.raises(CheckFailed, match="returned NaN or inf"):
        as_booleans(torch.tensor([math.nan]), "f")


def test_every_argument_is_cloned_lists_and_dicts_too():
    ns, table = [1.0, 2.0], {"w": X.clone()}

    def scribble(ns, table):
        ns.append(3.0)
        table["w"].zero_()
        return torch.tensor(1.0)

    assert diagnose(scribble, "f", (ns, table), torch.tensor(1.0)) is not None
    assert ns == [1.0, 2.0] and torch.equal(table["w"], X)
