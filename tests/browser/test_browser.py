"""The built book in a real browser: headless Chromium, no network.

Every page of ``_toc.yml`` is opened once from a local server; all requests that leave
127.0.0.1 are aborted and recorded. Each visit collects what the tests below check:
console errors, maths typeset by the bundled MathJax, figures loaded and described (alt text
or caption), learning goals first, launch/download links, solution dropdowns closed until
clicked, animations that advance on Play. Screenshots (light, and dark at the first figure)
are saved to ``_build/screenshots/`` for review. Run with ``make browser`` after a build.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

# As in conftest.py: the sources the book was built from (its _toc.yml and _config.yml).
BOOK_ROOT = Path(os.environ.get("BOOK_ROOT", Path(__file__).resolve().parents[2])).resolve()

# Console errors that are expected and harmless; each needs a reason. Jupyter Book 1's two
# known ones are fixed at the source instead, so this list is empty:
# - "Got invalid theme mode: ." (pydata-sphinx-theme, first visit): fixed by
#   `html_context: {default_mode: auto}` in _config.yml;
# - "Identifier 'THEBE_JS_URL' has already been declared" (sphinx-thebe's inline script is
#   registered twice): fixed by _ext/offline_html.py, which drops repeated scripts.
ALLOWED_CONSOLE_ERRORS: list[tuple[str, str]] = []

RAW_MATH = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\\begin\{")
#: TeX outside typeset maths: a command (``\\mathbb``) or a dollar sign, as left when Markdown
#: splits a ``$...$`` span (a source line inside it starting with ``+ `` becomes a list item).
RAW_TEX = re.compile(r"\\[A-Za-z]{2,}|\$")
#: MyST that did not render: a role, a directive fence, a target, a solution wrapper.
RAW_MYST = re.compile(
    r"\{[a-z]+(?::[a-z]+)?\}`|(?:`{3}|:{3})\{|^\([\w-]+\)=|\{solution-(?:start|end)\}", re.M
)
MIN_SCALE = 0.6  # at the 1280 px test viewport, the text column is about 700 px wide
FILE_LIKE_ALT = re.compile(r"(^|/)_images/|\.(png|jpe?g|gif|svg)$", re.IGNORECASE)


# ---------------------------------------------------------------------------------------
# pages of the book


@dataclass(frozen=True)
class Page:
    docname: str  # e.g. "chapters/01-forward-reverse"
    source: Path  # the .ipynb or .md it is built from

    @property
    def is_notebook(self) -> bool:
        return self.source.suffix == ".ipynb"

    @property
    def html(self) -> str:
        return self.docname + ".html"

    @property
    def shot(self) -> str:
        return self.docname.replace("/", "__")


def _toc_files(entries: list[dict]) -> list[str]:
    files = []
    for entry in entries or []:
        if "file" in entry:
            files.append(entry["file"])
        elif "glob" in entry:
            root = BOOK_ROOT
            files += sorted(
                str(p.relative_to(root).with_suffix(""))
                for p in root.glob(entry["glob"])
                if p.suffix in {".md", ".ipynb"}
            )
        files += _toc_files(entry.get("sections", []))
    return files


def toc_pages() -> list[Page]:
    root = BOOK_ROOT
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    docnames = [toc["root"]] + _toc_files(toc.get("chapters", []))
    for part in toc.get("parts", []):
        docnames += _toc_files(part.get("chapters", []))
    pages = []
    for name in docnames:
        name = re.sub(r"\.(md|ipynb)$", "", name)
        sources = [root / f"{name}{ext}" for ext in (".ipynb", ".md")]
        source = next((s for s in sources if s.exists()), sources[-1])
        pages.append(Page(name, source))
    return pages


PAGES = toc_pages()
NOTEBOOK_PAGES = [p for p in PAGES if p.is_notebook]


def _ids(pages: list[Page]) -> list[str]:
    return [p.docname for p in pages]


def launch_urls(docname: str) -> dict[str, str]:
    """Binder and Colab URLs derived from the ONE repository setting of _config.yml."""
    config = yaml.safe_load((BOOK_ROOT / "_config.yml").read_text())
    repo, launch = config["repository"], config["launch_buttons"]
    org_repo = repo["url"].removeprefix("https://github.com/").strip("/")
    branch, prefix = repo.get("branch", "main"), repo.get("path_to_book", "") or ""
    path = f"{prefix.strip('/') + '/' if prefix.strip('/') else ''}{docname}.ipynb"
    ui = "lab/tree" if launch.get("notebook_interface") == "jupyterlab" else "tree"
    return {
        "binder": f"{launch['binderhub_url'].rstrip('/')}/v2/gh/{org_repo}/{branch}"
        f"?urlpath={ui}/{path}",
        "colab": f"{launch['colab_url'].rstrip('/')}/github/{org_repo}/blob/{branch}/{path}",
    }


# ---------------------------------------------------------------------------------------
# one visit per page


@dataclass
class Visit:
    status: int = 0
    console_errors: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    dom: dict = field(default_factory=dict)
    dark: list[dict] = field(default_factory=list)
    dropdowns: list[dict] = field(default_factory=list)
    animations: list[dict] = field(default_factory=list)


# Collected in the page after MathJax has finished.
DOM_REPORT = """() => {
  const article = document.querySelector('article.bd-article') || document.body;
  const cellOf = el => {
    const cell = el.closest('.cell');
    const pre = cell && cell.querySelector('.cell_input pre');
    return pre ? pre.textContent.trim().split('\\n')[0].slice(0, 80) : '';
  };
  const maths = [...article.querySelectorAll('.math')];
  const clone = article.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, textarea, mjx-container, .cell_output')
       .forEach(e => e.remove());
  const images = [...article.querySelectorAll('img')].map(img => {
    const fig = img.closest('figure');
    const cap = fig && fig.querySelector('figcaption');
    return {src: (img.getAttribute('src') || '').slice(0, 100), id: img.id,
            alt: img.getAttribute('alt'), caption: cap ? cap.textContent.trim() : '',
            complete: img.complete, width: img.naturalWidth, shown: img.clientWidth,
            declared: parseFloat(img.style.width) || parseFloat(img.getAttribute('width')) || 0,
            output: !!img.closest('.cell_output'),
            visible: img.offsetParent !== null, cell: cellOf(img)};
  });
  const h1 = article.querySelector('h1');
  let next = h1 ? h1.nextElementSibling : null;
  while (next && (next.tagName === 'SPAN' || next.matches('.cell.tag_remove-cell')))
    next = next.nextElementSibling;
  const link = sel => [...document.querySelectorAll(sel)].map(a => a.getAttribute('href'));
  return {
    title: h1 ? h1.textContent.replace('#', '').trim() : '',
    headings: [...article.querySelectorAll('h1, h2, h3, h4')]
                .map(h => h.textContent.replace('#', '').trim()),
    first_after_title: next ? {cls: next.className,
      title: (next.querySelector('.admonition-title') || {textContent: ''}).textContent.trim()}
      : null,
    maths: maths.length,
    untypeset: maths.filter(m => !m.querySelector('mjx-container'))
                    .map(m => m.textContent.slice(0, 80)),
    mjx: document.querySelectorAll('mjx-container').length,
    merrors: [...document.querySelectorAll('mjx-merror')].map(e => e.textContent.slice(0, 80)),
    prose: clone.textContent,
    images: images,
    binder: link('a[href*="mybinder.org"]'),
    colab: link('a[href*="colab.research.google.com"]'),
    download: link('a.btn-download-source-button'),
    visible_solution_code: [...article.querySelectorAll('.cell')]
      .filter(c => c.textContent.includes('### BEGIN SOLUTION') && c.offsetParent !== null
                   && getComputedStyle(c).visibility !== 'hidden')
      .map(cellOf),
    widgets: document.querySelectorAll(
      'script[type="application/vnd.jupyter.widget-view+json"], .jupyter-widgets').length,
  };
}"""

DARK_REPORT = """() => [...document.querySelectorAll('article.bd-article .cell_output img')]
  .map(img => ({src: (img.getAttribute('src') || '').slice(0, 60),
                bg: getComputedStyle(img).backgroundColor}))"""


def _is_local(url: str, base: str) -> bool:
    return url.startswith(base) or url.startswith(("data:", "blob:", "about:"))


def _visit(browser, base: str, page_info: Page, shots: Path) -> Visit:
    visit = Visit()
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
    page = context.new_page()

    def route(r) -> None:
        if _is_local(r.request.url, base):
            r.continue_()
        else:  # no network: record and abort anything that leaves the local server
            visit.external.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page.on(
        "console",
        lambda m: visit.console_errors.append(m.text) if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: visit.console_errors.append(f"page error: {e}"))
    page.on(
        "response",
        lambda r: (
            visit.missing.append(f"{r.status} {r.url}")
            if r.status >= 400 and _is_local(r.url, base)
            else None
        ),
    )
    try:
        response = page.goto(base + page_info.html, wait_until="load")
        visit.status = response.status if response else 0
        if visit.status != 200:
            return visit
        page.evaluate(
            "() => window.MathJax && MathJax.startup ? MathJax.startup.promise.then(() => 1) : 0"
        )
        page.wait_for_function("() => [...document.images].every(i => i.complete)", timeout=15_000)
        visit.dom = page.evaluate(DOM_REPORT)
        page.screenshot(path=shots / f"{page_info.shot}.png", full_page=True)
        visit.dropdowns = _click_dropdowns(page)
        page.evaluate("() => document.querySelectorAll('details').forEach(d => { d.open = true; })")
        visit.animations = _play_animations(page)
        _dark_mode(page, visit, shots / f"{page_info.shot}-dark.png")
    finally:
        context.close()
    return visit


def _click_dropdowns(page) -> list[dict]:
    """Each solution dropdown: hidden before a click on its title, shown after."""
    results = []
    dropdowns = page.locator("article .solution.dropdown")
    for k in range(dropdowns.count()):
        box = dropdowns.nth(k)
        body = box.locator(":scope > :not(.admonition-title)")
        closed = body.count() > 0 and not any(body.nth(j).is_visible() for j in range(body.count()))
        box.locator(".admonition-title").first.click()
        page.wait_for_timeout(300)
        opened = body.count() > 0 and body.first.is_visible()
        results.append({"id": box.get_attribute("id"), "closed": closed, "opened": opened})
    return results


def _play_animations(page) -> list[dict]:
    """Each to_jshtml animation: Play changes the frame (slider value and image)."""
    results = []
    animations = page.locator("article .animation")
    for k in range(animations.count()):
        anim = animations.nth(k)
        anim.scroll_into_view_if_needed()
        slider, img = anim.locator("input[type=range]").first, anim.locator("img").first
        before = (slider.input_value(), img.get_attribute("src"))
        icons = anim.locator("button svg, button i").count()
        anim.locator('button[title="Play"]').click()
        moved = True
        try:
            page.wait_for_function(
                "([s, v]) => s.value !== v",
                arg=[slider.element_handle(), before[0]],
                timeout=5_000,
            )
        except Exception:  # noqa: BLE001 - Playwright's TimeoutError: did not advance
            moved = False
        after = (slider.input_value(), img.get_attribute("src"))
        anim.locator('button[title="Pause"]').click()
        results.append(
            {
                "index": k,
                "advanced": moved and after[0] != before[0],
                "frame_changed": after[1] != before[1],
                "buttons": anim.locator("button").count(),
                "icons": icons,
            }
        )
    return results


def _dark_mode(page, visit: Visit, path: Path) -> None:
    """Switch the theme to dark; screenshot the first figure (and the first animation)."""
    page.evaluate("() => { document.documentElement.dataset.theme = 'dark'; }")
    page.wait_for_timeout(200)
    visit.dark = page.evaluate(DARK_REPORT)
    for selector, suffix in [("article .cell_output img", ""), ("article .animation", "-anim")]:
        target = page.locator(selector).first
        if target.count():
            target.scroll_into_view_if_needed()
        elif suffix:
            continue
        else:
            page.evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=path.with_name(path.stem + suffix + path.suffix))


@pytest.fixture(scope="session")
def visits(browser, server, built_book):
    shots = built_book.parent / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    cache: dict[str, Visit] = {}

    def get(page_info: Page) -> Visit:
        if page_info.docname not in cache:
            cache[page_info.docname] = _visit(browser, server, page_info, shots)
        return cache[page_info.docname]

    return get


def check(ok: bool, message: str) -> None:
    """Fail with just ``message`` (the page and what is wrong), without a traceback."""
    if not ok:
        pytest.fail(message, pytrace=False)


def _listing(items) -> str:
    return "".join(f"\n  {item}" for item in items)


@pytest.fixture(params=PAGES, ids=_ids(PAGES))
def book_page(request, visits):
    visit = visits(request.param)
    check(visit.status == 200, f"{request.param.html}: HTTP {visit.status} (book not built?)")
    return request.param, visit


@pytest.fixture(params=NOTEBOOK_PAGES, ids=_ids(NOTEBOOK_PAGES))
def chapter(request, visits):
    visit = visits(request.param)
    check(visit.status == 200, f"{request.param.html}: HTTP {visit.status} (book not built?)")
    return request.param, visit


# ---------------------------------------------------------------------------------------
# every page


def test_no_unexpected_console_errors(book_page):
    info, visit = book_page
    unexpected = [
        e
        for e in visit.console_errors
        if not any(re.search(p, e) for p, _ in ALLOWED_CONSOLE_ERRORS)
    ]
    check(not unexpected, f"{info.html}: console errors:" + _listing(unexpected))


def test_works_offline(book_page):
    info, visit = book_page
    check(not visit.external, f"{info.html}: requests remote resources:" + _listing(visit.external))
    check(not visit.missing, f"{info.html}: missing local resources:" + _listing(visit.missing))


def test_maths_typeset(book_page):
    info, visit = book_page
    dom = visit.dom
    check(not dom["untypeset"], f"{info.html}: maths not typeset:" + _listing(dom["untypeset"]))
    check(dom["mjx"] >= dom["maths"], f"{info.html}: {dom['maths']} maths, {dom['mjx']} typeset")
    check(not dom["merrors"], f"{info.html}: TeX errors:" + _listing(dom["merrors"]))
    prose = dom["prose"]
    raw = [prose[max(m.start() - 40, 0) : m.end() + 40] for m in RAW_MATH.finditer(prose)]
    check(not raw, f"{info.html}: raw TeX left in the text:" + _listing(map(repr, raw)))


def test_no_raw_tex_or_myst_in_the_text(book_page):
    """No TeX command or dollar sign outside typeset maths, and no MyST role or directive
    that did not render, in the text a reader sees (code, outputs and maths excluded)."""
    info, visit = book_page
    prose = visit.dom["prose"]
    for name, pattern in (("TeX", RAW_TEX), ("MyST", RAW_MYST)):
        raw = [prose[max(m.start() - 40, 0) : m.end() + 40] for m in pattern.finditer(prose)]
        check(not raw, f"{info.html}: raw {name} in the text:" + _listing(map(repr, raw[:5])))


def test_figures_load(book_page):
    info, visit = book_page
    broken = [i for i in visit.dom["images"] if not i["complete"] or i["width"] == 0]
    check(not broken, f"{info.html}: images that did not load:" + _listing(broken))


def test_figures_not_shrunk_illegibly(book_page):
    """A figure much wider than the text column is scaled down until its labels are unreadable."""
    info, visit = book_page
    small = [
        f"cell starting {i['cell']!r}: {i['width']} px shown at {i['shown']} px"
        for i in visit.dom["images"]
        if i["visible"] and i["width"] and i["shown"] < MIN_SCALE * (i["declared"] or i["width"])
    ]
    check(
        not small,
        f"{info.html}: figures shrunk below {MIN_SCALE:.0%} of their size (make them narrower, "
        "fewer panels a row, or tag the cell full-width):" + _listing(small),
    )


def _described(img: dict) -> bool:
    alt = (img["alt"] or "").strip()
    return bool(img["caption"]) or (bool(alt) and not FILE_LIKE_ALT.search(alt))


def test_figures_have_alt_text(book_page):
    """Alt text from cell metadata `mystnb.image.alt`, or a caption (`mystnb.figure.caption`)."""
    info, visit = book_page
    bare = [i for i in visit.dom["images"] if not _described(i)]
    lines = [f"cell starting {i['cell']!r}: img {i['id'] or i['src']}" for i in bare]
    check(
        not bare,
        f"{info.html}: {len(bare)} figure(s) without alt text or caption "
        "(cell metadata mystnb.image.alt or mystnb.figure.caption):" + _listing(lines),
    )


def _figure(img: dict) -> bool:
    """A figure of a cell output (not a frame of an animation player)."""
    return img["output"] and not (img["id"] or "").startswith("_anim")


def test_figures_are_numbered_captioned_and_sharp(book_page):
    """Every output figure is a numbered figure with a caption ("Fig. 4.2 ..."), stored at
    least at 2x its display width (crisp on a high-density laptop screen)."""
    info, visit = book_page
    figures = [i for i in visit.dom["images"] if _figure(i)]
    bare = [i["cell"] for i in figures if not re.match(r"Fig\. \d+(\.\d+)? \S", i["caption"])]
    check(not bare, f"{info.html}: figures without number and caption:" + _listing(bare))
    blurry = [
        f"cell starting {i['cell']!r}: {i['width']} px for {i['declared']:.0f} px"
        for i in figures
        if i["declared"] and i["width"] < 1.9 * i["declared"]
    ]
    check(not blurry, f"{info.html}: figures below 2x resolution:" + _listing(blurry))


def test_solutions_closed_until_clicked(book_page):
    info, visit = book_page
    shown = visit.dom["visible_solution_code"]
    check(not shown, f"{info.html}: solution cells visible before a click:" + _listing(shown))
    bad = [d for d in visit.dropdowns if not (d["closed"] and d["opened"])]
    check(not bad, f"{info.html}: dropdowns not closed, then open on click:" + _listing(bad))


def test_animations_play(book_page):
    info, visit = book_page
    bad = [a for a in visit.animations if not (a["advanced"] and a["frame_changed"])]
    check(not bad, f"{info.html}: animations that did not advance on Play:" + _listing(bad))
    no_icons = [a for a in visit.animations if a["icons"] < a["buttons"]]
    check(not no_icons, f"{info.html}: animation buttons without icons:" + _listing(no_icons))


def test_no_live_widgets_left(book_page):
    """Live widgets cannot work in the static book: their cells are tagged remove-output."""
    info, visit = book_page
    n = visit.dom["widgets"]
    check(n == 0, f"{info.html}: {n} live widget output(s) left: tag the cell remove-output")


def _light(css: str) -> bool:
    values = [float(v) for v in re.findall(r"[\d.]+", css)]
    alpha = values[3] if len(values) > 3 else 1.0
    return len(values) >= 3 and alpha > 0.9 and min(values[:3]) >= 200


def test_dark_mode_figures_on_light_background(book_page):
    info, visit = book_page
    dark = [d for d in visit.dark if not _light(d["bg"])]
    check(not dark, f"{info.html}: figures without a light backdrop in dark mode:" + _listing(dark))


# ---------------------------------------------------------------------------------------
# chapter (notebook) pages


def test_learning_goals_first(chapter):
    info, visit = chapter
    first = visit.dom["first_after_title"] or {"cls": "", "title": "nothing"}
    check(
        "admonition" in first["cls"].split() and first["title"].lower() == "learning goals",
        f"{info.html}: the first thing after the title is {first['title']!r} "
        f"({first['cls']}), not a 'Learning goals' admonition",
    )


def test_headings_numbered_once(chapter):
    """The book numbers chapters and sections itself (numbered: true in _toc.yml)."""
    info, visit = chapter
    twice = [h for h in visit.dom["headings"] if re.match(r"^\s*[\d.]+\s+\d+(\.\d+)*\.\s", h)]
    check(
        not twice,
        f"{info.html}: headings numbered twice (the book numbers chapters and sections "
        "itself, so a notebook heading must not start with a number):" + _listing(twice),
    )


def test_launch_buttons_point_at_the_notebook(chapter):
    info, visit = chapter
    want = launch_urls(info.docname)
    for name in ("binder", "colab"):
        got = visit.dom[name]
        check(got == [want[name]], f"{info.html}: {name} links {got}, want [{want[name]!r}]")


def test_download_notebook_link(chapter, built_book):
    info, visit = chapter
    hrefs = visit.dom["download"]
    want = f"_sources/{info.docname}.ipynb"
    check(len(hrefs) == 1 and hrefs[0].endswith(want), f"{info.html}: download links {hrefs}")
    target = (built_book / info.html).parent / hrefs[0]
    notebook = json.loads(target.read_text())
    check(notebook["nbformat"] == 4 and bool(notebook["cells"]), f"{target}: not a notebook")


# ---------------------------------------------------------------------------------------
# the book as a whole


def test_book_has_solutions_figures_and_an_animation(visits):
    """The features checked page by page exist at least once (nothing passes vacuously)."""
    seen = [visits(p) for p in PAGES]
    check(sum(len(v.dropdowns) for v in seen) > 0, "no solution dropdown in the book")
    check(sum(len(v.animations) for v in seen) > 0, "no to_jshtml animation in the book")
    check(sum(len(v.dom.get("images", [])) for v in seen) > 0, "no figure in the book")
