"""The shipped nginx configuration's headers and Content-Security-Policy, and pages that comply with it.

The tiny site of tests/test_pages.py is served by Debian's /usr/sbin/nginx with deploy/nginx/statistiques.conf
(tests/nginx_helpers.py) and read by Debian's headless Chromium, driven by Playwright, as a super
administrator: no page may trigger a CSP violation, and every chart must draw.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from chromium import rgb
from nginx_helpers import fetch, running_nginx
from test_pages import Page

from pipeline import assets
from pipeline.constants import HOLIDAY_COLOUR, INDICATORS, PROFILES
from pipeline.serve import SESSION_COOKIE

ADMIN = "admin"
STRUCTURE = "structures/s-lycee"
CLASS = f"{STRUCTURE}/classes/c-2nde-a"
READY = "body[data-chart-ready='true'] #chart svg .role-mark"
ASSET_CACHE = "private, max-age=31536000, immutable"
# Collects CSP violations from the start of every document (run before the page's own scripts).
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline") + " at " +
    (e.sourceFile || "?") + ":" + e.lineNumber + " " + (e.sample || ""));
}, true);
"""


@pytest.fixture(scope="module")
def site(tiny_site: Path) -> Path:
    return tiny_site


@pytest.fixture(scope="module")
def directory(tiny_site: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site's directory with its users (a super administrator and a parent), in a copy: the site and
    its folder are shared with other modules."""
    directory = tmp_path_factory.mktemp("csp") / "directory"
    shutil.copytree(tiny_site.parent / "directory", directory)
    (directory / "users.csv").write_text(
        "id,profile,structures,classes,functions\n"
        f"{ADMIN},Personnel,s-lycee,,SUPER_ADMIN\n"
        "parent,Relative,s-lycee,c-2nde-a,\n",
        encoding="utf-8",
    )
    return directory


@pytest.fixture(scope="module")
def nginx(site: Path, directory: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with running_nginx(site, directory, tmp_path_factory.mktemp("nginx")) as port:
        yield port


def directives(policy: str | None) -> dict[str, list[str]]:
    assert policy, "no Content-Security-Policy header"
    parsed = {}
    for part in policy.split(";"):
        name, *values = part.split()
        parsed[name.lower()] = values
    return parsed


def assert_security_headers(response, what: str) -> None:
    policy = directives(response.getheader("Content-Security-Policy"))
    assert policy["default-src"] == ["'self'"], what
    assert "'unsafe-inline'" not in response.getheader("Content-Security-Policy"), what
    assert set(policy["script-src"]) <= {"'self'", "'unsafe-eval'"}, what  # eval for Vega: see the config
    assert policy["style-src"] == ["'self'"], what
    for name in ("object-src", "base-uri", "frame-ancestors"):
        assert policy[name] == ["'none'"], (what, name)
    assert policy["form-action"] in (["'none'"], ["'self'"]), what
    assert response.getheader("X-Content-Type-Options") == "nosniff", what
    assert response.getheader("Referrer-Policy") in ("same-origin", "no-referrer", "strict-origin"), what


# Headers, through nginx -------------------------------------------------------------------------------
def test_pages_data_and_exports_are_never_stored(nginx: int) -> None:
    types = {
        "/": "text/html; charset=utf-8",
        "/index.html": "text/html; charset=utf-8",
        "/platform/index.html": "text/html; charset=utf-8",
        f"/{STRUCTURE}/": "text/html; charset=utf-8",
        f"/{STRUCTURE}/connections.html": "text/html; charset=utf-8",
        f"/{CLASS}/top_apps.html": "text/html; charset=utf-8",
        f"/{STRUCTURE}/data.js": "text/javascript; charset=utf-8",
        f"/{STRUCTURE}/summary.json": "application/json; charset=utf-8",
        f"/{STRUCTURE}/csv/connections-by-day.csv": "text/csv; charset=utf-8",
        f"/{CLASS}/csv/top_apps-month.csv": "text/csv; charset=utf-8",
        "/build.json": "application/json; charset=utf-8",
    }
    for uri, content_type in types.items():
        response = fetch(nginx, uri, ADMIN)
        assert response.status == 200, uri
        assert response.getheader("Cache-Control") == "no-store", uri
        assert response.getheader("Content-Type") == content_type, uri
        assert_security_headers(response, uri)


ASSET_TYPES = {
    "css": "text/css; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "svg": "image/svg+xml",
}


def test_only_the_hashed_assets_may_be_cached(nginx: int, site: Path) -> None:
    names = sorted(p.name for p in (site / "assets").iterdir() if p.suffix != ".gz")
    assert names and all(re.fullmatch(r"[a-z]+-[0-9a-f]{12}\.(js|css|svg)", n) for n in names), names
    for name in names:
        response = fetch(nginx, f"/assets/{name}", ADMIN)
        assert response.status == 200, name
        assert response.getheader("Cache-Control") == ASSET_CACHE, name
        assert response.getheader("Content-Type") == ASSET_TYPES[name.rpartition(".")[2]], name
        assert (
            response.getheader("Content-Encoding") is None
            and response.body == (site / "assets" / name).read_bytes()
        )
        assert_security_headers(response, name)
        zipped = fetch(nginx, f"/assets/{name}", ADMIN, headers={"Accept-Encoding": "gzip"})
        assert zipped.getheader("Content-Encoding") == "gzip", name
        assert gzip.decompress(zipped.body) == response.body and len(zipped.body) < len(response.body), name
    # a refusal is not kept: the reader may sign in a minute later
    for uid, status in ((None, 401), ("parent", 403)):
        refused = fetch(nginx, f"/assets/{names[0]}", uid)
        assert refused.status == status
        assert refused.getheader("Cache-Control") == "no-store"


def test_errors_carry_the_headers_too(nginx: int) -> None:
    for uri, uid, status in (
        (f"/{STRUCTURE}/index.html", None, 401),
        (f"/{STRUCTURE}/index.html", "parent", 403),
        (f"/{STRUCTURE}/nothing.html", ADMIN, 404),
        (f"/{STRUCTURE}/", "nobody-known", 401),
    ):
        response = fetch(nginx, uri, uid)
        assert response.status == status, (uri, uid)
        assert response.getheader("Cache-Control") == "no-store", (uri, uid)
        assert_security_headers(response, f"{status} {uri}")


def test_a_folder_without_its_slash_redirects_relatively(nginx: int) -> None:
    for folder in ("platform", STRUCTURE, CLASS):
        response = fetch(nginx, f"/{folder}", ADMIN)
        assert response.status == 301, folder
        # no scheme, host or port: the browser keeps the https:// and host of the proxy in front
        assert response.getheader("Location") == f"/{folder}/", folder
        assert response.getheader("Cache-Control") == "no-store", folder
        assert_security_headers(response, folder)


# The pages comply, without a browser ------------------------------------------------------------------
INLINE_EVENT = re.compile(r"on[a-z]+")


def markup(site: Path) -> dict[str, str]:
    """Every page of the site, and the charts' controls that detail.js puts into the detail pages."""
    texts = {str(path): path.read_text(encoding="utf-8") for path in sorted(site.rglob("*.html"))}
    config = next((site / "assets").glob("charts-*.js")).read_text(encoding="utf-8")
    config = json.loads(config.removeprefix("window.STATS_CONFIG=").rstrip().removesuffix(";"))
    for indicator in config["indicators"]:
        for part, html in indicator["controls"].items():
            texts[f"controls of {indicator['id']} ({part})"] = html
    return texts


def test_no_page_has_inline_script_style_or_event_handler(site: Path) -> None:
    texts = markup(site)
    assert len(texts) > 20 and sum("controls" in name for name in texts) == 2 * len(INDICATORS)
    for path, text in texts.items():
        page = Page(text)
        for tag, attrs in page.tags:
            assert tag != "style", path
            assert "style" not in attrs, (path, tag, attrs)
            assert not [a for a in attrs if INLINE_EVENT.fullmatch(a)], (path, tag, attrs)
            if tag == "script":
                assert attrs.get("src"), (path, "inline script")
            assert not str(attrs.get("href") or "").lower().startswith("javascript:"), path


def test_swatch_colours_come_from_profiles(site: Path) -> None:
    css = next((site / "assets").glob("style-*.css")).read_text(encoding="utf-8")
    for profile in PROFILES:
        rules = re.findall(rf"\.swatch-{re.escape(profile.code)}\s*\{{([^}}]*)\}}", css)
        assert rules == [f" background: {profile.shade}; clip-path: {assets.SHAPE_CLIPS[profile.shape]}; "]
    assert re.findall(r"\.swatch-holiday\s*\{([^}]*)\}", css) == [f" background: {HOLIDAY_COLOUR}; "]
    used = set()
    for text in markup(site).values():
        used |= set(re.findall(r"\bswatch-([A-Za-z0-9_-]+)", text))
    assert used == {p.code for p in PROFILES} | {"holiday"}


# The pages in Chromium, through nginx -----------------------------------------------------------------
class Reader:
    """A super administrator's browser tab on nginx that records CSP violations, CSP console messages and
    uncaught errors."""

    def __init__(self, browser, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}/"
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
        self.context.add_cookies([{"name": SESSION_COOKIE, "value": ADMIN, "url": self.base}])
        self.context.add_init_script(WATCH_CSP)
        self.page = self.context.new_page()
        self.console: list[str] = []
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _console(self, message) -> None:
        if re.search(r"Content[ -]Security[ -]Policy", message.text, re.I):
            self.console.append(message.text)

    def violations(self) -> list[str]:
        return self.page.evaluate("window.__csp") + self.console

    def open(self, path: str, chart: bool) -> object:
        response = self.page.goto(self.base + path)
        assert response.status == 200, path
        assert "default-src 'self'" in response.headers["content-security-policy"], path
        if chart:
            try:
                self.page.wait_for_selector(READY, state="attached", timeout=20_000)
            except Exception as error:
                raise AssertionError(f"{path}: no chart; {self.violations()} {self.errors}") from error
            assert self.page.locator("#chart svg").count() == 1, path
        return self.page

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def reader(browser, nginx: int) -> Iterator[Reader]:
    session = Reader(browser, nginx)
    yield session
    session.close()


def test_every_kind_of_page_renders_without_a_csp_violation(reader: Reader) -> None:
    pages = [("index.html", False), ("platform/index.html", False), ("platform/connections.html", True)]
    pages += [(f"{STRUCTURE}/index.html", False)]
    pages += [(f"{STRUCTURE}/{i.id}.html", True) for i in INDICATORS]  # every kind of detail page
    pages += [(f"{CLASS}/index.html", False), (f"{CLASS}/activations.html", True)]
    pages += [("structures/s-hostile/top_apps.html", True)]  # names and app names written like scripts
    for path, chart in pages:
        page = reader.open(path, chart)
        assert reader.violations() == [], path
        assert page.locator("style").count() == 0, path  # nothing injected a <style>
    assert reader.errors == []


def test_tooltips_legend_and_switcher_work_under_the_policy(reader: Reader) -> None:
    page = reader.open("platform/connections.html", chart=True)
    tooltip = page.locator("#vg-tooltip-element")
    box = page.locator("#chart svg .mark-symbol path").nth(3).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tooltip.wait_for(state="visible")
    assert " connexions, dont " in tooltip.inner_text()
    # style.css styles it in place of vega-tooltip's injected <style>
    assert tooltip.evaluate("t => getComputedStyle(t).position") == "fixed"
    page.mouse.move(2, 2)
    tooltip.wait_for(state="hidden")
    # the swatches take their colours from the generated classes
    teacher = next(p for p in PROFILES if p.code == "Teacher").shade
    swatch = page.locator(".legend-item[data-profile='Teacher'] .swatch")
    assert swatch.evaluate("s => getComputedStyle(s).backgroundColor") == rgb(teacher)
    before = page.locator("#chart").get_attribute("data-rendered")
    page.locator(".legend-item[data-profile='Teacher']").click()
    page.wait_for_function(
        "b => { const c = document.getElementById('chart'); return c.dataset.rendered !== b"
        " && c.querySelector('svg .role-mark'); }",
        arg=before,
    )
    page.locator("#switcher-toggle").click()  # loads nav.js by a script element
    page.locator("#switcher-panel .structures a", has_text="Victor Hugo").wait_for()  # from nav.js
    assert reader.violations() == []
    assert reader.errors == []


def test_the_watch_does_see_a_violation(reader: Reader) -> None:
    """The harness itself: an inline style and an inline script are refused and reported."""
    page = reader.open("index.html", chart=False)
    page.evaluate("""() => {
        const style = document.createElement("style");
        style.textContent = "body { color: red; }";
        document.head.appendChild(style);
        const script = document.createElement("script");
        script.textContent = "window.__ran = true;";
        document.head.appendChild(script);
    }""")
    page.wait_for_function("window.__csp.length >= 2")
    assert page.evaluate("window.__ran === undefined")
    found = reader.violations()
    assert any(v.startswith("style-src") for v in found), found
    assert any(v.startswith("script-src") for v in found), found


def test_an_export_downloads_as_csv_with_the_spec_bytes_through_nginx(reader: Reader, site: Path) -> None:
    """SPEC 3.2: the link names csv/<name>.csv, nginx answers it from the stored .gz, the browser saves
    <name>.csv holding the uncompressed bytes."""
    page = reader.open(f"{CLASS}/activations.html", chart=True)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Exporter les données").click()
    download = download_info.value
    assert download.suggested_filename == "activations-by-month.csv"
    stored = (site / CLASS / "csv" / "activations-by-month.csv.gz").read_bytes()
    assert Path(download.path()).read_bytes() == gzip.decompress(stored)
    assert reader.violations() == []


def test_a_first_detail_page_and_the_next_cross_the_network_compressed(reader: Reader) -> None:
    """Issue 12's budget, measured in Chromium through the shipped nginx configuration: a first detail
    page under 350 KB transferred (the chart runtime included), each later page under 30 KB."""
    transferred: list[tuple[str, int]] = []

    def record(request) -> None:
        sizes = request.sizes()
        transferred.append((request.url, sizes["responseBodySize"] + sizes["responseHeadersSize"]))

    reader.page.on("requestfinished", record)
    reader.open("platform/connections.html", chart=True)
    first = sum(size for _, size in transferred)
    assert first < 350_000, transferred
    vega = next(size for url, size in transferred if "/assets/vega-" in url)
    assert vega < 330_000, vega  # 900 KB on disk
    transferred.clear()
    reader.open("platform/unique_visitors.html", chart=True)
    later = sum(size for _, size in transferred)
    assert later < 30_000, transferred
    assert not any("/assets/" in url and size > 1_000 for url, size in transferred), transferred
