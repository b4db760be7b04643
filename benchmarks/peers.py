"""Figure 2: the empirical score against its peers, side by side on identical inputs.

The four score-kernel shapes of issue 18, float32, VE at ``t = 0.5`` (the problem of figure 1),
at this run's number of threads. The peers:

- **the authors' loop**: the course's own minimal re-implementation of the algorithm of
  ``GMM_score`` / ``GMM_scoreVP`` in the authors' code (github.com/baptistar/DiffusionModelDynamics,
  ``2DGaussianPoints/score_models.py``): a time per row, the logits filled in by a Python loop
  over the training points, ``softmax``, one product, NaN set to 0 (their code is not copied);
- **naive**: an unchunked ``torch.cdist`` + ``softmax`` + one product;
- **torch.compile(naive)**: inductor's CPU code (needs a C++ compiler; skipped in ``--quick``,
  where compiling would take most of the run);
- **smalldiffusion** (``IdealDenoiser``) and **KeOps** (``pykeops`` ``LazyTensor``): only if
  importable; they are not requirements of the course (``benchmarks/README.md`` keeps their last
  measured figures).

Ratio = peer time / mdiff time (above 1: mdiff is faster). Every version is called once before
timing (the compiled one on the full input, as it is specialised to the shape; the others on the
first rows) and that result is compared with mdiff's; then interleaved rounds (``interleaved``),
best time per call.
"""

from __future__ import annotations

import importlib.util
import shutil
import time

import torch

import mdiff

from .common import interleaved, relative_difference, row
from .kernel import T, problem

SHAPES = [(1000, 60000, 784), (10000, 10000, 2), (1000, 2000, 64), (200, 20, 2)]
QUICK_SHAPES = [(64, 3000, 64), (600, 600, 2), (50, 100, 8), (200, 20, 2)]
COURSE_SHAPE = (200, 20, 2)  # every chapter's setting: target naive / mdiff >= 1
LOOP_SHAPE, LOOP_TARGET = (1000, 2000, 64), 10  # the authors' loop: mdiff >= 10x faster there
COMPILE_LIMIT = 120  # seconds: torch.compile slower than this to compile is skipped afterwards
CHECK_ROWS = 8  # rows on which a peer warms up (but the compiled one) and is compared


def authors_score(schedule, data, x, t: float):
    """The authors' algorithm (module docstring): per-row ``m``, ``sigma``; a loop over n."""
    tt = torch.full((x.shape[0],), t, dtype=x.dtype)  # their samplers pass one time per row
    m, s = schedule.m(tt), schedule.sigma(tt)  # (M,)
    logits = x.new_zeros(x.shape[0], data.shape[0])  # (M, N)
    for n in range(data.shape[0]):  # one column of Gaussian log-densities per training point
        logits[:, n] = -0.5 * ((x - m[:, None] * data[n]) ** 2).sum(1) / s**2
    mean = m[:, None] * (torch.softmax(logits, 1) @ data)  # (M, d)
    mean[torch.isnan(mean)] = 0.0
    return (mean - x) / s[:, None] ** 2


def naive_score(data, x, m: float, var: float):
    """Pairwise distances by ``torch.cdist``, ``softmax``, one product: ``(m xbar - x) / var``."""
    w = torch.softmax(-torch.cdist(x, m * data).square() / (2 * var), 1)  # (M, N)
    return (m * (w @ data) - x) / var


def _smalldiffusion():
    """smalldiffusion's ``IdealDenoiser`` class, or the reason it cannot be used (a string).

    ``import smalldiffusion`` also imports its training code (torchvision, accelerate); the ideal
    denoiser's own module needs only torch and einops, so it is loaded alone when that fails.
    """
    try:
        from smalldiffusion import IdealDenoiser

        return IdealDenoiser
    except Exception as err:  # noqa: BLE001 - any failure to import means "not available"
        first = f"{type(err).__name__}: {err}"
    spec = importlib.util.find_spec("smalldiffusion")
    if spec is None or not spec.submodule_search_locations:
        return "not installed (pip install smalldiffusion)"
    path = f"{list(spec.submodule_search_locations)[0]}/model.py"
    try:
        module_spec = importlib.util.spec_from_file_location("_smalldiffusion_model", path)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        return module.IdealDenoiser
    except Exception as err:  # noqa: BLE001
        return f"not importable ({first}; its model.py alone: {type(err).__name__}: {err})"


def _keops():
    """pykeops' ``LazyTensor``, or the reason it cannot be used (a string)."""
    try:
        import pykeops
        from pykeops.torch import LazyTensor

        pykeops.set_verbose(False)
        return LazyTensor
    except Exception as err:  # noqa: BLE001
        return f"not importable ({type(err).__name__}: {err}; pip install pykeops)"


def keops_score(LazyTensor, data, x, m: float, var: float):
    """The score as a KeOps reduction: ``sumsoftmaxweight`` of ``l = -|x - m y|^2 / (2 var)``."""
    xi, yj = LazyTensor(x[:, None, :]), LazyTensor(data[None, :, :])
    mm = LazyTensor(torch.tensor([m], dtype=x.dtype))  # parameters, not constants: one compile
    a = LazyTensor(torch.tensor([-0.5 / var], dtype=x.dtype))
    xbar = (a * ((xi - mm * yj) ** 2).sum(-1)).sumsoftmaxweight(yj, axis=1)  # (M, d)
    return (m * xbar - x) / var


def _coef(schedule, t: float) -> tuple[float, float]:
    return float(schedule.m(torch.tensor(t))), float(schedule.sigma(torch.tensor(t))) ** 2


def _naive(schedule, data, t: float):
    m, var = _coef(schedule, t)
    return lambda x: naive_score(data, x, m, var)


def _compiled(quick: bool):
    """``make(schedule, data, t) -> fn(x)`` of ``torch.compile(naive_score)``, or why not."""
    if quick:
        return "skipped in --quick (compiling takes tens of seconds)"
    if not (shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")):
        return "no C++ compiler found (inductor's CPU code needs one)"
    compiled = torch.compile(naive_score, dynamic=False)

    def make(schedule, data, t):
        m, var = _coef(schedule, t)
        return lambda x: compiled(data, x, m, var)

    return make


def _small():
    """``make(schedule, data, t) -> fn(x)`` of smalldiffusion's ideal denoiser, or why not."""
    ideal = _smalldiffusion()
    if isinstance(ideal, str):
        return ideal

    def make(schedule, data, t):
        denoiser, sigma = ideal(data), torch.tensor(_coef(schedule, t)[1] ** 0.5)
        return lambda x: -denoiser(x, sigma) / sigma  # eps prediction -> score (VE, m = 1)

    return make


def _keops_peer(quick: bool):
    """``make(schedule, data, t) -> fn(x)`` of :func:`keops_score`, or why not."""
    lazy = _keops()
    if isinstance(lazy, str) or quick:
        return lazy if isinstance(lazy, str) else "skipped in --quick (its first call compiles)"

    def make(schedule, data, t):
        m, var = _coef(schedule, t)
        return lambda x: keops_score(lazy, data, x, m, var)

    return make


def peers(quick: bool) -> tuple[dict, dict]:
    """``{name: make(schedule, data, t) -> fn(x)}`` of the available peers, ``{name: reason}``."""
    candidates = {
        "authors' loop": lambda sch, data, t: lambda x: authors_score(sch, data, x, t),
        "naive cdist+softmax": _naive,
        "torch.compile(naive)": _compiled(quick),
        "smalldiffusion": _small(),
        "KeOps": _keops_peer(quick),
    }
    available = {k: v for k, v in candidates.items() if not isinstance(v, str)}
    return available, {k: v for k, v in candidates.items() if isinstance(v, str)}


def _seconds(sec: float) -> str:
    if sec < 1e-3:
        return f"{sec * 1e6:.0f} us"
    return f"{sec * 1e3:.3g} ms" if sec < 1 else f"{sec:.3g} s"


def _shape_rows(shape, available: dict, failed: dict, repeat: int) -> list[dict]:
    """Time mdiff and every available peer on one shape (interleaved rounds)."""
    M, N, d = shape
    schedule, data, x = problem(M, N, d, torch.float32)
    score = mdiff.empirical_score(schedule, data)
    want = score(x, T)  # warm-up of mdiff, and the result the peers are compared with
    versions, diffs, warm = {"mdiff": lambda: score(x, T)}, {}, {}
    for name, make in available.items():
        if name in failed:
            continue
        try:
            fn = make(schedule, data, T)
            start = time.perf_counter()
            full = name == "torch.compile(naive)"  # specialised to the shape: warm up on it
            out = fn(x if full else x[:CHECK_ROWS])
            warm[name] = time.perf_counter() - start
            diffs[name] = relative_difference(out, want[: len(out)])
            versions[name] = lambda fn=fn: fn(x)
            if full and warm[name] > COMPILE_LIMIT:  # measured here; the next shapes skip it
                failed[name] = f"compiling took {warm[name]:.0f} s at M={M} N={N} d={d}: skipped"
        except Exception as err:  # noqa: BLE001 - a peer that fails is reported, not fatal
            failed[name] = f"failed at M={M} N={N} d={d}: {type(err).__name__}: {err}"[:200]
    best = interleaved(versions, repeat, budget=0.2, slow=3.0)
    rows = []
    for name in versions:
        if name == "mdiff":
            continue
        ratio = best[name] / best["mdiff"]
        target = None
        if shape == COURSE_SHAPE and name.startswith("naive"):
            target = 1
        elif shape == LOOP_SHAPE and name == "authors' loop":
            target = LOOP_TARGET
        note = f", warm-up {warm[name]:.3g} s" if warm[name] > 1 else ""
        rows.append(
            row(
                "2 peers",
                f"{name}: M={M} N={N} d={d} float32",
                f"mdiff {_seconds(best['mdiff'])}",
                f"{_seconds(best[name])} (rel. diff {diffs[name]:.1e}{note})",
                ratio,
                f">= {target}" if target else None,
                (ratio >= target) if target else None,
                peer=name,
                shape=[M, N, d],
                seconds=best["mdiff"],
                peer_seconds=best[name],
                relative_difference=diffs[name],
                warmup_seconds=warm[name],
            )
        )
    return rows


def peer_rows(quick: bool = False, repeat: int = 3, small: bool = False) -> list[dict]:
    """Figure 2: peer time over mdiff's per shape; a skipped peer gets one row with the reason."""
    available, skipped = peers(quick)
    failed: dict = {}
    rows = []
    shapes = QUICK_SHAPES if quick else SHAPES
    for shape in shapes[2:] if small else shapes:  # small: a busy machine, the last two only
        rows += _shape_rows(shape, available, failed, repeat)
    for name, reason in {**skipped, **failed}.items():
        some = any(r["peer"] == name for r in rows)
        case = f"{name}: not measured" + (" on the other shapes" if some else "")
        rows.append(row("2 peers", case, "-", reason, peer=name, skipped=reason))
    return rows
