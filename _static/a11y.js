// Accessibility fixes checked by axe-core (tests/browser/test_accessibility.py). Included by
// _config.yml (sphinx.config.html_js_files).

// Rule "region" (all content inside landmarks): the theme's primary sidebar (book title,
// search button, table of contents) is a plain <div>; make it a named complementary landmark.
document.addEventListener("DOMContentLoaded", () => {
  const sidebar = document.getElementById("pst-primary-sidebar");
  if (sidebar && !sidebar.hasAttribute("role")) {
    sidebar.setAttribute("role", "complementary");
    sidebar.setAttribute("aria-label", "Book navigation");
  }
});

// Rule "scrollable-region-focusable" (keyboard users can scroll what scrolls): the theme gives
// scrolling code blocks and outputs tabindex=0 at load time, when those inside a closed
// solution dropdown are hidden and do not scroll yet. Redo it when a dropdown or a <details>
// opens, once its content is laid out.
const SCROLLABLE = "pre, .cell_output > .output, .pst-scrollable-table-container";

function addTabStops(root) {
  root.querySelectorAll(SCROLLABLE).forEach((el) => {
    if (el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight) el.tabIndex = 0;
  });
}

document.addEventListener("click", (event) => {
  const box = event.target.closest && event.target.closest(".dropdown, details");
  if (box) setTimeout(() => addTabStops(box), 100);
});
document.addEventListener("toggle", (event) => addTabStops(event.target), true);
