"""The address of the published book, derived from the one repository setting.

The book is published by GitHub Pages (``.github/workflows/book.yml``), so its address
follows from ``repository.url`` in ``_config.yml``: ``https://github.com/OWNER/REPO`` is
served at ``https://OWNER.github.io/REPO/`` (a repository named ``OWNER.github.io`` at
``https://OWNER.github.io/``). Nothing else in the book spells the address out:

- the landing page writes ``{{ book_url }}`` (a link) or ``{{ book_url_text }}`` (plain
  text), MyST substitutions that this extension adds at ``config-inited``;
- the README states the same address, and ``tests/test_publishing.py`` checks that it equals
  :func:`pages_url` of ``_config.yml``, so the two cannot drift.

Jupyter Book 1 passes ``repository.url`` to Sphinx as ``html_theme_options.repository_url``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

__all__ = ["pages_url", "repository_url", "setup"]


def pages_url(repository: str) -> str:
    """``https://OWNER.github.io/REPO/`` for ``https://github.com/OWNER/REPO``.

    GitHub Pages host names are lower case; the path keeps the repository's spelling.
    """
    parsed = urlparse(repository.strip())
    parts = [p for p in parsed.path.split("/") if p]
    github = parsed.scheme == "https" and parsed.netloc.lower() in {"github.com", "www.github.com"}
    if not github or len(parts) != 2:
        raise ValueError(f"repository.url must be https://github.com/OWNER/REPO: {repository!r}")
    owner, repo = parts[0], parts[1].removesuffix(".git")
    host = f"{owner.lower()}.github.io"
    return f"https://{host}/" if repo.lower() == host else f"https://{host}/{repo}/"


def repository_url(root: Path) -> str:
    """``repository.url`` of the book's ``_config.yml`` in ``root``."""
    import yaml

    config = yaml.safe_load((Path(root) / "_config.yml").read_text(encoding="utf-8"))
    return config["repository"]["url"]


def add_substitutions(app, config) -> None:
    """Add ``book_url`` (a Markdown link) and ``book_url_text`` to the MyST substitutions."""
    repository = (config.html_theme_options or {}).get("repository_url")
    if not repository:
        repository = repository_url(Path(app.confdir))
    url = pages_url(repository)
    substitutions = dict(config.myst_substitutions or {})
    substitutions.setdefault("book_url", f"[{url}]({url})")
    substitutions.setdefault("book_url_text", url)
    config.myst_substitutions = substitutions


def setup(app) -> dict:
    app.connect("config-inited", add_substitutions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
