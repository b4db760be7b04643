"""The course tools in ``tools/``: executor, Colab-cell helper, instructors'-table generator.

Small real runs on temporary files: a three-cell notebook executed in a fresh kernel, the
Colab cell inserted into a tiny notebook, the tables generated from a small JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tools import chapter_table, colab_cell
from tools.execute import execute
from tools.execute import main as execute_main

ROOT = Path(__file__).resolve().parents[1]


def _notebook(*cells, minor: int = 5):
    nb = nbformat.v4.new_notebook(cells=list(cells))
    nb.nbformat_minor = minor
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    return nb


@pytest.mark.parametrize("module", ["tools.execute", "tools.colab_cell", "tools.chapter_table"])
def test_tools_run_as_modules(module):
    done = subprocess.run(
        [sys.executable, "-m", module, "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout


# --- the executor -------------------------------------------------------------------------


def test_execute_stores_outputs_time_and_memory(tmp_path, monkeypatch):
    path = tmp_path / "tiny.ipynb"
    nb = _notebook(
        nbformat.v4.new_markdown_cell("# A tiny notebook"),
        nbformat.v4.new_code_cell("import os\nx = 1 + 1"),
        nbformat.v4.new_code_cell("print(x, os.getcwd() == os.environ['EXPECTED_CWD'])"),
        nbformat.v4.new_code_cell("x * 3"),
    )
    nbformat.write(nb, path)
    monkeypatch.setenv("EXPECTED_CWD", str(tmp_path))  # inherited by the kernel
    monkeypatch.chdir(ROOT)  # the kernel must still run in the notebook's folder
    seconds, peak = execute(path, timeout=60)
    assert 0 < seconds < 60
    assert peak > 10 * 2**20  # a Python kernel's resident memory, in bytes
    done = nbformat.read(path, as_version=4)
    code = [c for c in done.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == [1, 2, 3]
    assert code[0].outputs == []
    assert code[1].outputs[0].output_type == "stream"
    assert code[1].outputs[0].text == "2 True\n"
    assert code[2].outputs[0].output_type == "execute_result"
    assert code[2].outputs[0].data["text/plain"] == "6"
    assert all("execution" not in c.metadata for c in code)  # no per-cell timing metadata
    before = path.read_bytes()
    monkeypatch.setenv("PYTHONHASHSEED", "0")  # main() sets both; restored after the test
    monkeypatch.delenv("MPLBACKEND", raising=False)
    assert execute_main([str(path)]) == 0
    assert path.read_bytes() == before  # re-running gives the same file


# --- the Colab-cell helper ------------------------------------------------------------------


PYPROJECT = '[project]\nname = "mdiff"\nversion = "{version}"\n\n[tool.x]\nversion = "9"\n'


def test_colab_source_installs_the_release_from_the_configured_repository(tmp_path):
    (tmp_path / "_config.yml").write_text("repository:\n  url: https://example.org/a/b/\n")
    (tmp_path / "pyproject.toml").write_text(PYPROJECT.format(version="1.2.3"))
    assert colab_cell.repository_url(tmp_path) == "https://example.org/a/b"
    assert colab_cell.package_version(tmp_path) == "1.2.3"
    assert colab_cell.release_tag(tmp_path) == "v1.2.3"
    source = colab_cell.colab_source(tmp_path)
    assert source.splitlines()[0].startswith(colab_cell.COLAB_COMMENT)
    assert '%pip install -q "mdiff @ git+https://example.org/a/b@v1.2.3"' in source
    assert 'if "google.colab" in sys.modules:' in source


def test_colab_source_of_the_book_pins_the_package_version():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    import mdiff

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert colab_cell.package_version() == version == mdiff.__version__
    url = colab_cell.repository_url()  # the book's own setting
    assert f'"mdiff @ git+{url}@v{version}"' in colab_cell.colab_source()


def test_package_version_without_tomllib(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text(PYPROJECT.format(version="0.4.0"))
    monkeypatch.setitem(sys.modules, "tomllib", None)  # as on Python 3.10
    assert colab_cell.package_version(tmp_path) == "0.4.0"


def test_colab_cell_detection():
    source = colab_cell.colab_source()
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["hide-input"]})
    assert colab_cell.is_colab_cell(cell, source)
    cell.source = "  " + source.replace("\n", "\n\n") + "\n"  # up to whitespace
    assert colab_cell.is_colab_cell(cell, source)
    assert not colab_cell.is_colab_cell(nbformat.v4.new_code_cell(source), source)  # no tag
    cell.outputs = [nbformat.v4.new_output("stream", text="installed\n")]
    assert not colab_cell.is_colab_cell(cell, source)  # outputs
    markdown = nbformat.v4.new_markdown_cell(source, metadata={"tags": ["hide-input"]})
    assert not colab_cell.is_colab_cell(markdown, source)


def test_colab_cell_insertion_is_idempotent():
    source = colab_cell.colab_source()
    nb = _notebook(
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell("import torch", execution_count=1),
        nbformat.v4.new_code_cell("if 'google.colab' in sys.modules:\n    pass"),
    )
    assert colab_cell.ensure_colab_cell(nb, source) == "inserted"
    assert [c.cell_type for c in nb.cells] == ["markdown", "code", "code", "code"]
    new = nb.cells[1]
    assert new.source == source and new.id == colab_cell.CELL_ID
    assert new.metadata["tags"] == ["hide-input"] and new.execution_count is None
    assert nb.cells[2].source == "import torch"  # the rest is unchanged
    assert colab_cell.ensure_colab_cell(nb, source) == "ok"
    assert len(nb.cells) == 4
    assert colab_cell.other_colab_cells(nb, source) == [3]  # reported, not edited
    nbformat.validate(nb)


def test_outdated_colab_cell_is_fixed_in_place():
    source = colab_cell.colab_source()
    old = nbformat.v4.new_code_cell("# Colab only: old text\n%pip install mdiff", execution_count=1)
    old.id, old.outputs = colab_cell.CELL_ID, [nbformat.v4.new_output("stream", text="x\n")]
    nb = _notebook(old, nbformat.v4.new_code_cell("import torch"))
    assert colab_cell.ensure_colab_cell(nb, source) == "fixed"
    assert len(nb.cells) == 2 and colab_cell.is_colab_cell(nb.cells[0], source)
    assert nb.cells[0].execution_count is None  # it had outputs: re-execute


def test_new_release_tag_rewrites_the_cell_without_re_execution(tmp_path):
    """A version bump changes only the tag; the cell keeps its count (it has no outputs)."""
    (tmp_path / "_config.yml").write_text("repository:\n  url: https://example.org/a/b\n")
    (tmp_path / "pyproject.toml").write_text(PYPROJECT.format(version="0.1.0"))
    old_source = colab_cell.colab_source(tmp_path)
    (tmp_path / "pyproject.toml").write_text(PYPROJECT.format(version="0.2.0"))
    new_source = colab_cell.colab_source(tmp_path)
    old = nbformat.v4.new_code_cell(old_source, execution_count=1)
    old.metadata["tags"] = ["hide-input"]
    nb = _notebook(old, nbformat.v4.new_code_cell("import torch", execution_count=2))
    assert not colab_cell.is_colab_cell(nb.cells[0], new_source)
    assert colab_cell.ensure_colab_cell(nb, new_source) == "fixed"
    assert colab_cell.is_colab_cell(nb.cells[0], new_source)
    assert [c.execution_count for c in nb.cells] == [1, 2]
    assert "@v0.2.0" in nb.cells[0].source


def test_colab_cell_without_ids_before_nbformat_4_5():
    nb = _notebook(nbformat.v4.new_code_cell("import torch"), minor=4)
    for cell in nb.cells:
        cell.pop("id", None)
    assert colab_cell.ensure_colab_cell(nb, colab_cell.colab_source()) == "inserted"
    assert "id" not in nb.cells[0]


def test_colab_cell_command_line(tmp_path, capsys):
    path = tmp_path / "01-x.ipynb"
    nbformat.write(_notebook(nbformat.v4.new_code_cell("import torch")), path)
    before = path.read_bytes()
    assert colab_cell.main(["--check", str(path)]) == 1
    assert path.read_bytes() == before  # --check changes nothing
    assert "would insert" in capsys.readouterr().out
    assert colab_cell.main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "1 notebook(s) changed" in out and "re-execute" in out  # an inserted, unrun cell
    assert colab_cell.main(["--check", str(path)]) == 0
    first = nbformat.read(path, as_version=4).cells[0]
    assert colab_cell.is_colab_cell(first, colab_cell.colab_source())


# --- the instructors'-table generator ----------------------------------------------------


def test_header_names_the_generator():
    generator = Path(chapter_table.__file__).resolve().relative_to(ROOT).as_posix()
    assert generator == "tools/chapter_table.py"
    assert f"generated by {generator};" in chapter_table.HEADER


RECORD = {
    "machine": {"cpu": "Test CPU", "cores": 2, "torch": "2.x", "load_average": [1.5, 1, 1]},
    "chapters": [
        {"chapter": "01-forward-reverse.ipynb", "seconds": 12.3, "peak_mib": 456,
         "budget_seconds": 120, "within_budget": True},
        {"chapter": "09-network-regularization.ipynb", "seconds": 310.0, "peak_mib": 500,
         "budget_seconds": 300, "within_budget": False},
        {"chapter": "02-score-matching.ipynb", "budget_seconds": 120, "error": "boom",
         "within_budget": False},
        {"notebook": "99-draft.ipynb", "seconds": 1.0, "peak_mb": 2100},
    ],
}  # fmt: skip


def test_times_table():
    lines = chapter_table.times_table(RECORD).splitlines()
    assert lines[2] == "| {doc}`01-forward-reverse` | 12 | 120 | 456 | yes |"
    assert lines[3] == "| {doc}`09-network-regularization` | 310 | 300 | 500 | **no** |"
    assert lines[4] == "| {doc}`02-score-matching` | failed | 120 | | **no** |"
    assert lines[5] == "| `99-draft` (not in the book yet) | 1 | 120 | 2100 | **no** |"
    assert lines[6] == "| all chapters | 323 | | | |"
    note = lines[-1]
    assert "Test CPU, 2 cores, torch 2.x, load average 1.5 at the start" in note
    assert "`python -m tools.chapter_table --measure`" in note
    assert note.endswith("so the times are pessimistic.")  # load > 1


GOALS = """# 1. Forward and reverse

```{admonition} Learning goals
:class: tip
After this chapter you can

- do one thing;
- do another.
```
"""


def test_tables_from_a_small_json(tmp_path, monkeypatch, capsys):
    notebook = tmp_path / "01-forward-reverse.ipynb"  # a chapter of _toc.yml
    nbformat.write(_notebook(nbformat.v4.new_markdown_cell(GOALS)), notebook)
    monkeypatch.setattr(chapter_table, "chapter_notebooks", lambda: [notebook])
    record = tmp_path / "times.json"
    out = tmp_path / "tables"
    out.mkdir()
    assert chapter_table.main(["--json", str(record), "--out", str(out)]) == 1  # no JSON yet
    assert "run with --measure first" in capsys.readouterr().err
    record.write_text(json.dumps({"machine": {}, "chapters": RECORD["chapters"][:1]}))
    assert chapter_table.main(["--json", str(record), "--out", str(out)]) == 0
    goals = (out / "_learning_goals.md").read_text()
    assert goals == (
        chapter_table.HEADER
        + "**{doc}`01-forward-reverse`**\n\nAfter this chapter you can\n\n"
        + "- do one thing;\n- do another.\n"
    )
    times = (out / "_chapter_times.md").read_text()
    assert times.startswith(chapter_table.HEADER + "| chapter | execution time (s) |")
    assert "| {doc}`01-forward-reverse` | 12 | 120 | 456 | yes |" in times
    assert sorted(p.name for p in out.iterdir()) == ["_chapter_times.md", "_learning_goals.md"]
