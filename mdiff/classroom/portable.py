"""Portable Markdown: the chapters' MyST as plain Markdown for Colab, Jupyter and nbgrader.

The book renders MyST (sphinx-exercise, sphinx-proof, roles such as ``{cite:t}``); Colab and
plain Jupyter show it as raw text. The student versions and nbgrader sources are therefore
converted (:func:`portable_notebook`), with the numbers the book gives:

- an exercise becomes ``### Exercise 4.2 — title`` and its text; a theorem, proof or definition
  a bold label (``**Theorem 4.1 (title).**``) and its text; an admonition a blockquote, or a
  ``<details>`` block if it is a dropdown; a ``{literalinclude}`` the included source;
- ``{eq}`` becomes the equation's number ``(4.1)`` (labelled display maths gets ``\\tag{4.1}``),
  ``{prf:ref}``/``{ref}``/``{numref}`` the item's name (``Theorem 4.3``, ``Fig. 5.2``, a section
  title), ``{term}`` its text, ``{doc}`` a link to the page of the published book, and a citation
  ``Author (year)`` (``{cite:t}``) or ``(Author, year)`` linking to the book's bibliography page.

The numbers come from :class:`~.book.Book` (``book.py``), which reads the book's ``_toc.yml``
and numbers exercises, each kind of theorem, labelled equations and figures per chapter as
Sphinx does (a test compares them with the built HTML). Anything the converter does not know
raises ``ValueError`` rather than reaching a student as raw MyST.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from .book import (
    _EQ_LABEL,
    _EXPLICIT,
    _OPEN,
    _ROLE,
    _TARGET,
    PROOF_KINDS,
    Book,
    _options,
    _read_page,
    find_root,
    number_items,
    read_book,
)
from .student import _blocks

ADMONITIONS = {"note": "Note", "tip": "Tip", "important": "Important", "warning": "Warning"}
#: MyST that must not reach a student: a role, or a directive fence.
_LEFTOVER = re.compile(r"\{[a-z][\w-]*(?::[\w-]+)?\}`|^[ \t>]*(?:`{3,}|~{3,}|:{3,})\{", re.M)


@dataclass
class Page:
    """Where a text is converted: the page's docname (``chapters/04-...``), the directory of its
    file (for ``{literalinclude}``) and the :class:`Book`."""

    docname: str
    folder: Path
    book: Book
    root: Path | None = None


def to_markdown(source: str, page: Page) -> str:
    """``source`` (MyST) as portable Markdown (module docstring). Raises ``ValueError`` for a
    directive or role it does not know, and if any MyST would remain."""
    out, prose = [], []  # roles may span lines: convert runs of prose lines at once
    for name, lines in _blocks(source):
        if name is None:
            line = lines[0]
            if _TARGET.fullmatch(re.sub(r"^[ \t]*(?:>[ \t]?)*", "", line)):
                continue
            equation = _EQ_LABEL.search(line)
            if equation:
                number = page.book.label(equation.group(1)).strip("()")
                line = line[: equation.start()] + f"\\tag{{{number}}} $$"
            prose.append(line)
            continue
        out += _roles("\n".join(prose), page).split("\n") if prose else []
        prose = []
        out += lines if name == "" else _directive(name, lines, page)
    out += _roles("\n".join(prose), page).split("\n") if prose else []
    text = "\n".join(out)
    leftover = _LEFTOVER.search(text)
    if leftover:
        line = text[: leftover.start()].count("\n") + 1
        raise ValueError(
            f"line {line}: MyST left after conversion: {text.splitlines()[line - 1]!r}"
        )
    return text


def _directive(name: str, lines: list[str], page: Page) -> list[str]:
    """A fenced directive (its opening line, body and closing fence) as Markdown lines."""
    prefix = re.match(r"[ \t]*(?:>[ \t]?)*", lines[0]).group(0)
    lines = [
        line[len(prefix) :] if line.startswith(prefix) else line.lstrip(" >") for line in lines
    ]
    title = _roles(_OPEN.fullmatch(lines[0]).group(3).strip(), page)
    options = _options(lines[1:-1])
    body = to_markdown("\n".join(lines[1 + len(options) : -1]).strip("\n"), page).splitlines()
    kind = name.removeprefix("prf:")
    if name in ("solution", "solution-start", "solution-end"):
        out = []
    elif name == "exercise":
        number = page.book.label(options["label"]) if "label" in options else "Exercise"
        out = [f"### {number} — {title}" if title else f"### {number}", "", *body]
    elif name.startswith("prf:") and (kind in PROOF_KINDS or kind == "proof"):
        out = _labelled(_proof_label(kind, title, options, page), body, proof=kind == "proof")
    elif name == "admonition" or name in ADMONITIONS:
        heading = title or ADMONITIONS[name]
        if "dropdown" in options.get("class", "").split():
            out = ["<details>", f"<summary>{heading}</summary>", "", *body, "", "</details>"]
        else:
            out = [f"> **{heading}**", ">", *[f"> {x}" if x.strip() else ">" for x in body]]
    elif name == "literalinclude":
        out = _included(lines[0], options, page)
    else:
        raise ValueError(f"no portable form for the directive {{{name}}}: {lines[0].strip()!r}")
    return [prefix + x if x else prefix.rstrip() for x in out]


def _proof_label(kind: str, title: str, options: dict, page: Page) -> str:
    if kind == "proof":
        return "Proof."
    number = page.book.label(options["label"]) if "label" in options else kind.capitalize()
    return f"{number} ({title})." if title else f"{number}."


def _labelled(label: str, body: list[str], proof: bool) -> list[str]:
    """``**label** text``: the label runs into the first line unless that opens a block."""
    body = list(body) or [""]
    if proof:
        body[-1] = (
            (body[-1] + " ∎") if body[-1].strip() and not body[-1].startswith("$$") else body[-1]
        )
        if body[-1].startswith("$$"):
            body.append("∎")
    first = body[0]
    if first.strip() and not re.match(r"\s*(\$\$|[-*+] |\d+\. |#|>|```|<)", first):
        return [f"**{label}** {first}", *body[1:]]
    return [f"**{label}**", "", *body]


def _included(opening: str, options: dict, page: Page) -> list[str]:
    """A ``{literalinclude}`` as a link to the source in the repository (with the object's
    lines) and how to print it: the included code may be an exercise's answer, which a
    student version must not show."""
    path = (page.folder / _OPEN.fullmatch(opening).group(3).strip()).resolve()
    if not path.is_file():
        raise ValueError(f"{{literalinclude}}: no file {path}")
    name, anchor = path.name, ""
    if "pyobject" in options:
        first, last = _pyobject(path.read_text(encoding="utf-8"), options["pyobject"], path)
        name, anchor = f"{options['pyobject']} in {path.name}", f"#L{first}-L{last}"
    where = path.relative_to(page.root).as_posix() if page.root else path.name
    shown = f"`{name}`"
    if page.book.source_url:
        shown = f"[{shown}]({page.book.source_url}{where}{anchor})"
    return [
        f"*The book shows the source of {shown} here; read it in the repository, or print it"
        " in a cell with `import inspect` and `print(inspect.getsource(...))`.*"
    ]


def _pyobject(text: str, dotted: str, path: Path) -> tuple[int, int]:
    """First and last line of ``dotted`` (a function, class or method) in the source ``text``."""
    nodes = ast.parse(text).body
    for part in dotted.split("."):
        found = [n for n in nodes if getattr(n, "name", None) == part]
        if not found:
            raise ValueError(f"{{literalinclude}}: {path.name} has no {dotted!r}")
        node, nodes = found[0], getattr(found[0], "body", [])
    start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    return start, node.end_lineno


def _roles(line: str, page: Page) -> str:
    """The roles of a line as text and links."""
    return _ROLE.sub(lambda m: _role(m.group(1), m.group(2), page), line)


def _role(role: str, content: str, page: Page) -> str:
    explicit = _EXPLICIT.fullmatch(content)
    text, target = (explicit.group(1), explicit.group(2)) if explicit else (None, content.strip())
    if role == "term":
        return text or target
    if role in ("eq", "prf:ref", "ref", "numref"):
        shown = page.book.label(target)
        if role == "numref" and text:
            return text.replace("%s", shown.split()[-1]).replace("{number}", shown.split()[-1])
        return text or shown
    if role == "doc":
        docname = _docname(target, page.docname)
        title = text or page.book.titles.get(docname) or target
        return f"[{title}]({page.book.url}{docname}.html)" if page.book.url else title
    if role in ("cite", "cite:p", "cite:t"):
        return _citation(role, [k.strip() for k in content.split(",")], page.book)
    raise ValueError(f"no portable form for the role {{{role}}}`{content}`")


def _docname(target: str, current: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    parts = current.split("/")[:-1]
    for piece in target.split("/"):
        if piece == "..":
            parts = parts[:-1]
        elif piece != ".":
            parts.append(piece)
    return "/".join(parts)


def _citation(role: str, keys: list[str], book: Book) -> str:
    found = []
    for key in keys:
        if key not in book.citations:
            if book.strict:
                raise ValueError(f"unknown citation {key!r} (not in the bibliography)")
            found.append((key, "n.d."))
        else:
            found.append(book.citations[key])
    url = f"{book.url}chapters/bibliography.html" if book.url else ""

    def link(text: str) -> str:
        return f"[{text}]({url})" if url else text

    if role == "cite:t":
        return "; ".join(link(f"{a} ({y})") for a, y in found)
    return "(" + "; ".join(link(f"{a}, {y}") for a, y in found) + ")"


def page_of(path, book: Book | None = None) -> Page:
    """The :class:`Page` of a notebook file: in its book (``_toc.yml`` above it) if there is
    one, else alone, numbered with the chapter number its file name starts with."""
    path = Path(path).resolve()
    root = find_root(path.parent)
    if book is None and root is not None and (root / "_config.yml").is_file():
        book = read_book(root)
    docname = path.relative_to(root).with_suffix("").as_posix() if root else path.stem
    if book is None or docname not in book.titles:
        chapter = re.match(r"\d+", path.name)
        markdown, code = _read_page(path.parent, path.stem)
        labels, title = number_items(
            markdown, code, str(int(chapter.group(0))) if chapter else None
        )
        book = Book(labels=labels, titles={docname: title or docname})
    return Page(docname, path.parent, book, root)


def portable_notebook(nb, page: Page):
    """``nb`` with every markdown cell in portable Markdown (:func:`to_markdown`); cells left
    empty (a solution's wrappers) are dropped. ``nb`` is changed and returned."""
    cells = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            try:
                cell.source = to_markdown(cell.source, page)
            except ValueError as err:
                raise ValueError(f"{page.docname}, cell {index}: {err}") from err
            if not cell.source.strip():
                continue
        cells.append(cell)
    nb.cells = cells
    return nb
