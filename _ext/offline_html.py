"""Keep the built book self-contained and its pages free of JavaScript errors.

matplotlib's ``Animation.to_jshtml()`` output begins with a ``<link>`` to Font Awesome 4 on a
CDN, for the icons of its Play/Pause buttons. The book's theme already bundles Font Awesome
(its ``fontawesome.js`` renders ``<i class="fa fa-play">`` offline), so the link is only a
request that fails offline: it is removed here. Any other ``http(s)://`` script, stylesheet,
image or frame source left in a raw HTML output becomes a build warning (an error under
``-W``), so that a CDN dependency cannot slip into the book unnoticed.

Under Jupyter Book 1, sphinx-thebe and sphinx-togglebutton register their inline scripts twice;
the repeated ``const THEBE_JS_URL = ...`` is a JavaScript error on every page. Repeated
scripts are dropped from each page.
"""

from __future__ import annotations

import re

from docutils import nodes
from sphinx.util import logging

__all__ = ["setup"]

LOGGER = logging.getLogger(__name__)
FONT_AWESOME_CDN = re.compile(
    r'<link\b[^>]*href="https?://[^"]*/font-awesome/[^"]*"[^>]*>\s*', re.IGNORECASE
)
REMOTE_SOURCE = re.compile(
    r'<(?:script|link|img|iframe|source|embed)\b[^>]*\b(?:src|href)\s*=\s*["\']?(https?:)?//',
    re.IGNORECASE,
)


def strip_cdn_links(app, doctree: nodes.document, docname: str) -> None:
    """Remove the Font Awesome CDN link from raw HTML; warn about other remote sources."""
    for node in list(doctree.findall(nodes.raw)):
        if "html" not in node.get("format", "").split():
            continue
        text = node.astext()
        cleaned = FONT_AWESOME_CDN.sub("", text)
        if REMOTE_SOURCE.search(cleaned):
            LOGGER.warning(
                "raw HTML output loads a remote resource (the book must work offline)",
                location=node,
            )
        if cleaned != text:
            node[:] = [nodes.Text(cleaned)]


def dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    """Keep the first of identical ``<script>`` entries (same file, same inline body)."""
    files = context.get("script_files")
    if not isinstance(files, list):
        return
    seen, unique = set(), []
    for js in files:
        name = getattr(js, "filename", js) or ""  # inline scripts: None or "" (same script)
        key = (str(name), repr(sorted(getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    files[:] = unique  # in place: it is the builder's list of scripts for this page


def setup(app) -> dict:
    app.connect("doctree-resolved", strip_cdn_links)
    app.connect("html-page-context", dedupe_scripts, priority=900)  # after page-level scripts
    return {"parallel_read_safe": True, "parallel_write_safe": True}
