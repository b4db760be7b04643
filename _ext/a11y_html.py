"""Accessibility fixes for HTML that the book's tools generate (checked by axe-core).

``tests/browser/test_accessibility.py`` runs axe-core on every page in light and dark mode
and fails on serious or critical violations. Two of them come from generated markup rather
than from the course's own text, and are fixed here, where the markup is produced:

- matplotlib's ``Animation.to_jshtml()`` player: its frame ``<img>`` has no ``alt`` (axe
  ``image-alt``, critical) and its frame slider has no label (``label``, critical). The
  frame gets a short ``alt`` that points to the figure's caption (every animation of the
  course is a captioned figure, ``mystnb.figure.caption``), the slider an ``aria-label``.
- Sphinx's citation list (the bibliography page): ``<div role="list">`` holds entries with
  the deprecated role ``doc-biblioentry``, which is not a list item, so the list has no
  valid items (``aria-required-children``, critical). The entries become ``role="listitem"``.
"""

from __future__ import annotations

import re

from docutils import nodes

__all__ = ["setup"]

ANIM_IMG = re.compile(r'<img\b(?![^>]*\balt=)([^>]*\bid="_anim_img[^"]*")', re.IGNORECASE)
ANIM_SLIDER = re.compile(
    r'<input\b(?![^>]*\baria-label=)([^>]*\bid="_anim_slider[^"]*")', re.IGNORECASE
)
BIBLIOENTRY = 'role="doc-biblioentry"'


def _caption_of(node: nodes.Node) -> str:
    figure = node.parent
    while figure is not None and not isinstance(figure, nodes.figure):
        figure = figure.parent
    if figure is None:
        return ""
    caption = next(iter(figure.findall(nodes.caption)), None)
    return caption.astext().strip() if caption is not None else ""


def label_animations(app, doctree: nodes.document, docname: str) -> None:
    """Give each to_jshtml player's frame an ``alt`` and its slider an ``aria-label``."""
    for node in list(doctree.findall(nodes.raw)):
        if "html" not in node.get("format", "").split():
            continue
        text = node.astext()
        if "_anim_img" not in text:
            continue
        alt = "Animation frame (described in the caption below)"
        if not _caption_of(node):
            alt = "Animation frame"
        fixed = ANIM_IMG.sub(rf'<img alt="{alt}"\1', text)
        fixed = ANIM_SLIDER.sub(r'<input aria-label="Animation frame"\1', fixed)
        if fixed != text:
            node[:] = [nodes.Text(fixed)]


def citation_list_items(app, pagename, templatename, context, doctree) -> None:
    """Bibliography entries as list items of Sphinx's ``role="list"`` citation list."""
    body = context.get("body")
    if isinstance(body, str) and BIBLIOENTRY in body:
        context["body"] = body.replace(BIBLIOENTRY, 'role="listitem"')


def setup(app) -> dict:
    app.connect("doctree-resolved", label_animations)
    app.connect("html-page-context", citation_list_items)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
