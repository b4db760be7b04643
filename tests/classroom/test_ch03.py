"""Chapter 3 exercise checks: the reference solutions pass, typical wrong answers fail."""

import pytest
import torch

import mdiff
from mdiff.classroom import (
    CheckFailed,
    check_score_from_weights,
    check_score_norm_exponent,
    check_stable_weights,
    check_weighted_score,
)

# ---------------------------------------------------------------------------------------
# ex-03-stable-weights


def weights_variant(kind):
    def fn(schedule, data, x, t):
        m, sig2 = schedule.m(t), schedule.sigma(t) ** 2
        if kind == "no_m":
            m = torch.ones_like(m)
        sq = ((x[:, None, :] - m * data[None]) ** 2).sum(-1)
        logits = {
            "sign": sq / (2 * sig2),
            "sigma": -sq / (2 * sig2.sqrt()),
            "no_half": -sq / sig2,
        }.get(kind, -sq / (2 * sig2))
        if kind == "naive":
            k = torch.exp(logits)
            return k / k.sum(1, keepdim=True)
        if kind == "overflow":  # logits without |x|^2: positive and huge at small t
            k = torch.exp((2 * m * x @ data.T - m * m * (data * data).sum(1)) / (2 * sig2))
            return k / k.sum(1, keepdim=True)
        if kind == "unnormalized":
            return torch.exp(logits - logits.max(1, keepdim=True).values)
        if kind == "float64":  # the partial repair: more precision, no log-sum-exp
            k = torch.exp(logits.double())
            return (k / k.sum(1, keepdim=True)).to(x.dtype)
        if kind == "global_max":  # the maximum of the whole array, not of each row
            k = torch.exp(logits - logits.max())
            return k / k.sum(1, keepdim=True)
        if kind == "float32_only":  # right, but always in float32
            return torch.softmax(logits.float(), 1)
        return torch.softmax(logits, 1)

    return fn


def test_weights_reference_passes(capsys):
    assert check_stable_weights(weights_variant("correct"))
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    "kind, message",
    [
        ("no_m", r"missing m\(t\)"),
        ("sign", "farthest training point"),
        ("sigma", r"not by 2 sigma\(t\)"),
        ("no_half", "factor 1/2"),
        ("naive", "overflows or underflows"),
        ("overflow", "overflows or underflows"),
        ("unnormalized", "do not sum to 1"),
        ("float64", "more precision only postpones"),
        ("global_max", "largest logit of the whole array"),
    ],
)
def test_weights_wrong_answers(kind, message):
    with pytest.raises(CheckFailed, match=message):
        check_stable_weights(weights_variant(kind))


def test_weights_naive_fails_only_at_small_t():
    """The naive version passes t = 1 and 0.3 and fails at a small t (0.01 or 1e-4), first
    on the float32 inputs."""
    with pytest.raises(CheckFailed, match=r"float32, t = 0\.01\)|float32, t = 0\.0001\)"):
        check_stable_weights(weights_variant("naive"))


# ---------------------------------------------------------------------------------------
# ex-03-score-from-weights


def score_variant(kind):
    def fn(schedule, data, x, t, w):
        m, sig2 = schedule.m(t), schedule.sigma(t) ** 2
        xbar = w @ data
        return {
            "sign": (x - m * xbar) / sig2,
            "no_m": (xbar - x) / sig2,
            "sigma": (m * xbar - x) / sig2.sqrt(),
            "denoiser": xbar,
            "no_div": m * xbar - x,
        }.get(kind, (m * xbar - x) / sig2)

    return fn


def test_score_reference_passes(capsys):
    assert check_score_from_weights(score_variant("correct"))
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    "kind, message",
    [
        ("sign", "points away from the data"),
        ("no_m", r"missing m\(t\)"),
        ("sigma", r"not by sigma\(t\)"),
        ("denoiser", "denoiser"),
        ("no_div", "without dividing"),
    ],
)
def test_score_wrong_answers(kind, message):
    with pytest.raises(CheckFailed, match=message):
        check_score_from_weights(score_variant(kind))


def test_score_wrong_shape():
    with pytest.raises(CheckFailed, match="shape"):
        check_score_from_weights(lambda schedule, data, x, t, w: w.T @ x)


# ---------------------------------------------------------------------------------------
# ex-03-weighted-data


def weighted_variant(kind):
    def fn(schedule, data, probs, x, t):
        m, sig2 = schedule.m(t), schedule.sigma(t) ** 2
        logits = -((x[:, None, :] - m * data[None]) ** 2).sum(-1) / (2 * sig2)
        if kind == "uniform":
            w = torch.softmax(logits, 1)
        elif kind == "unnormalized":
            w = probs * torch.softmax(logits, 1)
        elif kind == "minus":
            w = torch.softmax(logits - probs.log(), 1)
        elif kind == "naive":
            k = probs * torch.exp(logits)
            w = k / k.sum(1, keepdim=True)
        else:
            w = torch.softmax(logits + probs.log(), 1)
        return (m * (w @ data) - x) / sig2

    return fn


def test_weighted_reference_passes(capsys):
    assert check_weighted_score(weighted_variant("correct"))
    assert "Correct" in capsys.readouterr().out


def test_weighted_uniform_probs_give_the_empirical_score():
    """Sanity of the reference: equal probabilities reduce to mdiff.empirical_score."""
    sch, data = mdiff.VP(), torch.randn(6, 2, dtype=torch.float64)
    x = torch.randn(5, 2, dtype=torch.float64)
    probs = torch.full((6,), 1 / 6, dtype=torch.float64)
    got = weighted_variant("correct")(sch, data, probs, x, 0.2)
    assert torch.allclose(got, mdiff.empirical_score(sch, data)(x, 0.2))


@pytest.mark.parametrize(
    "kind, message",
    [
        ("uniform", "ignores the probabilities"),
        ("unnormalized", "do not sum to 1"),
        ("minus", "sign error"),
        ("naive", "NaN or inf"),
    ],
)
def test_weighted_wrong_answers(kind, message):
    with pytest.raises(CheckFailed, match=message):
        check_weighted_score(weighted_variant(kind))


# ---------------------------------------------------------------------------------------
# ex-03-assignment-c: the exponent of |s^N| ~ sigma^-p


def exponent_variant(kind):
    def fn(schedule, data, x, ts):
        score = mdiff.empirical_score(schedule, data.double())
        norms = torch.stack([score(x.double(), t).norm() for t in ts.tolist()])
        u = {"t": ts.double().log(), "sigma2": 2 * schedule.sigma(ts.double()).log()}.get(
            kind, schedule.sigma(ts.double()).log()
        )
        v = (2 if kind == "squared" else 1) * norms.log()
        slope = ((u - u.mean()) * (v - v.mean())).sum() / ((u - u.mean()) ** 2).sum()
        return {"slope": slope, "theory": torch.tensor(2.0)}.get(kind, -slope)

    return fn


def test_exponent_reference_passes(capsys):
    assert check_score_norm_exponent(exponent_variant("correct"))
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    "kind, message",
    [
        ("slope", "minus that slope"),
        ("t", "against log t"),
        ("sigma2", "against log sigma\\^2"),
        ("squared", "squared norm"),
        ("theory", "larger than the fit|smaller than the fit"),
    ],
)
def test_exponent_wrong_answers(kind, message):
    with pytest.raises(CheckFailed, match=message):
        check_score_norm_exponent(exponent_variant(kind))


def test_exponent_is_two_in_the_collapsed_regime_only():
    """The check's cases: p = 2 where the weights are one-hot, p != 2 where they are mixed
    (so that the theory value 2, hard-coded, fails)."""
    from mdiff.classroom.ch03 import _exponent, _exponent_cases

    values = [_exponent(*case[:4]) for case in _exponent_cases()]
    assert abs(values[0] - 2) < 1e-3 and abs(values[1] - 2) < 1e-3
    assert abs(values[2] - 2) > 0.05


def test_wrong_answers_of_the_round_trip_fail():
    from wrong.ch03 import WRONG

    namespace = {"torch": torch, "math": __import__("math")}
    for source in WRONG.values():
        exec(source, namespace)
    with pytest.raises(CheckFailed, match="ignores the probabilities"):
        check_weighted_score(namespace["weighted_score"])
    with pytest.raises(CheckFailed, match="more precision only postpones"):
        check_stable_weights(namespace["stable_weights"])
    with pytest.raises(CheckFailed, match=r"missing m\(t\)"):
        check_score_from_weights(namespace["score_from_weights"])
    with pytest.raises(CheckFailed):  # on top of its own slips it builds on the wrong (a)
        check_score_norm_exponent(namespace["score_norm_exponent"])


def test_wrong_exponent_alone_fails_with_its_own_message():
    """Part (c)'s typical wrong answer fails even on top of correct parts (a) and (b)."""
    from wrong.ch03 import WRONG

    namespace = {
        "torch": torch,
        "stable_weights": weights_variant("correct"),
        "score_from_weights": score_variant("correct"),
    }
    exec(WRONG["ex-03-assignment-c-solution"], namespace)
    with pytest.raises(CheckFailed, match="score_norm_exponent"):
        check_score_norm_exponent(namespace["score_norm_exponent"])
