"""JupyterLab renders the chapters' MyST (jupyterlab-myst), as a student sees it in `make lab`.

Starts JupyterLab on a free local port (token auth, no browser, the notebook drawn in full
rather than windowed so that every cell is in the page), opens chapter 4 in headless Chromium
and reads the rendered Markdown cells: the exercises, theorems, citations and equation
references are rendered, and no raw MyST (a directive fence, a role, a solution wrapper) is
left in the text.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHAPTER = "04-memorization-dynamics.ipynb"
RAW_MYST = re.compile(r"\{[a-z]+(?::[a-z]+)?\}`|(?:`{3}|:{3})\{|\{solution-(?:start|end)\}")
TOKEN = "mdiff-lab-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on the chapters; yields its base URL."""
    pytest.importorskip("jupyterlab_myst")
    settings = tmp_path_factory.mktemp("lab-settings")
    tracker = settings / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    port = _free_port()
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
        "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
        "--ServerApp.allow_root=True", f"--LabApp.user_settings_dir={settings}",
        str(REPO / "chapters"),
    ]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start within 2 minutes")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_lab_renders_the_chapters_myst(lab, browser):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(f"{lab}/lab/tree/{CHAPTER}?token={TOKEN}", timeout=180_000)
        page.wait_for_selector(".jp-MarkdownCell", timeout=180_000)
        # jupyterlab-myst renders cell by cell: the "Exercises" heading can be in the page
        # while the exercise cells below it are still empty. Wait for what is asserted (an
        # exercise with its title, a theorem), and on a timeout read the page as it stands
        # so that the assertions below say what was missing.
        try:
            page.wait_for_function(
                "() => { const t = [...document.querySelectorAll('.jp-MarkdownCell')]"
                ".map(c => c.innerText).join('\\n');"
                " return /Exercise \\d+ \\(/.test(t) && /Theorem \\d+/.test(t); }",
                timeout=180_000,
            )
        except PlaywrightTimeout:
            pass
        texts = page.eval_on_selector_all(
            ".jp-MarkdownCell", "cells => cells.map(c => c.innerText)"
        )
    finally:
        page.close()
    text = "\n".join(texts)
    raw = [text[max(m.start() - 60, 0) : m.end() + 60] for m in RAW_MYST.finditer(text)]
    assert not raw, f"raw MyST in JupyterLab: {raw[:5]}"
    assert re.search(r"Exercise \d+ \(", text), "no exercise rendered with its title"
    assert re.search(r"Theorem \d+", text), "no theorem rendered"
    assert "baptista2025memorization" in text or "Baptista" in text, "citations not rendered"
