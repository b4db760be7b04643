"""Portable Markdown (``mdiff.classroom.portable``): the chapters' MyST as plain Markdown.

Unit tests of each conversion on small texts, of the bibliography reader and of the numbering,
and the generated student versions and nbgrader sources of every chapter: no MyST is left.
(That the numbers equal the built book's is checked after the build, in
``tests/browser/test_numbers.py``.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from mdiff import classroom
from mdiff.classroom.book import Book, number_items, read_bibliography, read_book
from mdiff.classroom.portable import _LEFTOVER, Page, to_markdown

ROOT = Path(__file__).resolve().parents[2]
BOOK = Book(
    url="https://example.github.io/course/",
    labels={"ex-1": "Exercise 4.2", "thm-1": "Theorem 4.1", "eq-1": "(4.3)", "fig-1": "Fig. 4.2"},
    titles={"chapters/03-x": "The analytic minimizer"},
    citations={"a2020": ("Anderson", "1982"), "b2021": ("Song et al.", "2021")},
    strict=True,
)
PAGE = Page("chapters/04-y", ROOT / "chapters", BOOK)


def md(text: str) -> str:
    return to_markdown(text, PAGE)


def test_exercise_becomes_a_numbered_heading_and_its_text():
    out = md("```{exercise} A title with $x$\n:label: ex-1\n:class: kind-derive\n\nShow it.\n```")
    assert out == "### Exercise 4.2 — A title with $x$\n\nShow it."


def test_theorem_and_proof_become_bold_labels():
    out = md("```{prf:theorem} Collapse\n:label: thm-1\n\nIf $a$, then $b$.\n```")
    assert out == "**Theorem 4.1 (Collapse).** If $a$, then $b$."
    proof = md("```{prf:proof}\nBy (4.1).\n```")
    assert proof == "**Proof.** By (4.1). ∎"
    block = md("```{prf:theorem}\n:label: thm-1\n$$\nx\n$$\n```")
    assert block.startswith("**Theorem 4.1.**\n\n$$")


def test_admonitions_become_blockquotes_and_dropdowns_details():
    assert md("```{note}\nCareful.\n```") == "> **Note**\n>\n> Careful."
    quoted = md("```{admonition} Learning goals\n:class: tip\n- one\n\n- two\n```")
    assert quoted == "> **Learning goals**\n>\n> - one\n>\n> - two"
    dropdown = md("```{admonition} What happened\n:class: dropdown\nIt fell.\n```")
    assert dropdown == "<details>\n<summary>What happened</summary>\n\nIt fell.\n\n</details>"


def test_roles_become_text_numbers_and_links():
    text = (
        "See {eq}`eq-1`, {prf:ref}`thm-1`, {prf:ref}`this exercise <ex-1>`, {numref}`fig-1`,"
        " {term}`weights <Posterior weights>`, {term}`Score`, {doc}`03-x` and"
        " {doc}`chapter 3 <03-x>`; {cite:t}`a2020` and {cite:p}`a2020,b2021`."
    )
    url = "https://example.github.io/course/"
    bib = f"{url}chapters/bibliography.html"
    assert md(text) == (
        "See (4.3), Theorem 4.1, this exercise, Fig. 4.2, weights, Score, "
        f"[The analytic minimizer]({url}chapters/03-x.html) and "
        f"[chapter 3]({url}chapters/03-x.html);"
        f" [Anderson (1982)]({bib}) and ([Anderson, 1982]({bib}); [Song et al., 2021]({bib}))."
    )


def test_a_role_may_span_lines_and_code_is_left_alone():
    assert (
        md("the {term}`maximum mean\ndiscrepancy <MMD>` is") == "the maximum mean\ndiscrepancy is"
    )
    code = "```python\nx = 1  # {term}`not a role`\n```"
    with pytest.raises(ValueError, match="MyST left"):
        md(code)  # a role-like text in code is refused rather than shown raw


def test_labelled_equations_get_their_number_as_a_tag_and_targets_go():
    assert md("(sec-a)=\n$$\nx = 1\n$$ (eq-1)") == "$$\nx = 1\n\\tag{4.3} $$"


def test_literalinclude_becomes_a_link_to_the_lines_of_the_object():
    """The included code may be an exercise's answer: the student version links to it."""
    page = Page("chapters/04-y", ROOT / "chapters", BOOK, ROOT)
    BOOK.source_url = "https://github.com/o/r/blob/main/"
    out = to_markdown("```{literalinclude} ../mdiff/sampling.py\n:pyobject: ode_step\n```", page)
    lines = (ROOT / "mdiff" / "sampling.py").read_text().splitlines()
    first = next(i for i, line in enumerate(lines, 1) if line.startswith("def ode_step("))
    assert f"(https://github.com/o/r/blob/main/mdiff/sampling.py#L{first}-L" in out
    assert "def ode_step(" not in out and "inspect.getsource" in out


def test_unknown_directives_roles_labels_and_citations_are_refused():
    for text, message in [
        ("```{glue:figure} x\n```", "directive"),
        ("{sub-ref}`x`", "role"),
        ("{eq}`eq-none`", "unknown label"),
        ("{cite:t}`nobody1999`", "unknown citation"),
    ]:
        with pytest.raises(ValueError, match=message):
            md(text)


def test_directives_inside_a_blockquote_keep_the_quote():
    assert md("> ```{note}\n> Inside.\n> ```") == "> > **Note**\n> >\n> > Inside."


def test_bibliography_names_authors_as_the_book_cites_them():
    bib = r"""
    @article{one, author = {Vincent, Pascal}, year = {2011}, title = {T}}
    @article{two, author = {Song, Yang and Ermon, Stefano}, year = 2019}
    @misc{three, author = {Baptista, Ricardo and Dasgupta, A. and Stuart, Andrew M.}, year={2025}}
    @misc{group, author = {{The mdiff-course contributors}}, year = {2026}}
    @article{accent, author = {Erd{\H o}s, Paul and Schr{\"o}dinger, Erwin}, year = {1950}}
    """
    entries = read_bibliography(bib)
    assert entries["one"] == ("Vincent", "2011")
    assert entries["two"] == ("Song and Ermon", "2019")
    assert entries["three"] == ("Baptista et al.", "2025")
    assert entries["group"] == ("The mdiff-course contributors", "2026")
    assert entries["accent"][0].endswith("Schrödinger")


def test_numbering_counts_each_kind_per_chapter():
    markdown = [
        "```{exercise} A\n:label: e1\n```\n$$\nx\n$$ (q1)",
        "```{prf:theorem} T\n:label: t1\n```\n```{prf:proposition} P\n:label: p1\n```\n"
        "```{prf:theorem} U\n:label: t2\n```\n(sec)=\n## A section\n$$ y $$ (q2)",
    ]
    code = [{"mystnb": {"figure": {"name": "f1", "caption": "c"}}}, {}]
    labels, title = number_items(markdown, code, "7")
    assert labels == {
        "e1": "Exercise 7.1", "q1": "(7.1)", "t1": "Theorem 7.1", "p1": "Proposition 7.1",
        "t2": "Theorem 7.2", "sec": "A section", "q2": "(7.2)", "f1": "Fig. 7.1",
    }  # fmt: skip
    assert title == "A section"


def test_the_books_pages_and_citations_are_read():
    book = read_book(ROOT)
    assert book.url.startswith("https://") and book.url.endswith("/")
    assert book.citations["baptista2025memorization"] == ("Baptista et al.", "2025")
    assert all(re.match(r"\w+ \d+\.\d+$|\(\d+\.\d+\)$|Fig\. \d+\.\d+$", v) or " " in v or v
               for v in book.labels.values())  # fmt: skip
    assert any(v.startswith("Exercise 4.") for v in book.labels.values())


@pytest.fixture(scope="module", params=classroom.MODES)
def generated(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(request.param)
    return classroom.write_notebooks(ROOT / "chapters", out, mode=request.param)


def test_generated_notebooks_hold_no_myst(generated):
    for path, _ in generated:
        for index, cell in enumerate(nbformat.read(path, 4).cells):
            if cell.cell_type == "markdown":
                found = _LEFTOVER.search(cell.source)
                assert not found, f"{path.name}, cell {index}: {cell.source[:200]!r}"
                assert "{solution" not in cell.source and "BEGIN SOLUTION" not in cell.source
        text = json.dumps(nbformat.read(path, 4))
        assert ":label:" not in text and ":class: dropdown" not in text
