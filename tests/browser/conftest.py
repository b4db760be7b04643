"""Fixtures of the browser test: the built book, a local server, headless Chromium.

The browser test needs a built book, so the unit run (``pytest tests``) does not collect it:
this directory is collected only when it (or a file in it) is named on the command line,
as ``make browser`` does right after the strict build (``make test``).

Environment: ``CHROMIUM`` (default ``/usr/bin/chromium``) is the browser;
``BOOK_HTML`` (default ``_build/html``) is the built book to test;
``BOOK_ROOT`` (default: the repository) holds the ``_toc.yml``/``_config.yml`` it was
built from. Screenshots go to ``BOOK_HTML/../screenshots``.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
# Debian's chromium (.ci/run installs it); CHROMIUM=/path/to/chromium-or-chrome elsewhere.
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def _named_on_command_line(config: pytest.Config) -> bool:
    """True if a command-line argument points into this directory."""
    for arg in config.args:
        path = Path(config.invocation_params.dir, arg.split("::")[0]).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if HERE in collection_path.parents and not _named_on_command_line(config):
        return True  # `pytest tests` (the unit run): the book may not be built yet
    return None


def book_root() -> Path:
    return Path(os.environ.get("BOOK_ROOT", REPO)).resolve()


def html_dir() -> Path:
    return Path(os.environ.get("BOOK_HTML", book_root() / "_build" / "html")).resolve()


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_report_header(config: pytest.Config) -> list[str]:
    html = html_dir()
    lines = [f"book: {html} (sources {book_root()})"]
    index = html / "index.html"
    if index.exists():
        newer = [
            p.name
            for p in sorted((book_root() / "chapters").glob("*"))
            if p.stat().st_mtime > index.stat().st_mtime
        ]
        if newer:
            lines.append(f"warning: changed since the build: {', '.join(newer)}")
    return lines


@pytest.fixture(scope="session")
def built_book() -> Path:
    html = html_dir()
    if not (html / "index.html").exists():
        pytest.fail(f"no built book at {html}: run `make build` first (or set BOOK_HTML)")
    return html


@pytest.fixture(scope="session")
def server(built_book: Path):
    """Serve the built book on 127.0.0.1 (a free port) from a thread; yield its base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(built_book))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "the Python package playwright"
    if missing is None and not CHROMIUM.exists():
        missing = f"{CHROMIUM} (Debian package chromium, or set CHROMIUM=/path/to/chromium)"
    if missing:
        message = f"browser test needs {missing}"
        if in_ci():
            pytest.fail(message + " (CI=true: failing instead of skipping)")
        pytest.skip(message)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()
