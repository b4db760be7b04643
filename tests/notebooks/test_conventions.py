"""The conventions every chapter notebook follows (DESIGN.md section 3).

One test per convention and notebook (parametrized over ``chapters/*.ipynb``), so a failure
names the chapter and the rule. These tests read the stored notebooks; they execute nothing.
"""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import nbformat
import pytest

from tools.colab_cell import colab_source, is_colab_cell, other_colab_cells

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))
MAX_NOTEBOOK_BYTES = 3_000_000
MAX_ANIMATION_BYTES = 500_000
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
FENCE = r"(?:`{3,}|:{3,})"
LEARNING_GOALS = re.compile(rf"^{FENCE}\{{admonition\}}\s+Learning goals\s*$", re.IGNORECASE)
SUMMARY = re.compile(r"^#{1,3}\s+(?:[\d.]+\s+)?Summary\s*$", re.MULTILINE)
EXERCISE = re.compile(rf"^{FENCE}\{{exercise\}}", re.MULTILINE)
LABEL = re.compile(r"^:label:\s*(\S+)\s*$", re.MULTILINE)


def _load(path: Path):
    return nbformat.read(path, as_version=4)


@pytest.fixture(params=NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def nb(request):
    return request.param.name, _load(request.param)


def _code_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def _outputs(nb):
    for k, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            yield k, cell, out


def test_there_are_chapter_notebooks():
    assert NOTEBOOKS, "no chapters/*.ipynb found"


def test_python3_kernel(nb):
    name, book = nb
    assert book.metadata.get("kernelspec", {}).get("name") == "python3", name


def test_first_code_cell_is_the_colab_cell(nb):
    name, book = nb
    code = _code_cells(book)
    assert code, f"{name}: no code cell"
    ok = is_colab_cell(code[0], colab_source())
    assert ok, (
        f"{name}: the first code cell must be exactly the Colab cell (tools/colab_cell.py), tagged "
        f"hide-input, without outputs; run `python -m tools.colab_cell chapters/{name}` "
        "and re-execute the notebook"
    )


def test_only_the_colab_cell_installs_in_colab(nb):
    name, book = nb
    others = other_colab_cells(book, colab_source())
    assert not others, f"{name}: cells {others} mention google.colab (the Colab cell does that)"


def test_second_code_cell_imports_and_seeds(nb):
    name, book = nb
    code = _code_cells(book)
    assert len(code) >= 2, f"{name}: fewer than two code cells"
    src = code[1].source
    assert re.search(r"^\s*import\s[^\n]*\btorch\b", src, re.MULTILINE), f"{name}: no import torch"
    assert re.search(r"^\s*import\s[^\n]*\bmdiff\b", src, re.MULTILINE), f"{name}: no import mdiff"
    assert re.search(r"\btorch\.manual_seed\(\s*0\s*\)", src), f"{name}: no torch.manual_seed(0)"


def test_learning_goals_first(nb):
    name, book = nb
    cells = book.cells
    assert cells and cells[0].cell_type == "markdown", f"{name}: must start with a title cell"
    lines = cells[0].source.strip().splitlines()
    assert lines and re.match(r"^#\s+\S", lines[0]), f"{name}: first line is not a # title"
    rest = "\n".join(lines[1:]).strip()
    if not rest:  # the goals are in the next cell, which must be markdown
        after = cells[1].cell_type if len(cells) > 1 else "nothing"
        assert after == "markdown", f"{name}: the title is followed by {after}, not the goals"
        rest = cells[1].source.strip()
    first = rest.splitlines()[0] if rest else ""
    ok = LEARNING_GOALS.match(first) is not None
    assert ok, (
        f"{name}: the first content after the title must be a "
        f"```{{admonition}} Learning goals``` block, found {first!r}"
    )


def test_summary_heading(nb):
    name, book = nb
    text = "\n".join(c.source for c in book.cells if c.cell_type == "markdown")
    ok = SUMMARY.search(text) is not None
    assert ok, f"{name}: no 'Summary' heading"


def test_widget_outputs_removed_and_ignored(nb):
    name, book = nb
    bad = {
        k
        for k, cell, out in _outputs(book)
        if WIDGET_MIME in out.get("data", {})
        and not {"remove-output", "nbval-ignore-output"} <= set(cell.metadata.get("tags", []))
    }
    assert not bad, (
        f"{name}: cells {sorted(bad)} show a widget: tag remove-output and nbval-ignore-output"
    )


def test_animations_are_small(nb):
    name, book = nb
    big = [
        (k, len(html.encode()))
        for k, _, out in _outputs(book)
        if (html := "".join(out.get("data", {}).get("text/html", ""))) and "_anim_img" in html
        if len(html.encode()) >= MAX_ANIMATION_BYTES
    ]
    assert not big, f"{name}: animations (cell, bytes) over {MAX_ANIMATION_BYTES}: {big}"


def test_notebook_size(nb):
    name, _ = nb
    size = (ROOT / "chapters" / name).stat().st_size
    assert size < MAX_NOTEBOOK_BYTES, f"{name}: {size / 1e6:.2f} MB (limit 3 MB, aim < 1.5 MB)"


def test_no_stored_errors(nb):
    name, book = nb
    errors = [(k, out.get("ename")) for k, _, out in _outputs(book) if out.output_type == "error"]
    assert not errors, f"{name}: error outputs (cell, name): {errors}"


def test_execution_counts_in_order(nb):
    name, book = nb
    counts = [c.execution_count for c in _code_cells(book)]
    wrong = [(k, n) for k, n in enumerate(counts, start=1) if n != k]
    ok = not wrong
    assert ok, (
        f"{name}: execution counts are not 1..{len(counts)}: code cell {wrong[0][0]} has "
        f"{wrong[0][1]} ({len(wrong)} cells off); execute it top to bottom: "
        f"make execute NB=chapters/{name}"
    )


def test_figures_are_opaque(nb):
    """PNG figures have an opaque background (a transparent one vanishes in dark mode)."""
    from PIL import Image

    name, book = nb
    clear = []
    for k, _, out in _outputs(book):
        png = out.get("data", {}).get("image/png")
        if not png:
            continue
        image = Image.open(io.BytesIO(base64.b64decode(png)))
        if image.mode in {"RGBA", "LA", "P"}:
            rgba = image.convert("RGBA")
            w, h = rgba.size
            corners = [
                rgba.getpixel(p)[3] for p in [(0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1)]
            ]
            if min(corners) < 255:
                clear.append(k)
    assert not clear, f"{name}: cells {clear} have transparent figures (use mdiff.plotting.style())"


def _exercise_labels(book) -> list[tuple[int, str | None]]:
    found = []
    for k, cell in enumerate(book.cells):
        if cell.cell_type != "markdown":
            continue
        for block in EXERCISE.split(cell.source)[1:]:
            label = LABEL.search(block.split("\n\n")[0] + "\n")
            found.append((k, label.group(1) if label else None))
    return found


def _nbgrader(cell, grade_id: str, solution: bool) -> list[str]:
    meta = cell.metadata.get("nbgrader", {})
    want = {
        "grade_id": grade_id,
        "solution": solution,
        "grade": not solution,
        "locked": not solution,
        "task": False,
        "schema_version": 3,
    }
    problems = [
        f"nbgrader.{key} should be {value!r}"
        for key, value in want.items()
        if meta.get(key) != value
    ]
    if not solution and not meta.get("points"):
        problems.append("nbgrader.points missing")
    return problems


def test_exercises_have_gated_solutions_and_nbgrader_metadata(nb):
    """exercise → {solution-start} (dropdown) → solution cell → {solution-end} → check cell."""
    name, book = nb
    cells, problems = book.cells, []
    for k, label in _exercise_labels(book):
        if label is None:
            problems.append(f"cell {k}: exercise without :label:")
            continue
        start = next(
            (
                j
                for j in range(k, len(cells))
                if cells[j].cell_type == "markdown"
                and re.search(
                    rf"\{{solution-start\}}\s+{re.escape(label)}\s*$", cells[j].source, re.M
                )
            ),
            None,
        )
        if start is None:
            problems.append(f"{label}: no {{solution-start}} {label}")
            continue
        if ":class: dropdown" not in cells[start].source:
            problems.append(f"{label}: solution-start lacks ':class: dropdown'")
        seq = cells[start + 1 : start + 4]
        kinds = [c.cell_type for c in seq]
        if kinds != ["code", "markdown", "code"] or "{solution-end}" not in seq[1].source:
            problems.append(
                f"{label}: after solution-start expected: solution code cell, "
                "{solution-end}, check code cell"
            )
            continue
        solution, check = seq[0], seq[2]
        if "### BEGIN SOLUTION" not in solution.source or "### END SOLUTION" not in solution.source:
            problems.append(f"{label}: solution cell lacks ### BEGIN/END SOLUTION")
        problems += [
            f"{label} solution cell: {p}" for p in _nbgrader(solution, f"{label}-solution", True)
        ]
        problems += [f"{label} check cell: {p}" for p in _nbgrader(check, f"{label}-check", False)]
    ids = [c.metadata["nbgrader"]["grade_id"] for c in cells if "nbgrader" in c.metadata]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        problems.append(f"duplicate nbgrader grade_ids: {duplicates}")
    assert not problems, f"{name}:\n" + "\n".join(problems)


# ---------------------------------------------------------------------------------------
# the launch environment (Binder) matches the course


def test_binder_installs_cpu_torch_of_the_course():
    course = (ROOT / "requirements.txt").read_text()
    binder = (ROOT / "binder" / "requirements.txt").read_text()
    version = re.search(r"^torch==([\w.]+?)(?:\+cpu)?\s*$", course, re.MULTILINE)
    assert version, "requirements.txt pins no torch version"
    assert re.search(rf"^torch=={re.escape(version.group(1))}\+cpu\s*$", binder, re.MULTILINE)
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in binder
    for package in ["jupyterlab", "ipywidgets", "matplotlib", "scipy", "tqdm"]:
        assert re.search(rf"^{package}\b", binder, re.MULTILINE), f"binder lacks {package}"
    assert "--no-deps -e ." in (ROOT / "binder" / "postBuild").read_text()
