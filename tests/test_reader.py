"""The reader's own school first (GET /_me): in Debian's Chromium, through the shipped nginx and the
session-check stand-in, as an ADML, a teacher of two classes in two schools and a super administrator; and
from disk, where nothing answers /_me, as before."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from nginx_helpers import running_nginx
from test_access import build_access_site

from pipeline.serve import SESSION_COOKIE

OWN_TITLE = "Vos établissements et classes"


@pytest.fixture(scope="module")
def access_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_access_site(tmp_path_factory.mktemp("reader"))


@pytest.fixture(scope="module")
def nginx(access_site: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    site, directory = access_site
    with running_nginx(site, directory, tmp_path_factory.mktemp("nginx")) as port:
        yield port


@pytest.fixture
def tab(browser, nginx: int):
    """A new browser tab for a user of users.csv (a session cookie of the stand-in), on nginx."""
    contexts, errors = [], []

    def open_as(uid: str):
        base = f"http://127.0.0.1:{nginx}/"
        context = browser.new_context(locale="fr-FR")
        context.add_cookies([{"name": SESSION_COOKIE, "value": uid, "url": base}])
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.base = base
        return page

    yield open_as
    for context in contexts:
        context.close()
    assert not errors


def test_an_adml_enters_at_their_school_then_finds_it_first_in_the_index(tab) -> None:
    page = tab("adml-s1")
    page.goto(page.base)
    page.wait_for_url("**/structures/s1/index.html")
    assert "Lycée Un" in page.locator("h1").inner_text()
    page.locator("a.brand").click()  # back to the index: the whole list, theirs first
    page.wait_for_url("**/index.html")
    own = page.locator("#own")
    own.wait_for()
    assert own.locator("h2").inner_text() == OWN_TITLE
    assert own.locator("li a").all_inner_texts() == ["Lycée Un", "2nde A — Lycée Un"]
    assert own.locator("li a").first.get_attribute("href") == "structures/s1/index.html"
    assert page.url.endswith("/index.html")  # once a tab: the index is not left again


def test_a_teacher_of_two_schools_enters_at_their_first_class_and_switches_to_the_other(tab) -> None:
    page = tab("teacher-2")
    page.goto(page.base)
    page.wait_for_url("**/structures/s2/classes/c3/index.html")
    page.locator("#switcher-toggle").click()
    panel = page.locator("#switcher-panel")
    first_title = panel.locator("h2").first
    first_title.wait_for()
    assert first_title.text_content() == OWN_TITLE
    own = panel.locator("ul.own a")
    assert own.all_inner_texts() == ["6e A — Collège Deux", "2nde A — Lycée Un"]
    assert own.first.get_attribute("aria-current") == "page"
    own.nth(1).click()
    page.wait_for_url("**/structures/s1/classes/c1/index.html")
    assert page.locator("h1").inner_text().startswith("Synthèse")


def test_a_super_administrator_stays_on_the_whole_index_with_their_structure_first(tab) -> None:
    page = tab("admin")
    page.goto(page.base)
    own = page.locator("#own")
    own.wait_for()
    assert own.locator("li a").all_inner_texts() == ["Collège Deux"]
    assert page.url == page.base and page.locator("#structures li").count() == 2


def test_from_disk_nothing_answers_me_and_the_index_is_as_before(browser, access_site) -> None:
    site, _directory = access_site
    context = browser.new_context()
    try:
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto((site / "index.html").as_uri())
        page.locator("#structures li").first.wait_for()
        page.wait_for_timeout(300)  # time for an answer that must not come
        assert page.locator("#own").is_hidden() and page.url.endswith("/index.html") and not errors
    finally:
        context.close()
