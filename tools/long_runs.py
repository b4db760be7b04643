"""The long runs of the course: full-length training experiments, stored as small CSV files.

Usage: ``python -m tools.long_runs [EXPERIMENT ...] [--jobs 2] [--out results]`` (``make
long-runs``; default: every experiment). Each experiment is a few *tasks* (one batched
``mdiff.train_many`` run each); the tasks run in ``--jobs`` processes of one torch thread each
(so every run is bit-reproducible), the longest first. When all tasks of an experiment are done,
``results/<experiment>.csv`` is written: ``#`` lines with the provenance (commit, settings,
seeds, torch version, wall times), then the rows ``experiment,variant,steps,tol,fraction``
(plus an experiment's own columns). Nothing else is stored: no weights, no pickles.

The experiments are the authors' E7/E8 settings on the paper's 20 points (VP, MLP width 256,
depth 2, Fourier embedding of dimension 8, Adam lr 1e-3, full batch, EMA 0.9999 with the
warm-up of ``mdiff.training.ema_decay``); at every checkpoint the EMA network is sampled with
the probability-flow ODE (Heun, ``mdiff.time_grid(vp, 100)`` down to t = 0) from
``mdiff.paper_latents(vp, 1000)`` and ``frac(tol)`` is recorded for the four tolerances.
Chapter 9 runs the first steps of the same tasks live; ``tests/test_long_runs.py`` reruns a
prefix of one and matches the stored rows exactly. Other modules add experiments by listing
:class:`Task` objects in ``TASKS`` (see ``MODULES``).
"""

from __future__ import annotations

import argparse
import csv
import importlib
import io
import json
import multiprocessing
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tools.machine import cpu

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
# oneDNN's convolutions capped at AVX2 (as the Makefile does): the U-Net runs then give the same
# numbers on AVX-512 machines too. oneDNN reads this at its first convolution, and the task
# processes inherit it.
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
COLUMNS = ["experiment", "variant", "steps", "tol", "fraction"]
#: Modules whose ``TASKS`` list adds experiments (imported only if they exist).
MODULES = ["tools.long_runs", "tools.long_runs_images", "tools.long_runs_generalization"]

TOLS = (1e-2, 5e-2, 1e-1, 5e-1)
MLP = {"d": 2, "depth": 2, "emb_dim": 8}  # the paper's MLP (width per variant)
TRAIN = {"lr": 1e-3, "ema": 0.9999, "init_seed": 0, "noise_seed": 1}
SAMPLING = {"n_samples": 1000, "ode_steps": 100, "method": "heun", "latent_seed": 0}


@dataclass(frozen=True)
class Task:
    """One batched training run: ``fn`` (``"module:function"``) is called as
    ``fn(steps=steps, **kwargs)`` and returns the rows; ``cost``: network-steps, for scheduling;
    ``settings``: what ``fn`` reads from its module's constants, recorded in the provenance (its
    ``"sampling"`` entry replaces the module's ``SAMPLING`` in the header)."""

    experiment: str
    name: str
    fn: str
    steps: int
    kwargs: dict = field(default_factory=dict)
    cost: float = 0.0
    about: str = ""
    settings: dict = field(default_factory=dict)


def _mlp(width: int, output: str):
    import torch

    import mdiff

    gen = torch.Generator().manual_seed(TRAIN["init_seed"])
    return mdiff.MLP(width=width, output=output, generator=gen, **MLP)


def sampling_setup() -> dict:
    """The schedule, the 20 points, the latents and the time grid of ``SAMPLING``."""
    import mdiff

    vp = mdiff.VP()
    x_T = mdiff.paper_latents(vp, SAMPLING["n_samples"], seed=SAMPLING["latent_seed"])
    return {"vp": vp, "data": mdiff.paper_points(), "x_T": x_T,
            "ts": mdiff.time_grid(vp, SAMPLING["ode_steps"])}  # fmt: skip


def sample_fractions(net, tols=TOLS, setup: dict | None = None) -> list[float]:
    """``frac(tol)`` of the PF-ODE samples of a network (the settings of ``SAMPLING``;
    ``setup``: :func:`sampling_setup`, built once per run rather than per checkpoint)."""
    import mdiff

    s = setup or sampling_setup()
    score = mdiff.score_from_model(s["vp"], net)
    x = mdiff.probability_flow(s["vp"], score, s["x_T"], s["ts"], method=SAMPLING["method"])
    return [mdiff.fraction_within(x, s["data"], tol) for tol in tols]


def mlp_group(
    *, steps: int, experiment: str, variants: list, every: int, pad_to: int | None = None
) -> list[dict]:
    """Train the networks of ``variants`` (dicts with ``name``, ``width``, ``output``, ``c``) as
    one ``mdiff.train_many`` stack (narrower ones zero-padded to ``pad_to``: the same networks,
    ``mdiff.ensemble.pad``) and return ``frac(tol)`` rows at every ``every`` steps."""
    import torch

    import mdiff
    from mdiff.ensemble import pad, unpad

    nets = [_mlp(v["width"], v["output"]) for v in variants]
    stacked = [pad(n, pad_to) if pad_to else n for n in nets]
    runs = mdiff.train_many(
        mdiff.VP(),
        stacked,
        mdiff.paper_points(),
        steps,
        lr=TRAIN["lr"],
        ema=TRAIN["ema"],
        c=[v["c"] for v in variants],
        checkpoint_every=every,
        generator=torch.Generator().manual_seed(TRAIN["noise_seed"]),
        progress=sys.stderr.isatty(),
    )
    rows, setup = [], sampling_setup()
    for v, net, run in zip(variants, nets, runs):
        for step in sorted(run.checkpoints):
            trained = unpad(run.checkpoints[step], net) if pad_to else run.checkpoint_net(step)
            for tol, frac in zip(TOLS, sample_fractions(trained, setup=setup)):
                rows.append(
                    {"experiment": experiment, "variant": v["name"], "steps": step,
                     "tol": f"{tol:g}", "fraction": f"{frac:.3f}"}
                )  # fmt: skip
    return rows


def _score_net(name: str, c: float = 0.0, width: int = 256, output: str = "score") -> dict:
    return {"name": name, "width": width, "output": output, "c": c}


E8C = [_score_net("eps", output="eps"), _score_net("score")]
E8D = [[_score_net(f"c={c:g}", c) for c in pair] for pair in [(1e-4, 1e-3), (1e-2, 1e-1)]]
E7 = [_score_net(f"width={w}", width=w) for w in (32, 64, 128)]
_FN = "tools.long_runs:mlp_group"

TASKS = [
    Task("E8c", "eps+score", _FN, 100_000, {"experiment": "E8c", "variants": E8C,
         "every": 10_000}, 2 * 100_000,
         "E8c: singular (eps-hat output) vs non-singular (score output) networks, c = 0"),
    *[Task("E8d", "+".join(v["name"] for v in pair), _FN, 500_000,
           {"experiment": "E8d", "variants": pair, "every": 10_000}, 2 * 500_000,
           "E8d: score networks with the Tikhonov penalty c |s|^2 in the DSM loss")
      for pair in E8D],
    Task("E7", "width=32+64+128", _FN, 100_000, {"experiment": "E7", "variants": E7,
         "every": 10_000, "pad_to": 128}, 1.5 * 100_000,
         "E7: score networks of widths 32, 64, 128 (trained as one stack zero-padded to "
         "width 128); width 256 is the score network of E8c"),
]  # fmt: skip


def all_tasks() -> list[Task]:
    """The tasks of every module in ``MODULES`` that exists."""
    tasks = []
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name != name:
                raise
            continue
        tasks += module.TASKS
    return tasks


def run_task(task: Task, steps: int | None = None) -> tuple[list[dict], float]:
    """Run one task (``steps``: a shorter prefix) in this process, one torch thread."""
    import torch

    torch.set_num_threads(1)
    module, fn = task.fn.split(":")
    start = time.perf_counter()
    rows = getattr(importlib.import_module(module), fn)(steps=steps or task.steps, **task.kwargs)
    return rows, time.perf_counter() - start


def _run_logged(task: Task) -> tuple[Task, list[dict], float]:
    print(f"[long-runs] start {task.experiment} {task.name} ({task.steps} steps)", flush=True)
    rows, seconds = run_task(task)
    print(f"[long-runs] done  {task.experiment} {task.name}: {seconds:.0f} s", flush=True)
    return task, rows, seconds


def _git(*args: str) -> str:
    out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def code_version() -> str:
    """The commit of the code (read when the runs start), flagged if mdiff/ or tools/ differ."""
    dirty = _git("status", "--porcelain", "--untracked-files=no", "--", "mdiff", "tools")
    return _git("rev-parse", "HEAD") + (" with local changes in mdiff/ or tools/" if dirty else "")


def provenance(tasks: list[Task], seconds: dict, total: float, commit: str) -> list[str]:
    """The ``#`` header of an experiment's CSV: what produced it, where, and how long it took."""
    import torch

    lines = [
        f"experiment: {tasks[0].experiment}. {tasks[0].about}",
        "command: make long-runs (python -m tools.long_runs); rerun to reproduce every row",
        f"commit: {commit} (when the runs started)",
        f"date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
        f"torch {torch.__version__}, python {platform.python_version()}, "
        f"{platform.machine()}, {multiprocessing.cpu_count()} cores, 1 torch thread per task",
        "cpu: {}, {}".format(*cpu()),
    ]
    module = importlib.import_module(tasks[0].fn.split(":")[0])  # its own settings, else these
    train, net = getattr(module, "TRAIN", TRAIN), getattr(module, "NET", MLP)
    sampling = getattr(module, "SAMPLING", SAMPLING)
    sampling = tasks[0].settings.get("sampling", sampling)  # a task's own
    lines += [
        f"training: {json.dumps(train)}; network: {json.dumps(net)}",
        f"sampling: {json.dumps(sampling)} (probability-flow ODE to t = 0, VP)",
    ]
    for task in tasks:
        own = {"settings": task.settings} if task.settings else {}
        settings = json.dumps({"steps": task.steps, **task.kwargs, **own}, default=str)
        lines.append(f"task {task.name}: {seconds[task.name]:.0f} s wall; {settings}")
    lines.append(f"wall time of the experiment's tasks: {total:.0f} s (sum over its tasks)")
    return [f"# {line}" for line in lines]


def write_csv(path: Path, header: list[str], rows: list[dict]) -> None:
    """``header`` lines, then the rows with ``COLUMNS`` first and any other columns after."""
    extra = [k for row in rows for k in row if k not in COLUMNS]
    columns = COLUMNS + list(dict.fromkeys(extra))
    buf = io.StringIO()
    buf.write("\n".join(header) + "\n")
    writer = csv.DictWriter(buf, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buf.getvalue())


def read_csv(path: Path) -> tuple[list[str], list[dict]]:
    """The ``#`` header lines and the rows (all values as strings) of a results file."""
    from mdiff.data import split_results

    return split_results(Path(path).read_text(), numbers=False)


PAGE = ROOT / "chapters" / "_long_runs.md"  # included by chapters/instructors.md


def _provenance_value(header: list[str], key: str) -> str:
    line = next((h for h in header if h.startswith(f"# {key}")), "")
    return line.removeprefix(f"# {key}").strip(" :")


def page(results: Path = RESULTS) -> str:
    """Markdown table of the stored long runs (from their CSV headers), for the instructors."""
    lines = [
        "<!-- generated by tools/long_runs.py (python -m tools.long_runs --page) -->\n",
        "| experiment | what | longest run (steps) | rows | wall time (s) | commit |",
        "|---|---|---|---|---|---|",
    ]
    for path in sorted(results.glob("*.csv")):
        header, rows = read_csv(path)
        about = _provenance_value(header, "experiment").split(". ", 1)[-1]
        wall = _provenance_value(header, "wall time of the experiment's tasks").split(" s")[0]
        commit = _provenance_value(header, "commit").split(" ")[0][:7]
        steps = max(int(r["steps"]) for r in rows)
        lines.append(f"| `{path.stem}` | {about} | {steps:,} | {len(rows)} | {wall} | `{commit}` |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.long_runs", description=__doc__)
    parser.add_argument("experiments", nargs="*", help="experiments to run (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="directory of the CSVs")
    parser.add_argument("--list", action="store_true", help="list the tasks and exit")
    parser.add_argument("--page", action="store_true", help=f"only rewrite {PAGE.name}")
    args = parser.parse_args(argv)
    if args.page:
        PAGE.write_text(page(args.out))
        return 0
    tasks = all_tasks()
    known = sorted({t.experiment for t in tasks})
    unknown = sorted(set(args.experiments) - set(known))
    if unknown:
        parser.error(f"unknown experiment(s) {', '.join(unknown)}; known: {', '.join(known)}")
    tasks = [t for t in tasks if not args.experiments or t.experiment in args.experiments]
    if args.list:
        for t in tasks:
            print(f"{t.experiment:6} {t.name:24} {t.steps:>8} steps  {t.about}")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    pending = {e: [t for t in tasks if t.experiment == e] for e in dict.fromkeys(
        t.experiment for t in tasks)}  # fmt: skip
    done: dict[str, list] = {e: [] for e in pending}
    ctx, commit = multiprocessing.get_context("spawn"), code_version()
    start = time.perf_counter()
    with ctx.Pool(max(1, args.jobs), maxtasksperchild=1) as pool:
        order = sorted(tasks, key=lambda t: -t.cost)  # longest first
        for task, rows, seconds in pool.imap_unordered(_run_logged, order):
            done[task.experiment].append((task, rows, seconds))
            if len(done[task.experiment]) == len(pending[task.experiment]):
                _write(args.out, pending[task.experiment], done[task.experiment], commit)
    print(f"[long-runs] all done in {time.perf_counter() - start:.0f} s wall", flush=True)
    if args.out.resolve() == RESULTS:
        PAGE.write_text(page())
    return 0


def _write(out: Path, tasks: list[Task], done: list, commit: str) -> None:
    by_name = {task.name: (rows, seconds) for task, rows, seconds in done}
    seconds = {name: s for name, (_, s) in by_name.items()}
    rows = [row for task in tasks for row in by_name[task.name][0]]  # the declared order
    path = out / f"{tasks[0].experiment}.csv"
    write_csv(path, provenance(tasks, seconds, sum(seconds.values()), commit), rows)
    print(f"[long-runs] wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


if __name__ == "__main__":
    sys.exit(main())
