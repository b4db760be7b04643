"""The numbers, titles and citations of the book, as the student versions show them.

:func:`read_book` reads a Jupyter Book's ``_toc.yml``, numbers the labelled items of each page
as Sphinx does (exercises, each sphinx-proof kind, labelled equations and figures, one counter
each per chapter; a test compares them with the built HTML), and reads the bibliography, so that
:mod:`.portable` can write "Exercise 4.2", "(4.1)" or "Baptista et al. (2025)" where the book
shows them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

#: sphinx-proof directives, shown as a bold label (``prf:proof`` is unnumbered).
PROOF_KINDS = ("theorem", "proposition", "lemma", "corollary", "definition", "remark", "example")
_ROLE = re.compile(r"\{([a-z][\w-]*(?::[\w-]+)?)\}`([^`]+)`")
_EXPLICIT = re.compile(r"(.*?)\s*<([^<>]+)>\s*$", re.S)
_OPEN = re.compile(r"[ \t]*(`{3,}|~{3,}|:{3,})\{([\w:-]+)\}[ \t]*(.*)")
_OPTION = re.compile(r"[ \t]*:([\w-]+):[ \t]*(.*)")
_EQ_LABEL = re.compile(r"\$\$[ \t]*\(([\w:-]+)\)[ \t]*$")
_TARGET = re.compile(r"[ \t]*\(([\w:-]+)\)=[ \t]*$")
_HEADING = re.compile(r"[ \t]*#{1,6}[ \t]+(.*?)[ \t]*$")
_ACCENTS = {
    '"': "\u0308",
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    "~": "\u0303",
    "c": "\u0327",
}


@dataclass
class Book:
    """Numbers, titles and citations of a book, for :func:`to_markdown`.

    ``labels`` maps a label to what a reference to it shows (``"Exercise 4.2"``, ``"(4.1)"``,
    ``"Fig. 4.2"``, a section title), ``source_url`` the repository's files on the web,
    ``titles`` a page (``"chapters/04-..."``) to its title,
    ``citations`` a BibTeX key to ``(authors, year)``. ``strict``: an unknown label raises (a
    book read from its ``_toc.yml``); otherwise the label itself is shown.
    """

    url: str = ""
    source_url: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    citations: dict[str, tuple[str, str]] = field(default_factory=dict)
    strict: bool = False

    def label(self, name: str) -> str:
        if name in self.labels:
            return self.labels[name]
        if self.strict:
            raise ValueError(f"unknown label {name!r} (not defined in any page of the book)")
        return name


def find_root(path) -> Path | None:
    """The nearest directory at or above ``path`` that holds a ``_toc.yml``, or None."""
    path = Path(path).resolve()
    for folder in [path, *path.parents]:
        if (folder / "_toc.yml").is_file():
            return folder
    return None


def _toc_pages(root: Path) -> list[tuple[str, str | None]]:
    """``(docname, chapter number or None)`` of every page of ``_toc.yml``, in order."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    pages, number = [(toc["root"], None)], 0
    for part in toc.get("parts", []):
        for chapter in part.get("chapters", []):
            if part.get("numbered"):
                number += 1
            pages.append((chapter["file"], str(number) if part.get("numbered") else None))
    return pages


def _read_page(root: Path, docname: str) -> tuple[list[str], list[dict]]:
    """The markdown sources of a page and the metadata of its code cells."""
    for suffix in (".ipynb", ".md"):
        path = root / (docname + suffix)
        if path.is_file():
            break
    else:
        raise ValueError(f"_toc.yml lists {docname!r}, but there is no .ipynb or .md file")
    if suffix == ".md":
        return [path.read_text(encoding="utf-8")], []
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    text = ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
    return text, [c.get("metadata", {}) for c in cells if c["cell_type"] == "code"]


def number_items(markdown: list[str], code_metadata: list[dict], chapter: str | None):
    """``(labels, title)`` of one page: what references to its labelled items show, as Sphinx
    numbers them (exercises, each sphinx-proof kind, labelled equations and figures, each with
    its own counter per chapter), and the page's first heading."""
    counts, labels, title = {}, {}, None

    def numbered(kind: str) -> str:
        counts[kind] = counts.get(kind, 0) + 1
        return f"{chapter}.{counts[kind]}" if chapter else str(counts[kind])

    for text in markdown:
        lines = text.splitlines()
        for i, line in enumerate(lines):
            body = re.sub(r"^[ \t]*(?:>[ \t]?)*", "", line)
            heading, target = _HEADING.fullmatch(body), _TARGET.fullmatch(body)
            opening, equation = _OPEN.fullmatch(body), _EQ_LABEL.search(body)
            if heading and title is None:
                title = _plain(heading.group(1))
            if target:
                after = next((x for x in lines[i + 1 :] if x.strip()), "")
                found = _HEADING.fullmatch(after.lstrip("> "))
                labels[target.group(1)] = _plain(found.group(1)) if found else target.group(1)
            if equation:
                labels[equation.group(1)] = f"({numbered('equation')})"
            kind = opening.group(2).removeprefix("prf:") if opening else None
            if kind == "exercise" or kind in PROOF_KINDS:
                name = f"{kind.capitalize()} {numbered(kind)}"
                label = _options(lines[i + 1 :]).get("label")
                if label:
                    labels[label] = name
    figures = [m.get("mystnb", {}).get("figure", {}) for m in code_metadata]
    for figure in (f for f in figures if f):
        name = f"Fig. {numbered('figure')}"
        if figure.get("name"):
            labels[figure["name"]] = name
    return labels, title


def _options(lines: list[str]) -> dict[str, str]:
    """The ``:name: value`` option lines at the start of a directive's body."""
    options = {}
    for line in lines:
        match = _OPTION.fullmatch(re.sub(r"^[ \t]*(?:>[ \t]?)*", "", line))
        if match is None:
            break
        options[match.group(1)] = match.group(2).strip()
    return options


def read_book(root) -> Book:
    """The :class:`Book` of the Jupyter Book in ``root`` (its ``_toc.yml``, ``_config.yml``
    and ``references.bib``); strict about labels."""
    import yaml

    root = Path(root)
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    repository = config["repository"]
    book = Book(url=_pages_url(repository["url"]), strict=True)
    branch = repository.get("branch", "main")
    book.source_url = f"{repository['url'].rstrip('/')}/blob/{branch}/"
    for docname, chapter in _toc_pages(root):
        markdown, code = _read_page(root, docname)
        labels, title = number_items(markdown, code, chapter)
        book.labels.update(labels)
        book.titles[docname] = title or docname
    for bib in config.get("bibtex_bibfiles", []):
        book.citations.update(read_bibliography((root / bib).read_text(encoding="utf-8")))
    return book


def _pages_url(repository: str) -> str:
    """``https://owner.github.io/REPO/`` for ``https://github.com/OWNER/REPO`` (GitHub Pages;
    the same rule as ``_ext/book_url.py``)."""
    parts = [p for p in repository.strip().split("/") if p][-2:]
    owner, repo = parts[0], parts[1].removesuffix(".git")
    host = f"{owner.lower()}.github.io"
    return f"https://{host}/" if repo.lower() == host else f"https://{host}/{repo}/"


def read_bibliography(text: str) -> dict[str, tuple[str, str]]:
    """``{key: (authors, year)}`` of a BibTeX file, authors as the book cites them
    (``Vincent``, ``Song and Ermon``, ``Baptista et al.``)."""
    entries = {}
    for match in re.finditer(r"@\w+\s*\{\s*([^,\s]+)\s*,", text):
        end = _matching_brace(text, match.start() + match.group(0).index("{"))
        fields = _fields(text[match.end() : end])
        names = _split_authors(fields.get("author", fields.get("editor", "")))
        if len(names) > 2:
            authors = f"{names[0]} et al."
        else:
            authors = " and ".join(names)
        entries[match.group(1)] = (authors or match.group(1), fields.get("year", "n.d."))
    return entries


def _matching_brace(text: str, start: int) -> int:
    depth = 0
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return i
    raise ValueError(f"unbalanced braces in the BibTeX entry at {text[start : start + 40]!r}")


def _fields(body: str) -> dict[str, str]:
    fields = {}
    for match in re.finditer(r"(\w+)\s*=\s*", body):
        i = match.end()
        if i < len(body) and body[i] == "{":
            value = body[i + 1 : _matching_brace(body, i)]
        else:
            value = re.match(r'"([^"]*)"|([^,\n]*)', body[i:]).group(0).strip('"')
        fields.setdefault(match.group(1).lower(), value.strip())
    return fields


def _split_authors(value: str) -> list[str]:
    names, depth, current = [], 0, ""
    for token in re.split(r"(\{|\}|\s+and\s+)", value):
        depth += {"{": 1, "}": -1}.get(token, 0)
        if depth == 0 and re.fullmatch(r"\s+and\s+", token or ""):
            names.append(current)
            current = ""
        else:
            current += token or ""
    names.append(current)
    return [_surname(n.strip()) for n in names if n.strip()]


def _surname(name: str) -> str:
    if name.startswith("{") and name.endswith("}"):
        return _tex_text(name[1:-1])
    last = name.split(",")[0] if "," in name else name.split()[-1]
    return _tex_text(last)


def _tex_text(text: str) -> str:
    """BibTeX text without braces and with the common accent commands as Unicode."""
    import unicodedata

    text = re.sub(
        r"\{?\\([\"'`^~c])\s*\{?(\w)\}?\}?", lambda m: m.group(2) + _ACCENTS[m.group(1)], text
    )
    return unicodedata.normalize("NFC", text.replace("{", "").replace("}", ""))


def _plain(text: str) -> str:
    """A heading as plain text for a reference: roles reduced to their text, no markup."""
    return re.sub(_ROLE, lambda m: _EXPLICIT.sub(r"\1", m.group(2)), text).strip()
