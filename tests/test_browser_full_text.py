"""The full-text stage in Chromium: the queue of records included at title/abstract, deciding
with the keyboard, "full text not retrievable", a lead resolving a full-text conflict, and
the page on a laptop and a phone.

One ``evidence screen`` server for the module (two stages, blind dual screening). The
title/abstract decisions each test needs are written straight into the database (through
the one writer), so each test starts where the full-text stage begins.

With EVIDENCE_SCREENSHOTS=DIR set, also writes screenshots of the full-text page there.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from evidence.db.decisions import save_decision
from tests.conftest import EXAMPLE_CONFIG
from tests.screening_data import add_users, seed
from tests.test_browser_screening import (
    PASSWORD,
    keys_ready,
    login,
    rows,
    start_server,
    stop_server,
)
from tests.test_full_text import two_stages

pytestmark = pytest.mark.browser
IMAGES = os.environ.get("EVIDENCE_SCREENSHOTS")
SIZES = {"laptop": (1366, 768), "phone": (390, 844)}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("full-text")
    config_path, db_path = directory / "evidence.yml", directory / "evidence.db"
    shutil.copy(EXAMPLE_CONFIG, config_path)
    (directory / "pdfs").mkdir()
    (directory / "pdfs" / "1.pdf").write_bytes(b"%PDF-1.4 test")
    two_stages(config_path, reviewers=2, folder="pdfs")
    seed(db_path, config_path, 6)
    add_users(db_path, {"ana": "lead", "bo": "reviewer", "cy": "reviewer"}, PASSWORD)
    process, url = start_server(directory)
    yield {"url": url, "db": db_path}
    stop_server(process)


@pytest.fixture(autouse=True)
def included_at_title_abstract(server):
    """Records 1 to 3 included at title/abstract by both reviewers, nothing else decided."""
    with sqlite3.connect(server["db"], isolation_level=None) as conn:
        conn.execute("DELETE FROM record_themes")
        conn.execute("DELETE FROM decisions")
        for record_id in (1, 2, 3):
            for reviewer in ("bo", "cy"):
                save_decision(conn, record_id, reviewer, "include", theme_slugs=["stigma"])


def on_full_text_record(page: Page, record_id: int) -> None:
    expect(page.locator(f'article[data-record-id="{record_id}"]')).to_be_visible()
    expect(page.locator("section.full-text")).to_be_visible()
    keys_ready(page)


def test_full_text_queue_with_the_keyboard_and_not_retrievable(server, page: Page):
    login(page, server["url"], "bo")
    page.click("nav >> text=Fulltekst")
    expect(page).to_have_url(server["url"] + "/-/screen/full-text")
    on_full_text_record(page, 1)
    expect(page.locator("#left")).to_contain_text("3 av 3")
    expect(page.locator("section.full-text a.pdf")).to_have_attribute(
        "href", "/-/screen/full-text/pdf/1")
    expect(page.locator("section.full-text a.link-doi")).to_have_attribute(
        "href", "https://doi.org/10.1000/t1")
    # the reviewer's themes from title/abstract are there already
    expect(page.locator("input[name=themes][value=stigma]")).to_be_checked()
    page.keyboard.press("e")
    expect(page.locator("fieldset.reasons")).to_be_visible()
    page.keyboard.press("3")  # the third full-text reason
    expect(page.locator("input[name=reason][value=wrong-outcome]")).to_be_checked()
    page.keyboard.press("n")
    on_full_text_record(page, 2)
    page.keyboard.press("r")  # full text not retrievable
    on_full_text_record(page, 3)
    expect(page.locator("#left")).to_contain_text("1 av 3")
    assert rows(server["db"], "SELECT record_id, stage, decision, reason FROM decisions"
                " WHERE stage = 'full_text' ORDER BY id") == [
        (1, "full_text", "exclude", "wrong-outcome"),
        (2, "full_text", "exclude", "not-retrieved")]
    # the local PDF opens for a logged-in reviewer
    response = page.request.get(server["url"] + "/-/screen/full-text/pdf/1")
    assert response.status == 200 and response.body() == b"%PDF-1.4 test"


def test_lead_resolves_a_full_text_conflict(server, page: Page):
    with sqlite3.connect(server["db"], isolation_level=None) as conn:
        save_decision(conn, 2, "bo", "include", stage="full_text")
        save_decision(conn, 2, "cy", "exclude", stage="full_text", reason="wrong-population")
    login(page, server["url"], "ana")
    page.goto(server["url"] + "/-/screen/conflicts")
    expect(page.locator("section.conflict")).to_have_count(0)
    page.click("nav.stage-tabs >> text=Fulltekst")
    card = page.locator('section.conflict[data-record-id="2"]')
    expect(card).to_be_visible()
    expect(card).to_contain_text("Feil populasjon")
    if IMAGES:
        page.screenshot(path=str(Path(IMAGES) / "screening-full-text-conflicts.png"))
    card.locator("form[data-agree=a] button").click()  # agree with bo: include
    expect(page).to_have_url(server["url"] + "/-/screen/conflicts?stage=full_text")
    expect(page.locator("section.conflict")).to_have_count(0)
    assert rows(server["db"], "SELECT decision, stage FROM record_status WHERE record_id = 2") \
        == [("include", "full_text")]
    assert rows(server["db"], "SELECT stage, decision FROM decisions WHERE reviewer = 'ana'") \
        == [("full_text_resolution", "include")]


@pytest.mark.parametrize("size", list(SIZES))
def test_full_text_page_fits_laptop_and_phone(server, page: Page, size: str):
    width, height = SIZES[size]
    with sqlite3.connect(server["db"], isolation_level=None) as conn:  # found by enrich
        conn.execute("UPDATE records SET oa_url = 'https://peerj.com/articles/4375.pdf'"
                     " WHERE id = 1")
    page.set_viewport_size({"width": width, "height": height})
    login(page, server["url"], "bo")
    page.goto(server["url"] + "/-/screen/full-text")
    on_full_text_record(page, 1)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    expect(page.locator("form.not-retrievable button")).to_be_visible()
    expect(page.locator("section.full-text a.link-oa")).to_have_attribute(
        "href", "https://peerj.com/articles/4375.pdf")
    if IMAGES:
        page.screenshot(path=str(Path(IMAGES) / f"screening-full-text-{size}.png"),
                        full_page=False)
