"""Relevance order, stopping figures and theme suggestions in Chromium (issue 14).

Its own ``evidence screen`` server: one reviewer per record, ``order: relevance`` (fallback
``newest``), the SAFE rule, and 24 records of two topics: odd ids about loneliness among older
people, even ids about football injuries.
"""

from __future__ import annotations

import shutil
import sqlite3
import time

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import EXAMPLE_CONFIG
from tests.screening_data import add_users, seed
from tests.test_browser_screening import (
    PASSWORD,
    both_sizes,
    keys_ready,
    login,
    on_record,
    rows,
    start_server,
    stop_server,
    votes,
)

pytestmark = pytest.mark.browser
TITLES = {i: (f"Loneliness and social isolation among older people living alone, study {i}"
              if i % 2 else f"Football injuries in professional league players, season {i}")
          for i in range(1, 25)}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("ranking")
    config_path, db_path = directory / "evidence.yml", directory / "evidence.db"
    shutil.copy(EXAMPLE_CONFIG, config_path)
    text = config_path.read_text(encoding="utf-8").replace(
        "order: newest", "order: relevance\n  stopping:\n    rule: safe")
    config_path.write_text(text, encoding="utf-8")
    seed(db_path, config_path, 24, titles=TITLES)
    add_users(db_path, {"ana": "lead", "bo": "reviewer"}, PASSWORD)
    process, url = start_server(directory)
    yield {"url": url, "db": db_path}
    stop_server(process)


@pytest.fixture(autouse=True)
def fresh_decisions(server):
    with sqlite3.connect(server["db"]) as conn:
        conn.execute("DELETE FROM record_themes")
        conn.execute("DELETE FROM decisions")
        conn.execute("DELETE FROM screening_skips")


def shown(page: Page) -> int:
    keys_ready(page)
    return int(page.locator("article.record").get_attribute("data-record-id"))


def next_record(page: Page, after: int) -> int:
    """Wait until the page shows a record other than ``after`` (the form was saved)."""
    expect(page.locator(f'article[data-record-id="{after}"]')).to_have_count(0)
    expect(page.locator("article.record")).to_have_count(1)
    return shown(page)


def ranked_record(page: Page, url: str) -> int:
    """Reload until the background model has ranked the queue (the relevance line shows)."""
    deadline = time.monotonic() + 60
    while True:
        page.goto(url + "/-/screen")
        if page.locator("p.relevance").count() or time.monotonic() > deadline:
            return shown(page)
        time.sleep(0.5)


def test_relevance_order_moves_inclusions_up(server, page: Page):
    url = server["url"]
    login(page, url, "bo")
    on_record(page, 1)  # no model yet: newest first (all one year, so by id)
    page.keyboard.press("i")
    page.keyboard.press("n")
    next_record(page, 1)
    on_record(page, 2)
    page.keyboard.press("e")
    page.keyboard.press("1")
    page.keyboard.press("n")
    next_record(page, 2)
    seen = [ranked_record(page, url)]
    for _ in range(3):
        page.keyboard.press("i")
        page.keyboard.press("n")
        seen.append(next_record(page, seen[-1]))
    assert all(r % 2 == 1 for r in seen), seen  # the loneliness records came up first
    expect(page.locator("p.relevance")).to_be_visible()
    both_sizes(page, "ranking-record")


def test_theme_suggestion_is_accepted_with_the_keyboard(server, page: Page):
    url, db = server["url"], server["db"]
    votes(db, (1, "ana", "include", {"theme_slugs": ["loneliness"]}),
          (2, "ana", "include", {"theme_slugs": ["workforce"]}),
          (4, "ana", "exclude", {"reason": "wrong-topic"}))
    login(page, url, "bo")
    record_id = ranked_record(page, url)
    assert record_id % 2 == 1
    page.keyboard.press("i")
    first = page.locator("#suggestions button.suggestion").first
    expect(first).to_be_visible()
    expect(first).to_contain_text("%")
    page.keyboard.press("t")
    expect(page.locator('input[name=themes][value="loneliness"]')).to_be_checked()
    expect(first).to_have_class("suggestion accepted")
    both_sizes(page, "ranking-suggestions")
    page.keyboard.press("n")
    expect(page.locator(f'article[data-record-id="{record_id}"]')).to_have_count(0)
    assert rows(db, f"SELECT themes FROM decisions WHERE reviewer = 'bo'"
                    f" AND record_id = {record_id}") == [('["loneliness"]',)]


def test_stopping_figures_appear(server, page: Page):
    url, db = server["url"], server["db"]
    votes(db, (1, "ana", "include", {}),
          *[(i, "ana", "exclude", {"reason": "wrong-topic"}) for i in (2, 4, 6)])
    login(page, url, "bo")
    figures = page.locator("#stopping")
    expect(figures).to_be_visible()
    expect(figures).to_contain_text("4 av 24 vurdert")
    expect(figures).to_contain_text("1 inkludert")
    expect(figures).to_contain_text("3 ekskluderte på rad")
    expect(figures).to_contain_text("SAFE")
    both_sizes(page, "ranking-stopping")
