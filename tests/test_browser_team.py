"""Issue 24 in Chromium: a record page with 19 themes keeps summary and Save in view, theme
conflicts on the lead's cards (a / b / c, undo with u), the lead's history of a record, the
team's progress, the notice reviewers see after a stop, and full text turned on while the app
runs. Same server and helpers as tests/test_browser_screening.py (a module of its own, so the
two modules' servers never share a decision history)."""

from __future__ import annotations

import json
import sqlite3

import pytest
from playwright.sync_api import Page, expect

from tests import test_browser_screening as base
from tests.test_browser_screening import (
    LAPTOP,
    PHONE,
    both_sizes,
    keys_ready,
    login,
    login_lead,
    no_sideways_scroll,
    on_record,
    rows,
    screenshot,
    votes,
)

#: the same server and clean decision history per test as tests/test_browser_screening.py
server, fresh_decisions = base.server, base.fresh_decisions

pytestmark = pytest.mark.browser


def in_view(page: Page, selector: str, size: dict) -> None:
    """The element is fully on screen without scrolling the page."""
    box = page.locator(selector).bounding_box()
    assert box and 0 <= box["y"] and box["y"] + box["height"] <= size["height"], (selector, box)


@pytest.mark.parametrize("size", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_nineteen_themes_leave_summary_note_and_save_in_view(server, page: Page, size):
    url, name = server["url"], "laptop" if size == LAPTOP else "phone"
    page.set_viewport_size(size)
    login(page, url, "bo")
    page.goto(url + "/-/screen/record/1")
    on_record(page, 1)
    page.keyboard.press("i")
    expect(page.locator("fieldset.themes input[name=themes]")).to_have_count(19)
    screenshot(page, f"team-record-19-themes-{name}.png")
    for selector in ("#summary", "#note", "#decision-form button.primary"):
        in_view(page, selector, size)
    no_sideways_scroll(page)
    # the digits still tick themes; / filters the list and Enter ticks the first one shown
    page.keyboard.press("1")
    page.keyboard.press("9")
    expect(page.locator('input[name=themes][data-number="19"]')).to_be_checked()
    page.keyboard.press("/")
    page.keyboard.type("stigma")
    expect(page.locator("fieldset.themes label:visible")).to_have_count(1)
    page.keyboard.press("Enter")
    expect(page.locator('input[name=themes][value="stigma"]')).to_be_checked()
    expect(page.locator("fieldset.themes label:visible")).to_have_count(19)
    expect(page.locator("fieldset.themes .chosen-count")).to_contain_text("2 valgt")
    page.locator("#summary").fill("A line for the public.")
    page.locator("#summary").press("Escape")
    in_view(page, "#decision-form button.primary", size)
    screenshot(page, f"team-record-19-themes-chosen-{name}.png")
    page.keyboard.press("n")
    on_record(page, 2)
    assert rows(server["db"], "SELECT themes, summary FROM decisions WHERE record_id = 1") == [
        (json.dumps(["stigma", "substance-addiction"]), "A line for the public.")]


def test_theme_conflict_is_resolved_with_a_key_shown_and_undone(server, page: Page):
    url, db = server["url"], server["db"]
    votes(db, (4, "bo", "include", {"theme_slugs": ["health-economics"],
                                    "summary": "Costs of <i>care</i>."}),
          (4, "cy", "include", {"theme_slugs": ["comorbidity"]}),
          (5, "bo", "include", {}), (5, "cy", "exclude", {"reason": "wrong-topic"}))
    login_lead(page, url, "/-/screen/conflicts")
    expect(page.locator("#conflict-count")).to_contain_text("Åpne uenigheter: 2")
    expect(page.locator("#conflict-count")).to_contain_text("temauenigheter: 1")
    card = page.locator("section.conflict-themes")
    expect(card).to_have_attribute("data-record-id", "4")
    expect(card).to_contain_text("Costs of <i>care</i>.")  # shown as text, escaped
    both_sizes(page, "team-conflicts-theme")
    if base.IMAGES:
        for label, size in (("phone", PHONE), ("laptop", LAPTOP)):
            page.set_viewport_size(size)
            card.screenshot(path=f"{base.IMAGES}/team-conflicts-theme-card-{label}.png")
    keys_ready(page)
    # the first card is the decision conflict: resolve it with "b" (agree with cy)
    page.keyboard.press("b")
    expect(page.locator("p.message")).to_be_visible()
    expect(page.locator("section.conflict")).to_have_count(1)
    keys_ready(page)
    page.keyboard.press("a")  # bo's themes on the theme conflict
    expect(page.locator("section.conflict")).to_have_count(0)
    expect(page.locator("#conflict-count")).to_contain_text("Åpne uenigheter: 0")
    first = page.locator("li.resolved").first
    expect(first).to_contain_text("Inkludert, temaene til bo")
    both_sizes(page, "team-conflicts-resolved")
    assert rows(db, "SELECT t.slug FROM record_themes rt JOIN themes t ON t.id = rt.theme_id"
                " WHERE rt.record_id = 4") == [("health-economics",)]
    keys_ready(page)
    page.keyboard.press("u")  # undo the latest resolution: the card comes back
    expect(page.locator("section.conflict-themes")).to_have_count(1)
    page.goto(url + "/-/screen/mine")
    expect(page.locator("table.resolutions")).to_contain_text("Ekskluder")


def test_lead_sees_every_vote_resolution_and_undo_of_a_record(server, page: Page):
    url, db = server["url"], server["db"]
    votes(db, (6, "bo", "include", {"theme_slugs": ["stigma"], "summary": "Stigma."}),
          (6, "cy", "include", {"theme_slugs": ["loneliness"], "summary": "Loneliness."}))
    from evidence.db.decisions import RESOLUTION

    votes(db, (6, "ana", "include", {"stage": RESOLUTION, "theme_slugs": ["stigma"],
                                     "summary": "Stigma."}))
    with sqlite3.connect(db) as conn:
        [(last,)] = conn.execute("SELECT max(id) FROM decisions").fetchall()
    votes(db, (6, "ana", None, {"stage": RESOLUTION, "undoes": last}),
          (6, "ana", "include", {"stage": RESOLUTION, "theme_slugs": ["stigma", "loneliness"],
                                 "summary": "Both."}))
    login_lead(page, url, "/-/screen/record/6")
    expect(page.locator("#record-state .final")).to_contain_text("avgjort av ana")
    expect(page.locator("#decision-form input[name=decision]")).to_have_count(0)  # no 3rd vote
    history = page.locator(".history-row")
    expect(history).to_have_count(5)
    expect(history.nth(0)).to_contain_text("bo")
    expect(history.nth(1)).to_contain_text("Loneliness.")
    expect(history.nth(3)).to_contain_text("Angret")
    expect(history.nth(4)).to_contain_text("Avgjørelse")
    both_sizes(page, "team-record-history")
    if base.IMAGES:
        page.screenshot(path=f"{base.IMAGES}/team-record-history-full-laptop.png", full_page=True)
    # a reviewer who did not vote sees the final state, not a form inviting a vote
    page.context.clear_cookies()
    login(page, url, "bo")
    page.goto(url + "/-/screen/record/6")
    expect(page.locator("#decision-form input[name=decision]")).to_have_count(3)  # bo's own
    expect(page.locator(".history-row")).to_have_count(0)


def test_progress_of_a_dual_team_and_too_few_records_for_kappa(server, page: Page):
    url, db = server["url"], server["db"]
    votes(db, (1, "bo", "include", {}), (2, "bo", "exclude", {"reason": "wrong-topic"}),
          (2, "cy", "exclude", {"reason": "wrong-topic"}), (3, "bo", "include", {}),
          (3, "cy", "maybe", {}))
    login_lead(page, url, "/-/screen/summary")
    figures = page.locator("#team-progress")
    expect(figures.locator(".one-vote")).to_have_text("1")
    expect(figures.locator(".open-conflicts")).to_contain_text("1")
    expect(figures.locator(".done-count")).to_have_text("1")
    expect(page.locator("table.per-reviewer tbody tr")).to_have_count(2)
    expect(page.locator("td.kappa-few")).to_contain_text("for få poster (2 felles; minst 10")
    both_sizes(page, "team-summary")
    votes(db, *[(i, name, "include" if i % 3 else "exclude",
                 {} if i % 3 else {"reason": "wrong-topic"})
                for i in range(4, 13) for name in ("bo", "cy")])
    votes(db, (1, "cy", "include", {}))
    page.goto(url + "/-/screen/summary")
    expect(page.locator("td.kappa-value")).to_contain_text(",")  # decimal comma in nb
    expect(page.locator("td.kappa-ci")).to_contain_text("–")
    both_sizes(page, "team-summary-kappa")


def test_reviewers_see_that_screening_was_stopped_and_what_is_left(server, page: Page):
    from evidence.models import safe

    url, db = server["url"], server["db"]
    votes(db, (3, "cy", "include", {}))
    conn = sqlite3.connect(db)
    try:
        safe.stop_screening(conn, "ana", {"screened": 1, "total": 12})
        conn.commit()
        login(page, url, "bo")
        notice = page.locator("#stopped-notice")
        expect(notice).to_contain_text("stoppet")
        expect(notice).to_contain_text("Igjen for deg å vurdere: 1")
        on_record(page, 3)
        both_sizes(page, "team-stopped-reviewer")
        page.keyboard.press("e")
        page.keyboard.press("1")
        page.keyboard.press("n")
        expect(notice).to_contain_text("ingenting igjen for deg")
        expect(page.locator("article.record")).to_have_count(0)
        both_sizes(page, "team-stopped-nothing-left")
    finally:
        conn.execute("UPDATE stopping_events SET undone_at = '2000-01-01', undone_by = 'test'")
        conn.commit()
        conn.close()


def test_full_text_turned_on_while_the_app_runs_excludes_with_its_reasons(server, page: Page):
    url, db, config = server["url"], server["db"], server["config"]
    before = config.read_text(encoding="utf-8")
    votes(db, (2, "bo", "include", {"theme_slugs": ["stigma"]}),
          (2, "cy", "include", {"theme_slugs": ["stigma"]}))
    try:
        config.write_text(before.replace("screening:\n",
                                         "screening:\n  stages: [title_abstract, full_text]\n",
                                         1), encoding="utf-8")
        login(page, url, "bo")
        page.goto(url + "/-/screen/full-text")
        on_record(page, 2)
        page.keyboard.press("e")
        expect(page.locator("fieldset.reasons input[name=reason]")).not_to_have_count(0)
        page.keyboard.press("1")
        page.keyboard.press("n")
        expect(page.locator("p.message")).to_be_visible()
        assert rows(db, "SELECT stage, decision, reason IS NOT NULL FROM decisions"
                    " WHERE reviewer = 'bo' ORDER BY id DESC LIMIT 1") == [
            ("full_text", "exclude", 1)]
    finally:
        config.write_text(before, encoding="utf-8")
