"""The student versions number exercises, theorems, equations and figures as the book does.

``mdiff.classroom.portable.read_book`` numbers the labelled items of every page from the
sources; here each of those numbers is compared with the one the built HTML shows next to the
element with that label (``id="ex-04-tau-sde"``: "Exercise 4.1 (...)"; ``id="equation-eq-..."``:
"(4.2)"; ``id="fig-04-1"``: "Fig. 4.1"). Section targets are titles, not numbers, and are not
compared. Needs the built book (``make build``), no browser.
"""

from __future__ import annotations

import html as html_lib
import re

import pytest
from conftest import book_root

from mdiff.classroom.portable import read_book

BOOK = read_book(book_root())
NUMBERED = re.compile(r"^(?:[A-Z][a-z]+ \d+(?:\.\d+)?|\(\d+(?:\.\d+)?\)|Fig\. \d+(?:\.\d+)?)$")
LABELS = sorted(k for k, v in BOOK.labels.items() if NUMBERED.match(v))


@pytest.fixture(scope="module")
def pages(built_book):
    return {p: p.read_text(encoding="utf-8") for p in built_book.rglob("*.html")}


def _shown(pages: dict, label: str) -> str | None:
    """The text right after the element ``id=label`` (or ``equation-label``) in the build."""
    for text in pages.values():
        for anchor in (f'id="{label.lower()}"', f'id="equation-{label.lower()}"'):
            at = text.find(anchor)  # docutils ids are lower case
            if at >= 0:
                start = text.index(">", at) + 1  # past the rest of the opening tag
                if text.startswith("<figure", text.rindex("<", 0, at)):  # number in the caption
                    caption = 'class="caption-number">'
                    start = text.index(caption, at) + len(caption)
                plain = re.sub(r"<[^>]+>", " ", text[start : start + 800])
                return re.sub(r"\s+", " ", html_lib.unescape(plain)).strip()
    return None


def test_every_numbered_label_is_counted():
    assert len(LABELS) > 100
    kinds = {BOOK.labels[k].split()[0] for k in LABELS}
    assert {"Exercise", "Theorem", "Fig."} <= kinds


@pytest.mark.parametrize("label", LABELS)
def test_number_matches_the_built_book(pages, label):
    shown = _shown(pages, label)
    assert shown is not None, f"{label}: no element with this id in the built book"
    want = BOOK.labels[label]
    assert shown.startswith(want + " ") or shown.startswith(want + "#") or shown == want, (
        f"{label}: the student version says {want!r}, the book {shown[:60]!r}"
    )
