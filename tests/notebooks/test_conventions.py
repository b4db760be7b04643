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


KINDS = ("kind-derive", "kind-predict", "kind-measure", "kind-debug", "kind-implement")
CLASS = re.compile(r"^:class:\s*(.+?)\s*$", re.MULTILINE)


def _exercises(book) -> list[tuple[int, str | None, str | None]]:
    """``(cell index, label, kind)`` of every ``{exercise}`` of a notebook."""
    found = []
    for k, cell in enumerate(book.cells):
        if cell.cell_type != "markdown":
            continue
        for block in EXERCISE.split(cell.source)[1:]:
            head = block.split("\n\n")[0] + "\n"
            label, classes = LABEL.search(head), CLASS.search(head)
            kinds = [c for c in (classes.group(1).split() if classes else []) if c in KINDS]
            found.append((k, label.group(1) if label else None, kinds[0] if kinds else None))
    return found


def _nbgrader(cell, grade_id: str, kind: str) -> list[str]:
    """Problems with the nbgrader metadata of a ``kind`` cell: "solution" (code the student
    writes), "answer" (a written answer, graded by hand) or "check" (autograded, locked)."""
    meta = cell.metadata.get("nbgrader", {})
    want = {
        "grade_id": grade_id,
        "solution": kind != "check",
        "grade": kind != "solution",
        "locked": kind == "check",
        "task": False,
        "schema_version": 3,
    }
    problems = [
        f"nbgrader.{key} should be {value!r}"
        for key, value in want.items()
        if meta.get(key) != value
    ]
    if kind != "solution" and not meta.get("points"):
        problems.append("nbgrader.points missing")
    return problems


def _span(cells, start: int) -> int | None:
    """Index of the ``{solution-end}`` cell that closes the span opened at ``start``."""
    return next(
        (j for j in range(start + 1, len(cells)) if "{solution-end}" in cells[j].source), None
    )


def _graded_exercise(cells, k: int, label: str) -> list[str]:
    """exercise -> {solution-start} (dropdown) -> [written answer] -> [solution code] ->
    {solution-end} -> [check cells]; at least one graded cell."""
    start = next(
        (
            j
            for j in range(k, len(cells))
            if cells[j].cell_type == "markdown"
            and re.search(rf"\{{solution-start\}}\s+{re.escape(label)}\s*$", cells[j].source, re.M)
        ),
        None,
    )
    if start is None:
        return [f"{label}: no {{solution-start}} {label}"]
    problems = [] if ":class: dropdown" in cells[start].source else [
        f"{label}: solution-start lacks ':class: dropdown'"
    ]  # fmt: skip
    end = _span(cells, start)
    if end is None:
        return [*problems, f"{label}: its solution span is not closed"]
    graded = 0
    for j, cell in enumerate(cells[start + 1 : end], start + 1):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if cell.cell_type == "markdown" and cell.metadata.get("nbgrader"):
            problems += [f"{label} answer cell: {p}" for p in _nbgrader(cell, grade_id, "answer")]
            problems += [] if grade_id == f"{label}-answer" else [f"cell {j}: id {grade_id!r}"]
            graded += 1
        elif cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
            if "### BEGIN SOLUTION" not in cell.source or "### END SOLUTION" not in cell.source:
                problems.append(f"{label}: solution cell {j} lacks ### BEGIN/END SOLUTION")
            problems += [
                f"{label} solution {j}: {p}" for p in _nbgrader(cell, grade_id, "solution")
            ]
            if not re.fullmatch(rf"{re.escape(label)}-solution(-\d+)?", grade_id):
                problems.append(f"{label}: solution cell {j} has grade_id {grade_id!r}")
    for j in range(end + 1, len(cells)):
        meta = cells[j].metadata.get("nbgrader", {})
        if cells[j].cell_type != "code" or not meta.get("grade") or meta.get("solution"):
            break
        problems += [
            f"{label} check {j}: {p}" for p in _nbgrader(cells[j], meta["grade_id"], "check")
        ]
        if not re.fullmatch(rf"{re.escape(label)}-check(-\d+)?", meta["grade_id"]):
            problems.append(f"{label}: check cell {j} has grade_id {meta['grade_id']!r}")
        graded += 1
    return problems + ([] if graded else [f"{label}: neither a check nor a graded answer"])


def _predict_exercise(cells, k: int, label: str) -> list[str]:
    """A prediction: its answer is a dropdown after it, before the next exercise."""
    for cell in cells[k + 1 :]:
        if cell.cell_type == "markdown" and EXERCISE.search(cell.source):
            break
        if cell.cell_type == "markdown" and re.search(r"^:class:.*\bdropdown\b", cell.source, re.M):
            return []
    return [f"{label}: a prediction needs its answer in a dropdown after the experiment"]


def test_exercises_have_gated_solutions_and_nbgrader_metadata(nb):
    """Every exercise has a label and a kind; a prediction is answered in a dropdown; every
    other exercise has a dropdown solution span (written answer, solution code) and checks."""
    name, book = nb
    cells, problems = book.cells, []
    for k, label, kind in _exercises(book):
        if label is None:
            problems.append(f"cell {k}: exercise without :label:")
        elif kind is None:
            problems.append(f"{label}: no kind (:class: one of {', '.join(KINDS)})")
        elif kind == "kind-predict":
            problems += _predict_exercise(cells, k, label)
        else:
            problems += _graded_exercise(cells, k, label)
            answered = any(c.metadata.get("nbgrader", {}).get("grade_id") == f"{label}-answer"
                           for c in cells)  # fmt: skip
            if kind == "kind-derive" and not answered:
                problems.append(f"{label}: a derivation needs a written model answer")
    ids = [c.metadata["nbgrader"]["grade_id"] for c in cells if "nbgrader" in c.metadata]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        problems.append(f"duplicate nbgrader grade_ids: {duplicates}")
    assert not problems, f"{name}:\n" + "\n".join(problems)


CHAPTERS = [p for p in NOTEBOOKS if re.match(r"\d\d-", p.name)]


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_two_to_four_exercises_and_one_that_is_not_a_transcription(path):
    found = [(label, kind) for _, label, kind in _exercises(_load(path))]
    own = [(label, kind) for label, kind in found if label and "-assignment-" not in label]
    assert 2 <= len(own) <= 4, f"{path.name}: {len(own)} exercises besides an assignment"
    assert any(kind != "kind-implement" for _, kind in own), f"{path.name}: only transcriptions"


def test_one_multi_part_assignment_per_part():
    """Parts I-IV of _toc.yml hold one assignment each: 3-5 parts, each with points."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    for part in [p for p in toc["parts"] if p["caption"].startswith("Part ")]:
        labels, points = [], {}
        for chapter in part["chapters"]:
            book = _load(ROOT / f"{chapter['file']}.ipynb")
            labels += [lab for _, lab, _ in _exercises(book) if "-assignment-" in (lab or "")]
            for cell in book.cells:
                meta = cell.metadata.get("nbgrader", {})
                if "-assignment-" in meta.get("grade_id", "") and meta.get("grade"):
                    part_label = _PART_ID.sub("", meta["grade_id"])
                    points[part_label] = points.get(part_label, 0) + meta.get("points", 0)
        assert 3 <= len(labels) <= 5, f"{part['caption']}: assignment parts {labels}"
        assert len({label.rsplit("-", 1)[0] for label in labels}) == 1, labels
        assert all(points.get(label, 0) > 0 for label in labels), (part["caption"], points)


_PART_ID = re.compile(r"-(?:solution|check|answer)(?:-\d+)?$")


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


LIST_START = re.compile(r"^\s*(?:[-+*]|\d+[.)])\s")


def _lines_inside_inline_maths(source: str):
    """Lines that begin while a ``$...$`` of the previous line is still open (fences and
    display maths skipped)."""
    inside, fenced = False, False
    for number, line in enumerate(source.splitlines(), 1):
        if re.match(r"\s*(?:`{3,}|~{3,})", line):
            fenced = not fenced
            continue
        if fenced or line.strip().startswith("$$"):
            continue
        if inside:
            yield number, line
        inside ^= line.replace("\\$", "").replace("$$", "").count("$") % 2 == 1


def test_no_list_marker_inside_inline_maths(nb):
    """A source line inside ``$...$`` that starts with ``- ``, ``+ ``, ``* `` or ``1. `` makes
    Markdown start a list and the TeX render raw (chapter 2's ISM proof did): break it elsewhere."""
    name, book = nb
    bad = [
        f"cell {k}, line {n}: {line.strip()[:60]!r}"
        for k, cell in enumerate(book.cells)
        if cell.cell_type == "markdown"
        for n, line in _lines_inside_inline_maths(cell.source)
        if LIST_START.match(line)
    ]
    assert not bad, f"{name}:\n" + "\n".join(bad)
