"""README screenshots of a summary page, a detail page (by week: the school holidays shaded), a detail page
on a phone (390 px), the platform's side-by-side page and the runs' history:
`python tests/screenshots.py SITE [OUT_DIR]`.

SITE is a built site (for instance the demo's, `python build.py demo --out /tmp/demo` → /tmp/demo/site);
OUT_DIR defaults to docs/screenshots. Needs Playwright (Python) and Debian's /usr/bin/chromium.
"""

from __future__ import annotations

import sys
from pathlib import Path

from chromium import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parent.parent


def entity_folder(site: Path) -> Path:
    """The first structure listed on the root index (the platform when there is none)."""
    structures = sorted(p for p in (site / "structures").glob("*/index.html"))
    return structures[0].parent if structures else site / "platform"


def take(
    site: Path, out: Path, page_name: str = "connections.html", view: str = "#grouping=week"
) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    folder = entity_folder(site)
    desktop, phone = {"width": 1280, "height": 900}, {"width": 390, "height": 844}
    shots = [
        (folder / "index.html", out / "summary.png", desktop),
        (folder / page_name, out / "detail.png", desktop),
        (folder / "hourly_peak.html", out / "phone.png", phone),
        (site / "platform" / "structures.html", out / "compare.png", desktop),
        (site / "platform" / "runs.html", out / "runs.png", desktop),
    ]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=desktop, device_scale_factor=1)
        for source, target, viewport in shots:
            page.set_viewport_size(viewport)
            page.goto(source.resolve().as_uri() + (view if target.name == "detail.png" else ""))
            if source.name == "runs.html":  # its two charts drawn
                page.wait_for_selector("body[data-chart-ready='true']", state="attached")
                page.wait_for_timeout(200)
            elif source.name not in ("index.html", "structures.html"):  # a detail page: its chart drawn
                page.wait_for_selector("#chart svg .role-mark", state="attached")
                page.wait_for_timeout(200)
            if viewport is phone:  # the page down to the chart's axis, as a reader scrolls it
                height = page.evaluate("document.getElementById('chart').getBoundingClientRect().bottom + 16")
                clip = {"x": 0, "y": 0, "width": phone["width"], "height": height}
                page.screenshot(path=str(target), full_page=True, clip=clip)
            else:
                page.screenshot(path=str(target), full_page=False)
        browser.close()
    return [target for _, target, _ in shots]


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    out = Path(argv[1]) if len(argv) > 1 else ROOT / "docs" / "screenshots"
    for path in take(Path(argv[0]), out, *(argv[2:3])):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
