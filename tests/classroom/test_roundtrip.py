"""The nbgrader round trip of every chapter's exercises, as an instructor runs it.

One nbgrader course in a temporary directory, one assignment per chapter: its exercises alone
with their solutions (``python -m mdiff.classroom exercises``, the instructor's ``source``).
``nbgrader generate_assignment`` releases them; two students submit:

- ``right`` restores every solution cell from the source: every autograded check earns its
  points;
- ``wrong`` does the same but answers each exercise listed in ``tests/classroom/wrong/chNN.py``
  with its typical wrong answer: every check of those exercises earns 0 and every other check
  keeps its points (partial credit per part), and a failing check's output is its message, not
  a traceback through the checker's code.

Every autograded code answer of every chapter has a typical wrong answer. The released
notebooks hold no MyST and nothing of a solution. nbgrader runs once for all chapters
(one assignment, ``chapters``, with a notebook per chapter): the exercises-only notebooks are
small, so the whole round trip takes a minute or two.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from mdiff import classroom
from mdiff.classroom.portable import _LEFTOVER

pytest.importorskip("nbgrader")

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = ROOT / "chapters"
WRONG_DIR = Path(__file__).parent / "wrong"
ASSIGNMENT = "chapters"
_PART = re.compile(r"-(?:solution|check|answer)(?:-\d+)?$")


def _has_exercises(path: Path) -> bool:
    return any(classroom.is_check_cell(c) for c in nbformat.read(path, 4).cells)


NOTEBOOKS = [p for p in classroom.chapter_notebooks(CHAPTERS) if _has_exercises(p)]


def _key(path: Path) -> str:
    """``ch04`` for ``04-....ipynb``, else the file's stem (``appendix-integrators``)."""
    digits = re.match(r"\d+", path.name)
    return f"ch{digits.group(0)}" if digits else path.stem


def _wrong_answers(path: Path) -> dict[str, str]:
    file = WRONG_DIR / f"{_key(path).replace('-', '_')}.py"
    if not file.is_file():
        return {}
    spec = importlib.util.spec_from_file_location(f"wrong_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.WRONG)


def _exercise(grade_id: str) -> str:
    """The exercise label of a cell's grade id (``ex-04-hessian-check-2`` -> ``ex-04-hessian``)."""
    return _PART.sub("", grade_id)


def _nbgrader(args, cwd: Path):
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    run = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run


def _submit(course: Path, student: str, filename: str, released, sources: dict[str, str]):
    for cell in released.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in sources:
            cell.source = sources[grade_id]
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(released, folder / filename)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The course directory after release, submission and autograding of every chapter: one
    assignment ``chapters`` with one notebook per chapter (two nbgrader runs in all)."""
    course = tmp_path_factory.mktemp("course")
    source = course / "source" / ASSIGNMENT
    classroom.write_notebooks(CHAPTERS, source, mode="exercises")
    for path in source.glob("*.ipynb"):
        if path.stem not in {p.stem for p in NOTEBOOKS}:
            path.unlink()
    db = course / "gradebook.db"
    (course / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        f"c.CourseDirectory.db_url = {'sqlite:///' + str(db)!r}\n"
        f"c.CourseDirectory.db_assignments = [{{'name': {ASSIGNMENT!r}}}]\n"
        "c.CourseDirectory.db_students = [{'id': 'right'}, {'id': 'wrong'}]\n"
        "c.ExecutePreprocessor.timeout = 600\n"
    )
    _nbgrader(["generate_assignment", ASSIGNMENT, "--force"], course)
    for path in NOTEBOOKS:
        cells = nbformat.read(source / path.name, 4).cells
        solutions = {
            c.metadata["nbgrader"]["grade_id"]: c.source
            for c in cells
            if classroom.is_solution_cell(c)
        }
        released = course / "release" / ASSIGNMENT / path.name
        _submit(course, "right", path.name, nbformat.read(released, 4), solutions)
        wrong = {**solutions, **_wrong_answers(path)}
        _submit(course, "wrong", path.name, nbformat.read(released, 4), wrong)
    _nbgrader(["autograde", ASSIGNMENT, "--force"], course)
    return course


def _grades(course: Path, student: str, name: str) -> dict[str, tuple[float, float]]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook(name, ASSIGNMENT, student)
        return {g.name: (g.auto_score, g.max_score) for g in notebook.grades}


def _checks(path: Path) -> list[str]:
    cells = nbformat.read(path, 4).cells
    return [c.metadata["nbgrader"]["grade_id"] for c in cells if classroom.is_check_cell(c)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_key)
def test_every_autograded_answer_has_a_typical_wrong_answer(path):
    cells = nbformat.read(path, 4).cells
    code = {
        c.metadata["nbgrader"]["grade_id"]
        for c in cells
        if classroom.is_solution_cell(c) and c.cell_type == "code"
    }
    wrong = _wrong_answers(path)
    assert code <= set(wrong), f"no typical wrong answer for {sorted(code - set(wrong))}"
    assert set(wrong) <= code, f"wrong answers for unknown cells {sorted(set(wrong) - code)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_key)
def test_released_assignment_is_portable_and_holds_no_solution(course, path):
    released = nbformat.read(course / "release" / ASSIGNMENT / path.name, 4)
    source = nbformat.read(course / "source" / ASSIGNMENT / path.name, 4)
    for cell in released.cells:
        assert classroom.BEGIN_SOLUTION not in cell.source
        if cell.cell_type == "markdown":
            assert not _LEFTOVER.search(cell.source), cell.source[:200]
    answers = [
        c.source
        for c in source.cells
        if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("solution")
    ]
    text = "\n".join(c.source for c in released.cells)
    assert all(answer.strip()[:60] not in text for answer in answers)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_key)
def test_solutions_earn_every_autograded_point(course, path):
    grades = _grades(course, "right", path.stem)
    checks = _checks(path)
    assert checks and set(checks) <= set(grades)
    lost = {k: grades[k] for k in checks if grades[k][0] != grades[k][1]}
    assert not lost, f"the solutions lose points: {lost}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_key)
def test_each_typical_wrong_answer_loses_the_points_of_its_part(course, path):
    grades = _grades(course, "wrong", path.stem)
    broken = {_exercise(k) for k in _wrong_answers(path)}
    for grade_id in _checks(path):
        score, points = grades[grade_id]
        if _exercise(grade_id) in broken:
            assert score == 0, f"{grade_id}: a wrong answer kept {score} of {points} points"
        else:
            assert score == points, f"{grade_id}: lost points to another part's wrong answer"
    graded = nbformat.read(course / "autograded" / "wrong" / ASSIGNMENT / path.name, 4)
    for cell in graded.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "error" and output.ename == "CheckFailed":
                shown = "\n".join(output.traceback)
                assert "mdiff/classroom" not in shown and "File " not in shown, shown[:500]
                assert len(output.traceback) <= 1 + output.evalue.count("\n"), shown[:500]
