"""Chapter 2 exercise checks: the reference solutions pass, typical wrong answers fail."""

import pytest
import torch

from mdiff.classroom import (
    CheckFailed,
    check_dsm_minimum,
    check_dsm_per_sample,
    check_ism_per_sample,
)

# ---------------------------------------------------------------------------------------
# ex-02-dsm-loss: the per-sample weighted DSM loss


def dsm_variant(kind):
    def fn(schedule, score, x0, t, z):
        m, sig = schedule.m(t)[:, None], schedule.sigma(t)[:, None]
        if kind in ("no_m", "buggy"):
            m = torch.ones_like(m)
        s = score(m * x0 + sig * z, t)
        r = {
            "sign": sig * s - z,
            "unweighted": s + z / sig,
            "sigma2": sig**2 * s + z,
        }.get(kind, sig * s + z)
        loss = (r * r).sum(1)
        if kind in ("coord_mean", "buggy"):
            return (r * r).mean(1)
        if kind == "norm":
            return loss.sqrt()
        if kind == "mean":
            return loss.mean()
        return loss

    return fn


def test_dsm_reference_passes(capsys):
    assert check_dsm_per_sample(dsm_variant("correct"))
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    "kind, message",
    [
        ("no_m", r"^dsm_per_sample \(VP, d = 2, t from 0.05 to 1\): missing m\(t\)"),
        ("coord_mean", r"averaged the squared entries over the d coordinates"),
        ("buggy", r"two bugs: the noised point misses m\(t\)"),
        ("sign", "sign error"),
        ("unweighted", "unweighted loss"),
        ("sigma2", r"multiplied s by sigma\^2"),
        ("norm", "its square"),
        ("mean", "one value per sample"),
    ],
)
def test_dsm_wrong_answers(kind, message):
    with pytest.raises(CheckFailed, match=message):
        check_dsm_per_sample(dsm_variant(kind))


def test_dsm_not_implemented_propagates():
    def stub(schedule, score, x0, t, z):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        check_dsm_per_sample(stub)


# ---------------------------------------------------------------------------------------
# ex-02-ism: |s|^2 + 2 div s with autograd


def ism_variant(kind):
    def fn(score, x, t):
        x = x.clone().requires_grad_(True)
        s = score(x, t)
        if kind == "jac_sum":
            div = torch.autograd.grad(s.sum(), x, create_graph=True)[0].sum(1)
        else:
            div = sum(
                torch.autograd.grad(s[:, i].sum(), x, retain_graph=True)[0][:, i]
                for i in range(x.shape[1])
            )
        sq = (s * s).sum(1)
        return {
            "no_two": sq + div,
            "half": 0.5 * sq + div,
            "sign": sq - 2 * div,
            "no_norm": 2 * div,
        }.get(kind, sq + 2 * div).detach()

    return fn


def test_ism_reference_passes(capsys):
    assert check_ism_per_sample(ism_variant("correct"))
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    "kind, message",
    [
        ("jac_sum", "trace"),
        ("no_two", "factor 2"),
        ("half", "Hyvarinen's convention"),
        ("sign", "sign error"),
        ("no_norm", "squared norm"),
    ],
)
def test_ism_wrong_answers(kind, message):
    with pytest.raises(CheckFailed, match=message):
        check_ism_per_sample(ism_variant(kind))


def test_ism_without_requires_grad_gets_a_hint():
    def forgot(score, x, t):
        s = score(x, t)
        (g,) = torch.autograd.grad(s[:, 0].sum(), x)
        return (s * s).sum(1) + 2 * g[:, 0]

    with pytest.raises(CheckFailed, match="requires_grad_"):
        check_ism_per_sample(forgot)


# ---------------------------------------------------------------------------------------
# ex-02-dsm-minimum: d - sigma^2 tr((m^2 C + sigma^2 I)^-1)


def minimum_variant(kind):
    def fn(schedule, cov, t):
        d = cov.shape[0]
        m, sig2 = schedule.m(t), schedule.sigma(t) ** 2
        mm = {"no_m": 1.0, "m": m}.get(kind, m * m)
        tr = torch.linalg.inv(mm * cov + sig2 * torch.eye(d, dtype=cov.dtype)).trace()
        return {
            "no_d": -sig2 * tr,
            "only_term": sig2 * tr,
            "sigma": d - sig2.sqrt() * tr,
        }.get(kind, d - sig2 * tr)

    return fn


def test_minimum_reference_passes(capsys):
    assert check_dsm_minimum(minimum_variant("correct"))
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    "kind, message",
    [
        ("no_m", r"missing m\(t\)\^2"),
        ("m", r"m\(t\) instead of m\(t\)\^2"),
        ("no_d", "dimension d is missing"),
        ("only_term", "d minus this"),
        ("sigma", "sigma instead of sigma"),
    ],
)
def test_minimum_wrong_answers(kind, message):
    with pytest.raises(CheckFailed, match=message):
        check_dsm_minimum(minimum_variant(kind))


def test_dsm_checks_a_third_dimension_and_other_schedule_parameters():
    """A solution that only works in d = 2 fails on the d = 3 case of the check."""

    def only_2d(schedule, score, x0, t, z):
        m, sig = schedule.m(t)[:, None], schedule.sigma(t)[:, None]
        r = sig * score(m * x0 + sig * z, t) + z
        return r[:, 0] ** 2 + r[:, 1] ** 2

    with pytest.raises(CheckFailed, match="d = 3"):
        check_dsm_per_sample(only_2d)


def _solutions_namespace():
    return {"torch": torch, "math": __import__("math")}


def test_wrong_answers_of_the_round_trip_fail():
    from wrong.ch02 import WRONG

    namespace = _solutions_namespace()
    for source in WRONG.values():
        exec(source, namespace)
    with pytest.raises(CheckFailed, match="trace"):
        check_ism_per_sample(namespace["ism_per_sample"])
    with pytest.raises(CheckFailed, match=r"missing m\(t\)"):
        check_dsm_per_sample(namespace["dsm_per_sample"])
    with pytest.raises(CheckFailed, match=r"m\(t\) instead of m\(t\)\^2"):
        check_dsm_minimum(namespace["dsm_minimum"])


def test_the_chapter_buggy_loss_is_named_with_both_bugs():
    """The debugging exercise's starting point, as the chapter prints it, fails with both bugs."""

    def buggy_dsm_per_sample(schedule, score, x0, t, z):
        sig = schedule.sigma(t)[:, None]
        x_t = x0 + sig * z
        residual = torch.nn.functional.mse_loss(sig * score(x_t, t), -z, reduction="none")
        return residual.mean(1)

    with pytest.raises(CheckFailed, match="two bugs"):
        check_dsm_per_sample(buggy_dsm_per_sample)
