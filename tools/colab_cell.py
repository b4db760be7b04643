"""Insert (or fix) the Colab install cell as the first code cell of chapter notebooks.

Usage: ``python -m tools.colab_cell [--check] NOTEBOOK ...`` (e.g. ``chapters/*.ipynb``).

The cell installs ``mdiff`` from the repository of ``_config.yml`` (``repository.url``) at
the release tag ``vX.Y.Z`` of the package version in ``pyproject.toml``, when the notebook
runs in Colab, and does nothing elsewhere, so it has no outputs. It is tagged ``hide-input``
and has the fixed id ``colab-install``.

Why a tag: a notebook cannot name the commit it is stored in, but it can name the release
it belongs to before the tag exists. ``make release`` (``tools/release.py``) refuses to tag
``vX.Y.Z`` unless every chapter's Colab cell installs ``vX.Y.Z``, so the notebooks of a
release install exactly that release's package, never a later default branch. After a
version bump, rewrite the cells with ``python -m tools.colab_cell chapters/*.ipynb``.

Idempotent: a notebook whose first code cell is already the Colab cell is left untouched
(not even rewritten); a first code cell that is an outdated Colab cell (id ``colab-install``
or starting with the Colab comment line) is replaced in place; otherwise the cell is
inserted just before the first code cell. Nothing else of the notebook changes: another cell
that installs packages in Colab (e.g. inside the imports cell) is reported, not edited.
An inserted cell is unexecuted (``execution_count`` null): re-execute the notebook
(``make execute``) so that the execution counts are in order again. A Colab cell fixed in
place keeps its execution count when it had no outputs (the new cell has none either, outside
Colab), so a new version tag needs no re-execution.
``--check`` changes nothing and exits with status 1 if a notebook would change.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
CELL_ID = "colab-install"
TAGS = ["hide-input"]
TEMPLATE = "\n".join(
    [
        "# Colab only: install the course package of this notebook's release (Colab has torch).",
        "import sys",
        "",
        'if "google.colab" in sys.modules:',
        '    %pip install -q "mdiff @ git+{url}@{tag}"',
    ]
)


def repository_url(root: Path = ROOT) -> str:
    """The one repository setting of the book (``_config.yml`` → ``repository.url``)."""
    config = yaml.safe_load((root / "_config.yml").read_text())
    return config["repository"]["url"].rstrip("/")


def package_version(root: Path = ROOT) -> str:
    """``[project] version`` of ``pyproject.toml`` (the one version of the course)."""
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the first `version = "..."` of [project]
        project = text.split("[project]", 1)[1].split("\n[", 1)[0]
        return re.search(r'^version\s*=\s*"([^"]+)"', project, re.MULTILINE).group(1)
    return tomllib.loads(text)["project"]["version"]


def release_tag(root: Path = ROOT) -> str:
    """The git tag of the package version: ``vX.Y.Z``."""
    return f"v{package_version(root)}"


def colab_source(root: Path = ROOT) -> str:
    """The exact source of the Colab cell."""
    return TEMPLATE.format(url=repository_url(root), tag=release_tag(root))


def normalized(source: str) -> str:
    """Source with all whitespace runs collapsed (the comparison is up to whitespace)."""
    return " ".join(source.split())


def is_colab_cell(cell, source: str) -> bool:
    """True if ``cell`` is exactly the Colab cell: source, hide-input tag, no outputs."""
    return (
        cell.cell_type == "code"
        and normalized(cell.source) == normalized(source)
        and all(tag in cell.metadata.get("tags", []) for tag in TAGS)
        and not cell.get("outputs")
    )


COLAB_COMMENT = "# Colab only:"


def _outdated_colab_cell(cell, source: str) -> bool:
    return cell.get("id") == CELL_ID or cell.source.lstrip().startswith(COLAB_COMMENT)


def other_colab_cells(nb, source: str) -> list[int]:
    """Indices of cells other than the Colab cell that mention ``google.colab``."""
    return [
        k
        for k, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        and "google.colab" in cell.source
        and not is_colab_cell(cell, source)
    ]


def ensure_colab_cell(nb, source: str) -> str:
    """Insert or fix the Colab cell in ``nb`` (in place); return "ok", "fixed" or "inserted"."""
    code = [k for k, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    if code and is_colab_cell(nb.cells[code[0]], source):
        return "ok"
    if code and _outdated_colab_cell(nb.cells[code[0]], source):
        cell = nb.cells[code[0]]
        if cell.get("outputs"):
            cell.execution_count = None
        cell.source, cell.outputs = source, []
        tags = cell.metadata.setdefault("tags", [])
        tags += [tag for tag in TAGS if tag not in tags]
        return "fixed"
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": list(TAGS)})
    if nb.nbformat == 4 and nb.nbformat_minor >= 5:
        taken = {c.get("id") for c in nb.cells}
        cell.id = CELL_ID if CELL_ID not in taken else cell.id
    else:
        cell.pop("id", None)  # cell ids exist from nbformat 4.5 on
    nb.cells.insert(code[0] if code else len(nb.cells), cell)
    return "inserted"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if needed")
    args = parser.parse_args(argv)
    source = colab_source()
    changed = unexecuted = 0
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
        status = ensure_colab_cell(nb, source)
        if status != "ok":
            changed += 1
            first = next(c for c in nb.cells if c.cell_type == "code")
            unexecuted += first.execution_count is None
            if not args.check:
                nbformat.write(nb, path)
        verb = {"ok": "ok", "fixed": "would fix", "inserted": "would insert"}[status]
        print(f"{path}: {status if not args.check else verb}")
        for k in other_colab_cells(nb, source):
            print(f"{path}: warning: cell {k} also mentions google.colab; remove its install code")
    if changed and not args.check:
        print(f"{changed} notebook(s) changed")
        if unexecuted:
            print(f"{unexecuted} of them with an unexecuted cell: re-execute them (make execute)")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
