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


def serious_violations(page, axe_script: str) -> list[tuple]:
    """axe-core's serious and critical violations on the page: (rule, impact, first targets)."""
    page.add_script_tag(content=axe_script)
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


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
