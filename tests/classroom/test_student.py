"""The student-version generator (``mdiff.classroom.student``), its command line, the execution
of the chapters' exercises, and nbgrader compatibility.

- Unit tests of the generator on small synthetic notebooks, and its ``mode`` argument.
- The chapters' student versions, written by the command line ``python -m mdiff.classroom
  student``: nothing of a solution is left, outputs and metadata are cleared, checks kept.
- Execution (nbclient, one kernel for all chapters, working directory ``chapters/``): the
  set-up cells run, each stub stops its exercise with ``NotImplementedError``, and the
  reference solution restored from the chapter makes the check pass. To keep the suite fast
  only the set-up cells, the cells tagged ``exercise-context`` and the exercise cells are
  executed (``mdiff.classroom.exercise_notebook``), not whole chapters.
- nbgrader's round trip of every chapter is in ``test_roundtrip.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from mdiff import classroom
from mdiff.classroom.portable import page_of, portable_notebook

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = ROOT / "chapters"
NOTEBOOKS = classroom.chapter_notebooks(CHAPTERS)
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"


def _read(path: Path):
    return nbformat.read(path, as_version=4)


WITH_EXERCISES = [p for p in NOTEBOOKS if any(map(classroom.is_solution_cell, _read(p).cells))]


def _ids(paths):
    return [p.name for p in paths]


def _solution_meta(grade_id):
    return {
        "nbgrader": {
            "grade": False,
            "grade_id": grade_id,
            "locked": False,
            "schema_version": 3,
            "solution": True,
            "task": False,
        }
    }


def _check_meta(grade_id):
    return {
        "nbgrader": {
            "grade": True,
            "grade_id": grade_id,
            "locked": True,
            "points": 1,
            "schema_version": 3,
            "solution": False,
            "task": False,
        }
    }


# ---------------------------------------------------------------------------------------
# the generator on synthetic notebooks


def test_stub_keeps_the_indentation_of_each_region():
    source = (
        "def f(x):\n"
        '    """Docstring stays."""\n'
        "    ### BEGIN SOLUTION\n"
        "    y = secret(x)\n"
        "    ### END SOLUTION\n"
        "    if x:\n"
        "        ### BEGIN SOLUTION\n"
        "        return y\n"
        "        ### END SOLUTION\n"
        "    return 0"
    )
    assert classroom.stub_source(source) == (
        "def f(x):\n"
        '    """Docstring stays."""\n'
        "    # YOUR CODE HERE\n"
        "    raise NotImplementedError()\n"
        "    if x:\n"
        "        # YOUR CODE HERE\n"
        "        raise NotImplementedError()\n"
        "    return 0"
    )


def test_stub_drops_hidden_tests_and_handles_markdown():
    source = "check(f)\n### BEGIN HIDDEN TESTS\nassert f(2) == 4\n### END HIDDEN TESTS\nprint(1)"
    assert classroom.stub_source(source) == "check(f)\nprint(1)"
    text = "Answer:\n### BEGIN SOLUTION\nBecause of cancellation.\n### END SOLUTION"
    assert classroom.stub_source(text, markdown=True) == "Answer:\nYOUR ANSWER HERE"


@pytest.mark.parametrize(
    "source",
    [
        "### BEGIN SOLUTION\nx = 1",
        "x = 1\n### END SOLUTION",
        "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION",
        "### BEGIN SOLUTION\nx = 1\n### END HIDDEN TESTS",
    ],
)
def test_stub_rejects_unbalanced_delimiters(source):
    with pytest.raises(ValueError):
        classroom.stub_source(source)


def _synthetic():
    nb = new_notebook(
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "widgets": {"state": {"secret-widget": 1}},
            "custom": "secret-metadata",
        }
    )
    setup = new_code_cell("import mdiff", metadata={"tags": ["hide-input"], "scrolled": True})
    setup.outputs = [nbformat.v4.new_output("stream", text="secret-output")]
    setup.execution_count = 1
    nb.cells = [
        new_markdown_cell("# Title"),
        setup,
        new_markdown_cell("```{exercise} Square\n:label: ex-00-square\n\nWrite `square`.\n```"),
        new_markdown_cell("```{solution-start} ex-00-square\n:class: dropdown\n```"),
        new_markdown_cell("Explanation: multiply-secret-prose."),
        new_code_cell(
            "def square(x):\n    ### BEGIN SOLUTION\n    return x * x  # secret-body\n"
            "    ### END SOLUTION",
            metadata=_solution_meta("ex-00-square-solution"),
        ),
        new_code_cell("square(3)  # secret-demo"),
        new_markdown_cell("```{solution-end}\n```"),
        new_code_cell("assert square(3) == 9", metadata=_check_meta("ex-00-square-check")),
        new_code_cell("answer = 42", metadata=_solution_meta("ex-00-free-solution")),
        new_markdown_cell(
            "Text before.\n\n````{solution} ex-00-square\n```python\nsecret-in-directive\n```\n"
            "````\n\nText after."
        ),
        new_markdown_cell(":::{solution} ex-00-square\nsecret-only\n:::"),
    ]
    return nb


def test_student_notebook_on_a_synthetic_chapter():
    nb = _synthetic()
    before = json.dumps(nb, sort_keys=True)
    student = classroom.student_notebook(nb)
    assert json.dumps(nb, sort_keys=True) == before  # the source is not modified
    text = json.dumps(student)
    assert "secret" not in text
    assert "solution-start" not in text and "solution-end" not in text
    assert set(student.metadata) == {"kernelspec"}
    sources = [c.source for c in student.cells]
    assert sources[0] == classroom.BANNER
    assert sources[1:] == [
        "# Title",
        "import mdiff",
        "```{exercise} Square\n:label: ex-00-square\n\nWrite `square`.\n```",
        "def square(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()",
        "assert square(3) == 9",
        STUB,
        "Text before.\n\n\nText after.",
    ]
    code = [c for c in student.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    assert code[0].metadata == {"tags": ["hide-input"]}
    assert code[2].metadata == _check_meta("ex-00-square-check")
    nbformat.validate(student)


def test_student_notebook_rejects_an_unclosed_solution_span():
    nb = _synthetic()
    del nb.cells[7]  # the {solution-end}
    with pytest.raises(ValueError, match="solution-end"):
        classroom.student_notebook(nb)


def _span_notebook(*markdown):
    """Title, the markdown cells, a solution cell and a check: for the directive syntax tests."""
    solution = new_code_cell(
        "### BEGIN SOLUTION\nanswer = 42  # secret-body\n### END SOLUTION",
        metadata=_solution_meta("ex-00-solution"),
    )
    check = new_code_cell("assert answer == 42", metadata=_check_meta("ex-00-check"))
    cells = [new_markdown_cell(text) for text in markdown]
    return new_notebook(
        cells=[new_markdown_cell("# Title"), *cells[:-1], solution, cells[-1], check]
    )


def _student_sources(*markdown) -> list[str]:
    student = classroom.student_notebook(_span_notebook(*markdown), banner=False)
    assert "secret" not in json.dumps(student)
    assert "solution-start" not in json.dumps(student) and "solution-end" not in json.dumps(student)
    return [c.source for c in student.cells]


def test_tilde_fences_are_directives_too():
    exercise = "~~~{exercise} Answer\n:label: ex-00\n\nSet `answer`.\n~~~"
    start = "~~~{solution-start} ex-00\n:class: dropdown\n~~~"
    assert classroom.directive(new_markdown_cell(start)) == "solution-start"
    sources = _student_sources(exercise, start, "secret-prose", "~~~{solution-end}\n~~~")
    assert sources == ["# Title", exercise, STUB, "assert answer == 42"]
    text = "Before.\n\n~~~~{solution} ex-00\n~~~python\nsecret-code\n~~~\n~~~~\n\nAfter."
    assert _student_sources(text, start, "~~~{solution-end}\n~~~")[1] == "Before.\n\n\nAfter."


def test_directives_inside_a_blockquote_are_recognised():
    start = (
        "> **Exercise.** Set `answer`.\n>\n> ```{solution-start} ex-00\n> :class: dropdown\n> ```"
    )
    assert classroom.directive(new_markdown_cell("> ```{solution-start} ex-00\n> ```")) == (
        "solution-start"
    )
    end = "> ```{solution-end}\n> ```\n>\n> Now run it."
    sources = _student_sources(start, "> secret-prose", end)
    assert sources == [
        "# Title",
        "> **Exercise.** Set `answer`.\n>",
        STUB,
        ">\n> Now run it.",
        "assert answer == 42",
    ]


def test_prose_sharing_a_cell_with_a_wrapper_is_kept_outside_the_span_only():
    start = "Read this first.\n\n```{solution-start} ex-00\n:class: dropdown\n```\nsecret-model"
    end = "secret-tail\n```{solution-end}\n```\n\nNow the experiment: keep-me."
    sources = _student_sources(start, end)
    assert sources == [
        "# Title",
        "Read this first.\n",
        STUB,
        "\nNow the experiment: keep-me.",
        "assert answer == 42",
    ]
    both = "Intro.\n```{solution-start} ex-00\n```\nsecret-both\n```{solution-end}\n```\nOutro."
    nb = _span_notebook("```{exercise} A\n```", both)
    assert [c.source for c in classroom.student_notebook(nb, banner=False).cells][1:3] == [
        "```{exercise} A\n```",
        STUB,
    ]  # the solution cell sits after the span here: ``both`` opened and closed it itself
    assert "Intro.\nOutro." in [c.source for c in classroom.student_notebook(nb).cells]
    reduced = classroom.exercise_notebook(_span_notebook(start, "secret-prose", end))
    assert any("keep-me" in c.source for c in reduced.cells)  # the wrapper cells are kept


@pytest.mark.parametrize(
    "markdown, problem",
    [
        (("````{solution} ex-00\nsecret-unclosed",), "is not closed"),
        (("See ```{solution-start} ex-00 below.", "```{solution-end}\n```"), "cannot parse"),
        (("```{exercise} A\n```{solution-start} ex-00\n```",), "nested in {exercise}"),
        (("> ```{solution-start} ex-00\nsecret-lazy\n> ```", "```{solution-end}\n```"), "ends"),
        (("```{solution-end}\n```",), "unbalanced {solution-end}"),
    ],
    ids=["unclosed", "mid-line", "nested", "blockquote", "unbalanced"],
)
def test_what_the_generator_cannot_parse_is_refused_with_the_notebook_and_cell(
    tmp_path, markdown, problem
):
    src = tmp_path / "src"
    src.mkdir()
    nbformat.write(_span_notebook(*markdown), src / "00-broken.ipynb")
    for mode in classroom.MODES:
        with pytest.raises(ValueError) as err:
            classroom.write_notebooks(src, tmp_path / mode, mode=mode)
        message = str(err.value)
        assert re.match(r"00-broken\.ipynb, cell [12] \(id '\w+', '", message), message
        assert problem in message, message


def test_exercise_notebook_keeps_setup_context_and_exercises():
    nb = _synthetic()
    colab = new_code_cell("import sys  # the Colab cell comes before the imports")
    nb.cells.insert(1, colab)
    nb.cells.insert(3, new_code_cell("x = 1", metadata={"tags": [classroom.CONTEXT_TAG]}))
    nb.cells.insert(4, new_code_cell("expensive_plot()"))
    reduced = classroom.exercise_notebook(nb)
    sources = [c.source for c in reduced.cells]
    assert sources[:4] == ["# Title", colab.source, "import mdiff", "x = 1"]
    assert "expensive_plot()" not in sources
    assert any("BEGIN SOLUTION" in s for s in sources)  # solutions are kept
    assert "assert square(3) == 9" in sources
    assert all(c.get("outputs", []) == [] for c in reduced.cells)


# ---------------------------------------------------------------------------------------
# write_notebooks and its mode, on a synthetic chapter


def _synthetic_dir(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    nbformat.write(_synthetic(), src / "00-synthetic.ipynb")
    return src


def _sources(nb) -> list[str]:
    """Cell sources without the banner (whose cell id is random)."""
    return [c.source for c in nb.cells if c.source != classroom.BANNER]


@pytest.mark.parametrize("mode", classroom.MODES)
def test_write_notebooks_writes_what_its_mode_says(tmp_path, mode):
    src = _synthetic_dir(tmp_path)
    written = classroom.write_notebooks(src, tmp_path / mode, mode=mode)
    assert written == [(tmp_path / mode / "00-synthetic.ipynb", 2)]  # two solution cells
    nb, source = _read(written[0][0]), _read(src / "00-synthetic.ipynb")
    page = page_of(src / "00-synthetic.ipynb")
    expected = {
        "student": lambda: classroom.student_notebook(source),
        "student-exercises": lambda: classroom.student_notebook(
            classroom.exercise_notebook(source)
        ),
        "exercises": lambda: classroom.exercise_notebook(source),
    }[mode]()
    assert _sources(nb) == _sources(portable_notebook(expected, page))  # then made portable
    assert any(s.startswith("### Exercise 0.1 — Square") for s in _sources(nb))
    text = json.dumps(nb)
    assert ("secret-body" in text) == (mode == "exercises")  # only the exercise source has it
    assert (nb.cells[0].source == classroom.BANNER) == mode.startswith("student")
    assert ("Text before.\n\n\nText after." in _sources(nb)) == (mode == "student")


def test_write_notebooks_rejects_an_unknown_mode(tmp_path):
    with pytest.raises(ValueError, match="'student', 'student-exercises', 'exercises', got 'x'"):
        classroom.write_notebooks(_synthetic_dir(tmp_path), tmp_path / "out", mode="x")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "args, mode, kind",
    [
        (["student"], "student", "student"),
        (["student", "--exercises-only"], "student-exercises", "student"),
        (["exercises"], "exercises", "exercise source"),
    ],
)
def test_command_line_maps_its_subcommands_to_modes(tmp_path, capsys, args, mode, kind):
    src = _synthetic_dir(tmp_path)
    assert classroom.main([*args, str(src), str(tmp_path / "cli")]) == 0
    assert f"wrote 1 {kind} notebook(s) with 2 exercise cell(s)" in capsys.readouterr().out
    classroom.write_notebooks(src, tmp_path / "api", mode=mode)
    name = "00-synthetic.ipynb"
    assert _sources(_read(tmp_path / "cli" / name)) == _sources(_read(tmp_path / "api" / name))


# ---------------------------------------------------------------------------------------
# the chapters' student versions, written by the command line


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    run = subprocess.run(
        [sys.executable, "-m", "mdiff.classroom", "student", str(CHAPTERS), str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert f"wrote {len(NOTEBOOKS)} student notebook(s)" in run.stdout
    return out


def test_command_line_writes_one_student_notebook_per_chapter(student_dir):
    assert sorted(p.name for p in student_dir.glob("*.ipynb")) == _ids(NOTEBOOKS)


def test_command_line_refuses_to_overwrite_the_chapters():
    with pytest.raises(SystemExit):
        classroom.main(["student", str(CHAPTERS), str(CHAPTERS)])


def _solution_lines(nb) -> set[str]:
    """Lines inside the solution regions (stripped; delimiters and very short lines skipped)."""
    lines, inside = set(), False
    for cell in nb.cells:
        for line in cell.source.splitlines():
            if classroom.BEGIN_SOLUTION in line:
                inside = True
            elif classroom.END_SOLUTION in line:
                inside = False
            elif inside and len(line.strip()) >= 12:
                lines.add(line.strip())
    return lines


def _public_text(nb, code: bool = True) -> str:
    """What a reader sees outside the solution cells: markdown, outputs and (optionally)
    the source of the other code cells."""
    parts = []
    for cell in nb.cells:
        if not classroom.is_solution_cell(cell) and (code or cell.cell_type != "code"):
            parts.append(cell.source)
        for out in cell.get("outputs", []):
            parts.append(json.dumps(out))
    return "\n".join(parts)


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=_ids(WITH_EXERCISES))
def test_solutions_appear_in_no_markdown_and_no_output(path):
    """TEAM.md: nothing of a solution in markdown or outputs (a line of set-up code that the
    solution shares with other code cells is not a secret and is allowed, nor is a line that
    an exercise statement gives the student, such as a signature or a seeded generator)."""
    nb = _read(path)
    public = _public_text(nb, code=False)
    given = "\n".join(c.source for c in nb.cells if classroom.directive(c) == "exercise")
    leaked = sorted(line for line in _solution_lines(nb) if line in public and line not in given)
    assert not leaked, f"{path.name}: solution lines in markdown or outputs: {leaked}"


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=_ids(WITH_EXERCISES))
def test_student_version_leaks_nothing(path, student_dir):
    source, student = _read(path), _read(student_dir / path.name)
    text = "\n".join(c.source for c in student.cells)
    raw = json.dumps(student)
    public = _public_text(source)
    for line in _solution_lines(source) - {x for x in _solution_lines(source) if x in public}:
        assert line not in text and json.dumps(line)[1:-1] not in raw, (path.name, line)
    assert classroom.BEGIN_SOLUTION not in raw and classroom.END_SOLUTION not in raw
    assert "widgets" not in student.metadata
    assert set(student.metadata) <= {"kernelspec", "language_info"}
    for cell in student.cells:
        assert set(cell.metadata) <= {"nbgrader", "tags", "editable", "deletable"}
        assert classroom.directive(cell) not in ("solution", "solution-start", "solution-end")
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=_ids(WITH_EXERCISES))
def test_student_version_has_one_stub_per_solution_and_every_check(path, student_dir):
    source, student = _read(path), _read(student_dir / path.name)
    solutions = [c for c in source.cells if classroom.is_solution_cell(c)]
    stubs = [c for c in student.cells if classroom.is_solution_cell(c)]
    assert len(stubs) == len(solutions)
    assert all(
        "raise NotImplementedError()" in c.source
        if c.cell_type == "code"
        else c.source == classroom.TEXT_STUB
        for c in stubs
    )
    checks = [c.source for c in source.cells if classroom.is_check_cell(c)]
    assert checks and checks == [c.source for c in student.cells if classroom.is_check_cell(c)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_every_name_a_chapter_uses_is_exported(path):
    """Check cells call ``mdiff.classroom.<name>``: the package re-exports each of them."""
    names = set(re.findall(r"mdiff\.classroom\.(\w+)", path.read_text()))
    assert all(n in classroom.__all__ and hasattr(classroom, n) for n in names), names


# ---------------------------------------------------------------------------------------
# executing the student versions (one kernel for all chapters)


@pytest.fixture(scope="module")
def kernel():
    """A started nbclient kernel whose working directory is chapters/ (as under nbval)."""
    from nbclient import NotebookClient

    os.environ.setdefault("PYTHONHASHSEED", "0")
    client = NotebookClient(
        new_notebook(cells=[new_code_cell("")]),  # execute_cell(cell, 0) stores cell there
        kernel_name="python3",
        timeout=300,
        resources={"metadata": {"path": str(CHAPTERS)}},
    )
    with contextlib.ExitStack() as stack:
        stack.enter_context(client.setup_kernel())
        yield client


def _run(client, source: str):
    """Execute ``source``; return (error name or None, stdout text)."""
    from nbclient.exceptions import CellExecutionError

    cell = new_code_cell(source)
    try:
        client.execute_cell(cell, 0)
    except CellExecutionError as err:
        return err.ename, ""
    text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    return None, text


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=_ids(WITH_EXERCISES))
def test_student_version_stops_at_each_stub_and_solutions_pass(path, kernel):
    """Run the student version (exercise cells only) top to bottom: every stub stops its
    exercise with NotImplementedError (in the stub cell or in its check), and once the
    chapter's reference solution is restored, the check passes."""
    reduced = classroom.exercise_notebook(_read(path))
    code = [c for c in reduced.cells if classroom.is_solution_cell(c) and c.cell_type == "code"]
    solutions = iter([c.source for c in code])
    student = classroom.student_notebook(reduced)
    assert _run(kernel, "%reset -f\nimport matplotlib.pyplot as plt\nplt.close('all')")[0] is None
    pending, stops = [], 0  # references of stubs that defined a function, awaiting a check
    for k, cell in enumerate(c for c in student.cells if c.cell_type == "code"):
        where = (path.name, k, cell.source[:80])
        if classroom.is_solution_cell(cell):
            error, _ = _run(kernel, cell.source)
            assert error in (None, "NotImplementedError"), (*where, error)
            reference = next(solutions)
            if error is None:  # the stub defined a function: a check must stop at it
                pending.append(reference)
                continue
            stops += 1 + len(pending)  # a stub that stops; earlier ones it may call are restored
            for earlier in [*pending, reference]:
                assert _run(kernel, earlier)[0] is None, (*where, "the reference solution fails")
            pending = []
            continue
        if classroom.is_check_cell(cell) and pending:
            error, _ = _run(kernel, cell.source)
            assert error == "NotImplementedError", (*where, "the stub was not reached", error)
            stops += len(pending)
            for reference in pending:
                assert _run(kernel, reference)[0] is None, (*where, "the reference solution fails")
            pending = []
        error, out = _run(kernel, cell.source)
        assert error is None, (*where, error)
        if classroom.is_check_cell(cell) and "mdiff.classroom" in cell.source:
            assert "Correct" in out, (*where, out)
    assert not pending, (path.name, "a stub was never exercised by a check")
    assert stops == len(code) > 0
