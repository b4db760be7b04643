"""Insert (or fix) the Colab install cell as the first code cell of chapter notebooks.

Usage: ``python tests/colab_cell.py [--check] NOTEBOOK ...`` (e.g. ``chapters/*.ipynb``).

The cell (TEAM.md, issue 9) installs ``mdiff`` from the repository of ``_config.yml``
(``repository.url``) when the notebook runs in Colab, and does nothing elsewhere, so it has
no outputs. It is tagged ``hide-input`` and has the fixed id ``colab-install``.

Idempotent: a notebook whose first code cell is already the Colab cell is left untouched
(not even rewritten); a first code cell that is an outdated Colab cell (id ``colab-install``
or starting with the Colab comment line) is replaced in place; otherwise the cell is
inserted just before the first code cell. Nothing else of the notebook changes: another cell
that installs packages in Colab (e.g. inside the imports cell) is reported, not edited.
The new cell is unexecuted (``execution_count`` null): re-execute the notebook
(``make execute``) so that the execution counts are in order again.
``--check`` changes nothing and exits with status 1 if a notebook would change.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
CELL_ID = "colab-install"
TAGS = ["hide-input"]
TEMPLATE = "\n".join(
    [
        "# Colab only: install the course package from its repository (Colab already has torch).",
        "import sys",
        "",
        'if "google.colab" in sys.modules:',
        '    %pip install -q "mdiff @ git+{url}"',
    ]
)


def repository_url(root: Path = ROOT) -> str:
    """The one repository setting of the book (``_config.yml`` → ``repository.url``)."""
    config = yaml.safe_load((root / "_config.yml").read_text())
    return config["repository"]["url"].rstrip("/")


def colab_source(root: Path = ROOT) -> str:
    """The exact source of the Colab cell."""
    return TEMPLATE.format(url=repository_url(root))


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


def _outdated_colab_cell(cell, source: str) -> bool:
    first_line = source.splitlines()[0]
    return cell.get("id") == CELL_ID or cell.source.lstrip().startswith(first_line)


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
        cell.source, cell.outputs, cell.execution_count = source, [], None
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
    changed = 0
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
        status = ensure_colab_cell(nb, source)
        if status != "ok":
            changed += 1
            if not args.check:
                nbformat.write(nb, path)
        verb = {"ok": "ok", "fixed": "would fix", "inserted": "would insert"}[status]
        print(f"{path}: {status if not args.check else verb}")
        for k in other_colab_cells(nb, source):
            print(f"{path}: warning: cell {k} also mentions google.colab; remove its install code")
    if changed and not args.check:
        print(f"{changed} notebook(s) changed: re-execute them (make execute) to renumber cells")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
