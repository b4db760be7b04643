"""The stored long runs (``results/*.csv``, ``make long-runs``) are what the code produces.

A prefix of every stored experiment is rerun here, to its first checkpoint (training is
bit-reproducible on one thread, and a shorter run is a prefix of the long one), and must match
the stored rows exactly; every stored file has its provenance and the rows its tasks declare."""

from __future__ import annotations

import pytest

from tools import long_runs
from tools.long_runs import COLUMNS, RESULTS, all_tasks, read_csv, run_task, write_csv

TASKS = all_tasks()
EXPERIMENTS = sorted({t.experiment for t in TASKS})


def _task(experiment: str, name: str | None = None):
    return next(t for t in TASKS if t.experiment == experiment and name in (None, t.name))


STORED = sorted(p.stem for p in RESULTS.glob("*.csv"))


def _stored(experiment: str) -> None:
    if experiment not in STORED:
        pytest.skip(
            f"results/{experiment}.csv is not stored yet: make long-runs EXPERIMENTS={experiment}"
        )


def test_every_stored_file_has_an_experiment():
    assert set(STORED) <= set(EXPERIMENTS), sorted(set(STORED) - set(EXPERIMENTS))


def test_every_experiment_is_stored():
    missing = sorted(set(EXPERIMENTS) - set(STORED))
    if missing:  # a long run still going: visible in every test report, never silent
        pytest.skip(f"not stored yet: {', '.join(missing)} (make long-runs)")


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_stored_file_has_provenance_and_the_declared_rows(experiment):
    _stored(experiment)
    header, rows = read_csv(RESULTS / f"{experiment}.csv")
    text = "\n".join(header)
    for key in ["# experiment:", "# command:", "# commit:", "# date:", "# torch "]:
        assert key in text, f"{experiment}.csv: provenance line {key!r} missing"
    tasks = [t for t in TASKS if t.experiment == experiment]
    for task in tasks:
        assert f"# task {task.name}: " in text and " s wall" in text
    assert rows and list(rows[0])[: len(COLUMNS)] == COLUMNS
    assert {r["experiment"] for r in rows} == {experiment}
    for task in tasks:
        names = [v["name"] for v in task.kwargs.get("variants", [])]
        for name in names:  # the MLP experiments: every checkpoint of every variant
            steps = {int(r["steps"]) for r in rows if r["variant"] == name}
            every = task.kwargs["every"]
            assert steps == set(range(every, task.steps + 1, every)), (experiment, name)
    for r in rows:
        if r["fraction"] != "":
            assert 0.0 <= float(r["fraction"]) <= 1.0


PREFIX = [t for t in TASKS if t.fn == "tools.long_runs:mlp_group"]  # the paper's MLP runs


@pytest.mark.parametrize("task", PREFIX, ids=[f"{t.experiment}-{t.name}" for t in PREFIX])
def test_a_rerun_prefix_matches_the_stored_rows_exactly(task):
    """Each stack of the paper's MLP (E8c, both E8d stacks, E7) rerun to its first checkpoint:
    a few thousand steps must give exactly the rows stored from the long run."""
    _stored(task.experiment)
    first = task.kwargs["every"]
    rows, _ = run_task(task, steps=first)
    names = {v["name"] for v in task.kwargs["variants"]}
    _, stored = read_csv(RESULTS / f"{task.experiment}.csv")
    expected = [r for r in stored if int(r["steps"]) <= first and r["variant"] in names]
    got = [{k: str(v) for k, v in r.items()} for r in rows]
    assert len(expected) == len(got) == len(names) * len(long_runs.TOLS)
    assert got == expected


def test_the_image_run_rerun_to_its_first_checkpoint_matches_exactly():
    """E9 (the compact U-Net on the rectangles): metrics and stored samples of step 1000."""
    task = _task("E9")
    _stored(task.experiment)
    first = task.kwargs["every"]
    rows, _ = run_task(task, steps=first)
    _, stored = read_csv(RESULTS / "E9.csv")
    expected = [r for r in stored if int(r["steps"]) <= first]
    columns = list(stored[0])  # a row leaves the other rows' columns empty
    got = [{c: str(r.get(c, "")) for c in columns} for r in rows]
    assert len(got) == len(expected) > len(long_runs.TOLS)
    assert got == expected


def test_csv_round_trip_keeps_columns_in_order(tmp_path):
    rows = [{"experiment": "X", "variant": "v", "steps": "10", "tol": "0.1", "fraction": "0.5",
             "copies": "0.25"}]  # fmt: skip
    write_csv(tmp_path / "X.csv", ["# experiment: X"], rows)
    header, back = read_csv(tmp_path / "X.csv")
    assert header == ["# experiment: X"] and back == rows
    assert list(back[0]) == [*COLUMNS, "copies"]


def test_unknown_experiment_is_refused(capsys):
    with pytest.raises(SystemExit):
        long_runs.main(["E0"])
    assert "unknown experiment" in capsys.readouterr().err


GENERALIZATION = [t for t in TASKS if t.fn.startswith("tools.long_runs_generalization:")]


@pytest.mark.parametrize("task", GENERALIZATION, ids=[t.experiment for t in GENERALIZATION])
def test_the_generalization_runs_rerun_to_their_first_evaluation_match_exactly(task):
    """G1 (ring) and G2 (digits) of chapter 11, rerun to their first sampled checkpoint."""
    _stored(task.experiment)
    first = min(task.kwargs["evaluate"])
    rows, _ = run_task(task, steps=first)
    _, stored = read_csv(RESULTS / f"{task.experiment}.csv")
    expected = [r for r in stored if int(r["steps"]) <= first]
    columns = list(stored[0])  # G2's sample rows add columns that its other rows leave empty
    got = [{c: str(r.get(c, "")) for c in columns} for r in rows]
    assert len(got) == len(expected)
    assert len([r for r in got if r["tol"]]) == len(task.kwargs["sizes"])
    assert got == expected


def test_mdiff_long_run_reads_the_stored_file():
    import mdiff

    header, rows = mdiff.long_run("E8c", directory=RESULTS)
    assert header[0].startswith("experiment: E8c")
    assert isinstance(rows[0]["steps"], int) and isinstance(rows[0]["fraction"], float)
    with pytest.raises(FileNotFoundError, match="make long-runs"):
        mdiff.long_run("no-such-run", directory=RESULTS)


def test_instructors_page_lists_the_stored_runs():
    """``chapters/_long_runs.md`` is regenerated from the CSV headers (tools.long_runs --page)."""
    assert long_runs.PAGE.read_text() == long_runs.page()
