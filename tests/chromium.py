"""Debian's Chromium as the tests and the README screenshots drive it (Playwright's own download is never
used), and the colour arithmetic the browser tests check pages with."""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
# as root in a sandbox, with no GPU, and none of Chromium's own network calls (this machine refuses them)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


AXE_DEFAULT = "/opt/axe-core/node_modules/axe-core/axe.min.js"  # npm install --prefix /opt/axe-core axe-core


# picked in the page: only what is asserted crosses to Python, not axe's whole result (0.2-0.4 s a page)
_SERIOUS = """async selectors => {
  const result = await axe.run(document, {resultTypes: ['violations'], selectors});
  return result.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => [v.id, v.impact, v.nodes.map(n => n.target).slice(0, 3)]);
}"""


def serious_violations(page, axe_script: str | None) -> list[tuple]:
    """axe-core's serious and critical violations on the page: (rule, impact, first targets). Without
    `axe_script`, axe is already in the page (its context's init script: `with_axe`). The targets' CSS
    selectors are made only when there is a violation to show (on a day's table, 1 s of the page's 5)."""
    if axe_script is not None:
        page.add_script_tag(content=axe_script)
    found = page.evaluate(_SERIOUS, False)
    return [tuple(violation) for violation in page.evaluate(_SERIOUS, True)] if found else []


def with_axe(context, axe_script: str):
    """`context` with axe-core in every page it opens, before the page's own scripts: compiled at each load
    for a third of what adding it to a loaded page costs (0.05 s against 0.15-0.3 s here)."""
    context.add_init_script(script=axe_script)
    return context


def rgb(hex_colour: str) -> str:
    """`#rrggbb` as the browser computes it: `rgb(r, g, b)`."""
    return "rgb({}, {}, {})".format(*(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)))


def contrast(first: str, second: str) -> float:
    """WCAG contrast ratio of two CSS `rgb(…)` colours."""

    def luminance(colour: str) -> float:
        channels = [int(c) / 255 for c in colour[colour.index("(") + 1 : colour.index(")")].split(",")[:3]]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)
