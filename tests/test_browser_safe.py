"""SAFE's phases and the stop button in Chromium (issue 14): a reviewer screens until the
stopping heuristic is met, sees the check with a second model, then the rule met; the lead
stops screening; publish counts the rest as "not screened: stopping rule".

Its own ``evidence screen`` server: ``order: relevance``, rule ``safe`` with a run of 3
(so a handful of decisions reach it), 24 records of two topics.
"""

from __future__ import annotations

import shutil
import sqlite3

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import EXAMPLE_CONFIG
from tests.screening_data import add_users, seed
from tests.test_browser_ranking import TITLES, shown
from tests.test_browser_screening import (
    PASSWORD,
    both_sizes,
    evidence,
    login,
    login_lead,
    logout,
    start_server,
    stop_server,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("safe")
    config_path, db_path = directory / "evidence.yml", directory / "evidence.db"
    shutil.copy(EXAMPLE_CONFIG, config_path)
    text = config_path.read_text(encoding="utf-8").replace(
        "order: newest", "order: relevance\n  stopping:\n    rule: safe\n"
        "    consecutive_exclusions: 3")
    config_path.write_text(text, encoding="utf-8")
    seed(db_path, config_path, 24, titles=TITLES)
    add_users(db_path, {"ana": "lead", "bo": "reviewer"}, PASSWORD)
    process, url = start_server(directory)
    yield {"url": url, "db": db_path, "dir": directory}
    stop_server(process)


def screen(page: Page, *keys: str) -> int:
    """Decide the record shown with ``keys`` then ``n``; the id of the next record."""
    record_id = shown(page)
    for key in keys:
        page.keyboard.press(key)
    page.keyboard.press("n")
    expect(page.locator(f'article[data-record-id="{record_id}"]')).to_have_count(0)
    expect(page.locator("article.record")).to_have_count(1)
    return shown(page)


def test_reviewer_reaches_the_check_then_the_rule_and_the_lead_stops(server, page: Page):
    url, db = server["url"], server["db"]
    login_lead(page, url, "/-/screen/mine")  # before the rule: an early stop is confirmed
    page.goto(url + "/-/screen")
    page.click("details.stop-early summary")
    expect(page.locator("details.stop-early input[name=confirm]")).to_be_visible()
    both_sizes(page, "safe-early-stop-lead")
    logout(page)
    login(page, url, "bo")
    phase = page.locator("#safe-phase")
    expect(phase).to_contain_text("SAFE fase 1, aktiv læring")
    expect(page.locator("#stop-form")).to_have_count(0)  # a reviewer never sees the button
    screen(page, "i")
    for _ in range(12):  # exclusions until the heuristic is met and the check begins
        if "fase 2" in phase.inner_text():
            break
        screen(page, "e", "1")
    expect(phase).to_contain_text("SAFE fase 2, kontroll med en annen modell: 0 av 3")
    both_sizes(page, "safe-checking")
    for done in (1, 2, 3):
        screen(page, "e", "1")
        if done < 3:
            expect(phase).to_contain_text(f"{done} av 3 ekskluderte på rad")
    expect(phase).to_contain_text("SAFE-regelen er oppfylt: dere kan stoppe")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM stopping_events WHERE kind ="
                            " 'check_started'").fetchone()[0] == 1
    logout(page)

    login_lead(page, url, "/-/screen/mine")
    page.goto(url + "/-/screen")
    expect(page.locator("#stop-button")).to_be_visible()
    both_sizes(page, "safe-rule-met-lead")
    page.click("#stop-button")
    expect(page.locator("#stopped")).to_contain_text("Gjennomgangen ble stoppet")
    expect(page.locator("#stopped")).to_contain_text("av ana")
    expect(page.locator("#undo-stop")).to_be_visible()
    both_sizes(page, "safe-stopped-lead")

    with sqlite3.connect(db) as conn:
        never = conn.execute("SELECT count(*) FROM records WHERE id NOT IN"
                             " (SELECT record_id FROM decisions)").fetchone()[0]
    evidence("publish", "--out", "published.db", cwd=server["dir"])
    with sqlite3.connect(server["dir"] / "published.db") as pub:
        count = pub.execute("SELECT count FROM prisma WHERE step ="
                            " 'not_screened_stopping_rule'").fetchone()
    assert count == (never,) and never > 0
