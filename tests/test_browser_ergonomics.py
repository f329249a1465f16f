"""Reviewer ergonomics in Chromium at 1366x768 and 390 px (issue 24): the Find page renders
inline markup, a search phrase and an include word inside it are both marked, error pages
(403, 404) speak nb with the app's navigation, *Mine beslutninger* has labelled filters and
keeps words whole.

Its own ``evidence screen`` server: single screening, the example configuration (project
language nb, ``community`` an include word), 12 records, one with inline markup.
"""

from __future__ import annotations

import shutil
import sqlite3

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import EXAMPLE_CONFIG
from tests.screening_data import add_users, seed
from tests.test_browser_screening import (
    LAPTOP,
    PASSWORD,
    both_sizes,
    no_sideways_scroll,
    start_server,
    stop_server,
    votes,
)

pytestmark = pytest.mark.browser
#: Record 6 is found by the search for "community mental health" (even ids, screening_data).
TITLES = {
    6: "Peer support & <i>recovery colleges</i> in community mental health services: "
    "a realist review of implementation in municipalities",
    7: "Kunnskapsoppsummering om rusmiddelbruk og psykiske helseproblemer blant eldre i "
    "kommunale helse- og omsorgstjenester",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("ergonomics")
    config_path, db_path = directory / "evidence.yml", directory / "evidence.db"
    shutil.copy(EXAMPLE_CONFIG, config_path)
    seed(db_path, config_path, 12, titles=TITLES)
    add_users(db_path, {"ana": "lead", "rita": "reviewer"}, PASSWORD)
    process, url = start_server(directory)
    yield {"url": url, "db": db_path}
    stop_server(process)


@pytest.fixture(autouse=True)
def fresh_decisions(server):
    with sqlite3.connect(server["db"]) as conn:
        conn.execute("DELETE FROM record_themes")
        conn.execute("DELETE FROM decisions")


def login_to(page: Page, url: str, path: str, name: str = "rita") -> None:
    """Log in straight to ``path`` (opening the queue would claim a record)."""
    page.set_viewport_size(LAPTOP)
    page.goto(
        url + "/-/login?next=" + path.replace("/", "%2F").replace("?", "%3F").replace("=", "%3D")
    )
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("form.login button[type=submit]")
    expect(page.locator("main")).to_be_visible()


def test_find_page_renders_markup(server, page: Page):
    login_to(page, server["url"], "/-/screen/find?words=recovery")
    result = page.locator('li.result[data-record-id="6"] a.open')
    expect(result.locator("i")).to_have_text("recovery colleges")
    expect(result.locator("i mark")).to_have_text("recovery")
    expect(result).not_to_contain_text("<i>")
    expect(page.locator("span.who")).to_have_text("rita (vurderer)")
    both_sizes(page, "screening-find-markup")


def test_search_phrase_and_include_word_are_both_marked(server, page: Page):
    login_to(page, server["url"], "/-/screen/record/6")
    title = page.locator("h1.title")
    phrase = title.locator("mark:not([class])").filter(has_text="mental health")
    expect(phrase).to_have_text("community mental health")
    expect(phrase.locator("mark.hl-include")).to_have_text("community")
    expect(title.locator("i")).to_have_text("recovery colleges")
    both_sizes(page, "screening-highlight-phrase")


def test_error_pages_speak_nb_with_the_apps_navigation(server, page: Page):
    url = server["url"]
    login_to(page, url, "/-/screen/mine")
    for path, heading, name in (
        ("/-/screen/conflicts", "Ingen tilgang", "screening-403"),
        ("/evidence/decisions", "Ingen tilgang", "screening-403-table"),
        ("/-/screen/nowhere", "Fant ikke siden", "screening-404"),
        ("/nope", "Fant ikke siden", "screening-404-root"),
    ):
        response = page.goto(url + path)
        assert response.status == (403 if "403" in name else 404), path
        expect(page.locator("h1")).to_have_text(heading)
        expect(page).to_have_title(heading)
        expect(page.locator("header.bar nav a", has_text="Finn poster")).to_be_visible()
        expect(page.locator("p.way-back a").first).to_be_visible()
        both_sizes(page, name)


def test_my_decisions_keep_words_whole_and_label_their_filters(server, page: Page):
    votes(
        server["db"],
        (
            6,
            "rita",
            "include",
            {
                "theme_slugs": ["psychosocial-interventions", "stigma", "specific-populations"],
                "summary": "Peer support in recovery colleges.",
            },
        ),
        (7, "rita", "exclude", {"reason": "not-municipal"}),
        (8, "rita", "maybe", {}),
    )
    login_to(page, server["url"], "/-/screen/mine")
    for field in ("Søk", "Beslutning", "Eksklusjonsgrunn"):
        expect(page.get_by_label(field)).to_be_visible()
    expect(page.locator("td.title-cell i")).to_have_text("recovery colleges")
    page.set_viewport_size(LAPTOP)
    # no word is broken across lines: every word of a cell fits its column
    broken = page.evaluate("""() => [...document.querySelectorAll('table.list td')].filter(td => {
        const range = document.createRange();
        const walker = document.createTreeWalker(td, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
          for (const m of node.textContent.matchAll(/\\S+/g)) {
            range.setStart(node, m.index); range.setEnd(node, m.index + m[0].length);
            if (range.getClientRects().length > 1) return true;
          }
        }
        return false;
      }).map(td => td.textContent.trim().slice(0, 40))""")
    assert broken == [], broken
    no_sideways_scroll(page)
    both_sizes(page, "screening-mine")
