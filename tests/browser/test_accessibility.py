"""Accessibility of the built book: axe-core on every page, in light and in dark mode.

axe-core (Deque's engine, the one behind most accessibility checkers) comes from the PyPI
package ``axe-playwright-python``, which bundles ``axe.min.js``; ``requirements.txt``
installs it, so no npm and no download at test time. Each page of ``_toc.yml`` is opened
from the local server (no network), switched to the theme mode, with every solution dropdown
and ``<details>`` opened so that hidden content is checked too; then axe runs on the whole
document (in dark mode only the colour rules, see ``COLOUR_RULES``). A test fails on any
*serious* or *critical* violation and names the rule, the
elements and where the markup comes from (a notebook output, the page's text, or the theme).
Minor and moderate findings are counted in the report, not failed.

The counts of every page go to ``_build/axe/report.json`` (beside the screenshots).
Run with ``make browser`` after a build; ``make test`` does both.
"""

from __future__ import annotations

import json
import os
from importlib import resources

import pytest
from test_browser import PAGES, Page, _ids, _is_local, check

FAIL_IMPACTS = ("serious", "critical")
MODES = ("light", "dark")
# Light mode runs every rule; dark mode only those that depend on colours (the others see the
# same document). color-contrast is by far the slowest rule (~10 s on a chapter of 18,000
# elements), so this halves the test's time without checking less.
COLOUR_RULES = ["color-contrast", "link-in-text-block"]

OPEN_EVERYTHING = """() => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  document.querySelectorAll('article .dropdown.toggle-hidden > .admonition-title')
    .forEach(t => t.click());
}"""

# Each violation, with a few of its elements and where their markup comes from.
RUN_AXE = """async rules => {
  const options = {resultTypes: ['violations']};
  if (rules) options.runOnly = {type: 'rule', values: rules};
  const result = await axe.run(document, options);
  const origin = el => !el ? 'unknown'
    : el.closest('.cell_output, .output') ? 'notebook output'
    : el.closest('.cell_input') ? 'notebook code cell'
    : el.closest('article.bd-article') ? 'page text (Markdown)'
    : 'theme or layout';
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, count: v.nodes.length,
    nodes: v.nodes.slice(0, 5).map(n => {
      let el = null;
      try { el = document.querySelector(n.target[0]); } catch (e) {}
      return {target: n.target.join(' '), html: n.html.slice(0, 160), origin: origin(el),
              summary: (n.failureSummary || '').split('\\n').slice(0, 3).join(' ')};
    }),
  }));
}"""


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _axe_source() -> str:
    try:
        return (resources.files("axe_playwright_python") / "axe.min.js").read_text("utf-8")
    except ModuleNotFoundError:
        message = "accessibility test needs axe-core (pip install axe-playwright-python)"
        if in_ci():
            pytest.fail(message + " (CI=true: failing instead of skipping)")
        pytest.skip(message)


@pytest.fixture(scope="session")
def axe_report(built_book):
    """Counts per page and mode, written to _build/axe/report.json at the end."""
    report: dict[str, dict] = {}
    yield report
    out = built_book.parent / "axe"
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")


def _audit(browser, base: str, page_info: Page, mode: str, axe: str) -> list[dict]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=mode)
    context.route("**/*", lambda r: r.continue_() if _is_local(r.request.url, base) else r.abort())
    page = context.new_page()
    try:
        response = page.goto(base + page_info.html, wait_until="load")
        check(response is not None and response.status == 200, f"{page_info.html}: not served")
        page.evaluate(
            "() => window.MathJax && MathJax.startup ? MathJax.startup.promise.then(() => 1) : 0"
        )
        page.evaluate(
            "m => { document.documentElement.dataset.theme = m;"
            " document.documentElement.dataset.mode = m; }",
            mode,
        )
        page.evaluate(OPEN_EVERYTHING)
        page.wait_for_timeout(500)  # theme transition, dropdowns laid out, _static/a11y.js
        page.evaluate(axe)
        return page.evaluate(RUN_AXE, COLOUR_RULES if mode == "dark" else None)
    finally:
        context.close()


def _describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}, {v['count']}x): {v['help']}")
        lines += [f"    [{n['origin']}] {n['target']}: {n['html']}" for n in v["nodes"]]
    return "".join(f"\n  {line}" for line in lines)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("page_info", PAGES, ids=_ids(PAGES))
def test_no_serious_accessibility_violations(browser, server, axe_report, page_info, mode):
    violations = _audit(browser, server, page_info, mode, _axe_source())
    failing = [v for v in violations if v["impact"] in FAIL_IMPACTS]
    axe_report[f"{page_info.html} ({mode})"] = {
        "serious_or_critical": sum(v["count"] for v in failing),
        "total": sum(v["count"] for v in violations),
        "rules": {v["id"]: {"impact": v["impact"], "count": v["count"]} for v in violations},
    }
    check(
        not failing,
        f"{page_info.html} ({mode} mode): axe-core serious/critical violations:"
        + _describe(failing),
    )
