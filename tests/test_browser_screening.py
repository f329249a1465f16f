"""The screening app in Chromium, one test per behaviour the issue names.

One real ``evidence screen`` server per module (blind dual screening, two reviewers and a lead),
started as a subprocess and polled until it answers, as Datasette's own Playwright tests do.
Each test starts from an empty decision history (see ``fresh_decisions``), so the tests do not
depend on each other's order.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import EXAMPLE_CONFIG
from tests.screening_data import add_users, seed

pytestmark = pytest.mark.browser
PASSWORD = "correct horse"
RECORDS = 12
#: Titles for the finding and highlighting tests (the others keep the seeded ones).
TITLES = {3: "Rusmiddelbruk og psykisk helsearbeid blant unge i kommunene",
          4: "Protocol for a trial of cancer care in the community"}
LONG_ABSTRACT = "\n\n".join(
    f"{label}: " + " ".join(["Community mental health services in primary care were studied"
                              " across many municipalities and settings."] * 6)
    for label in ("BACKGROUND", "AIMS", "METHODS", "RESULTS", "DISCUSSION", "CONCLUSIONS"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def evidence(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evidence", *args], capture_output=True,
                          text=True, timeout=60, check=True, **kwargs)


def start_server(directory: Path) -> tuple[subprocess.Popen, str]:
    """``evidence screen`` in ``directory`` (its evidence.db and evidence.yml), once it answers."""
    port = free_port()
    env = {**os.environ, "EVIDENCE_SECRET": "browser-test-secret"}
    for name in ("EVIDENCE_DB", "EVIDENCE_CONFIG"):
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "evidence", "screen", "--host", "127.0.0.1", "--port", str(port)],
        cwd=directory, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/-/login", timeout=1)
            return process, url
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(process.stderr.read().decode()) from None
            time.sleep(0.2)


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("screen")
    config_path, db_path = directory / "evidence.yml", directory / "evidence.db"
    shutil.copy(EXAMPLE_CONFIG, config_path)
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text.replace("reviewers_per_record: 1", "reviewers_per_record: 2"),
                           encoding="utf-8")
    seed(db_path, config_path, RECORDS, titles=TITLES)
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE records SET abstract = ? WHERE id = 1", [LONG_ABSTRACT])
    add_users(db_path, {"ana": "lead", "bo": "reviewer", "cy": "reviewer"}, PASSWORD)
    process, url = start_server(directory)
    yield {"url": url, "db": db_path, "config": config_path}
    stop_server(process)


@pytest.fixture(autouse=True)
def fresh_decisions(server):
    """Every test starts with nobody having decided anything (the server keeps running)."""
    with sqlite3.connect(server["db"]) as conn:
        conn.execute("DELETE FROM record_themes")
        conn.execute("DELETE FROM decisions")
        conn.execute("DELETE FROM screening_skips")
        conn.execute("UPDATE users SET language = NULL")


def rows(db_path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db_path) as conn:
        return conn.execute(sql).fetchall()


def login(page: Page, url: str, name: str) -> None:
    page.goto(url + "/-/login")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("form.login button[type=submit]")
    expect(page).to_have_url(url + "/-/screen")


def logout(page: Page) -> None:
    page.click("form.logout button")


def on_record(page: Page, record_id: int) -> None:
    """Wait for the record and for screening.js to listen, so no key press is lost."""
    expect(page.locator(f'article[data-record-id="{record_id}"]')).to_be_visible()
    keys_ready(page)


def keys_ready(page: Page) -> None:
    expect(page.locator("body[data-keys=ready]")).to_have_count(1)


def decide(page: Page, *keys: str, record_id: int) -> None:
    """Press the keys on record ``record_id``, then ``n``, and wait for the next record."""
    on_record(page, record_id)
    for key in keys:
        page.keyboard.press(key)
    page.keyboard.press("n")
    on_record(page, record_id + 1)


def test_new_reviewer_is_added_and_logs_in_with_the_keyboard_only(server, page: Page):
    url = server["url"]
    evidence("users", "add", "dee", "--password-stdin", "--db", str(server["db"]),
             input="a new password\n")
    page.goto(url + "/-/login")
    expect(page.locator("#username")).to_be_focused()  # autofocus: type at once
    page.keyboard.type("dee")
    page.keyboard.press("Tab")
    page.keyboard.type("wrong password")
    page.keyboard.press("Enter")
    expect(page.locator("p.error")).to_be_visible()
    page.fill("#password", "a new password")
    page.locator("#password").press("Enter")
    expect(page).to_have_url(url + "/-/screen")
    expect(page.locator("form.logout .who")).to_contain_text("dee")
    on_record(page, 1)
    logout(page)
    expect(page).to_have_url(url + "/-/login")
    page.goto(url + "/-/screen")
    expect(page).to_have_url(url + "/-/login?next=%2F-%2Fscreen")


def test_screen_five_records_with_the_keyboard(server, page: Page):
    login(page, server["url"], "bo")
    expect(page.locator("#left")).to_contain_text(f"{RECORDS} av {RECORDS}")
    for record_id, key in enumerate(["m", "i", "m", "i", "m"], start=1):
        decide(page, key, record_id=record_id)
    expect(page.locator("#left")).to_contain_text(f"{RECORDS - 5} av {RECORDS}")
    # Help opens and closes with ?; keys do nothing while it is open.
    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_visible()
    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_hidden()
    assert rows(server["db"], "SELECT record_id, decision, stage, origin FROM decisions"
                " WHERE reviewer = 'bo' ORDER BY id") == [
        (1, "maybe", "screening", "web"), (2, "include", "screening", "web"),
        (3, "maybe", "screening", "web"), (4, "include", "screening", "web"),
        (5, "maybe", "screening", "web")]


def test_n_without_a_choice_skips_the_record(server, page: Page):
    login(page, server["url"], "bo")
    on_record(page, 1)
    page.keyboard.press("n")
    on_record(page, 2)
    assert rows(server["db"], "SELECT count(*) FROM decisions") == [(0,)]


def test_undo_with_u_appends_and_shows_the_record_again(server, page: Page):
    login(page, server["url"], "bo")
    decide(page, "m", record_id=1)
    decide(page, "i", record_id=2)
    page.keyboard.press("u")
    on_record(page, 2)
    expect(page.locator("p.message")).to_be_visible()
    expect(page.locator("input[name=decision]:checked")).to_have_count(0)
    # A second u undoes the decision before it.
    page.keyboard.press("u")
    on_record(page, 1)
    assert rows(server["db"], "SELECT record_id, decision, undoes FROM decisions"
                " WHERE reviewer = 'bo' ORDER BY id") == [
        (1, "maybe", None), (2, "include", None), (2, None, 2), (1, None, 1)]
    # Both are back in the queue.
    page.goto(server["url"] + "/-/screen")
    on_record(page, 1)
    expect(page.locator("#left")).to_contain_text(f"{RECORDS} av {RECORDS}")


def test_exclude_needs_a_reason_picked_with_a_digit(server, page: Page):
    login(page, server["url"], "bo")
    on_record(page, 1)
    page.keyboard.press("e")
    expect(page.locator("fieldset.reasons")).to_be_visible()
    expect(page.locator("fieldset.themes")).to_be_hidden()
    page.keyboard.press("n")  # no reason: refused, the record stays
    expect(page.locator("p.error")).to_be_visible()
    on_record(page, 1)
    assert rows(server["db"], "SELECT count(*) FROM decisions") == [(0,)]
    page.keyboard.press("e")
    page.keyboard.press("4")
    expect(page.locator('input[name=reason][value="wrong-topic"]')).to_be_checked()
    page.keyboard.press("n")
    on_record(page, 2)
    assert rows(server["db"], "SELECT record_id, decision, reason, themes FROM decisions") == [
        (1, "exclude", "wrong-topic", None)]


def test_include_with_two_themes_summary_and_note(server, page: Page):
    login(page, server["url"], "bo")
    on_record(page, 1)
    page.keyboard.press("i")
    expect(page.locator("fieldset.themes")).to_be_visible()
    page.keyboard.press("2")
    page.keyboard.type("12")  # two digits typed quickly: theme 12
    expect(page.locator('input[name=themes][data-number="2"]')).to_be_checked()
    expect(page.locator('input[name=themes][data-number="12"]')).to_be_checked()
    page.keyboard.press("3")  # toggles theme 3 on ...
    page.keyboard.press("3")  # ... and off again
    expect(page.locator('input[name=themes][data-number="3"]')).not_to_be_checked()
    page.fill("#summary", "A review on stigma in Norway.")
    page.locator("#summary").press("Escape")  # leave the field: keys screen again
    page.fill("#note", "check the method")
    page.locator("#note").press("Escape")
    page.keyboard.press("n")
    on_record(page, 2)
    db = server["db"]
    assert rows(db, "SELECT record_id, decision, themes, summary, note FROM decisions") == [
        (1, "include", '["stigma", "populations-norway"]', "A review on stigma in Norway.",
         "check the method")]
    assert rows(db, "SELECT t.slug FROM record_themes rt JOIN themes t ON t.id = rt.theme_id"
                " WHERE rt.record_id = 1 ORDER BY t.slug") == [
        ("populations-norway",), ("stigma",)]


def test_change_a_decision_from_my_decisions(server, page: Page):
    url = server["url"]
    login(page, url, "bo")
    decide(page, "m", record_id=1)
    page.goto(url + "/-/screen/mine?decision=maybe")
    row = page.locator("table.list tbody tr")
    expect(row).to_have_count(1)
    row.locator("a").click()
    on_record(page, 1)
    expect(page.locator('input[name=decision][value="maybe"]')).to_be_checked()
    page.keyboard.press("e")
    page.keyboard.press("5")
    page.keyboard.press("n")
    expect(page).to_have_url(url + "/-/screen/mine")
    expect(page.locator("table.list tbody tr.row-exclude")).to_have_count(1)
    assert rows(server["db"], "SELECT decision, reason FROM decisions ORDER BY id") == [
        ("maybe", None), ("exclude", "wrong-design")]


def test_dual_screening_is_blind_then_conflict_is_resolved_by_the_lead(server, page: Page):
    url, db = server["url"], server["db"]
    login(page, url, "bo")
    decide(page, "e", "4", record_id=1)
    decide(page, "i", record_id=2)
    logout(page)
    # Blind: cy starts at record 1 and sees nothing of bo's decision, not even by URL.
    login(page, url, "cy")
    on_record(page, 1)
    expect(page.locator("input[name=decision]:checked")).to_have_count(0)
    expect(page.locator("p.mine")).to_have_count(0)
    page.goto(url + "/-/screen/conflicts")
    expect(page.locator("section.conflict")).to_have_count(0)
    page.goto(url + "/-/screen")
    decide(page, "i", "1", record_id=1)  # disagrees with bo: a conflict
    decide(page, "i", record_id=2)       # agrees with bo
    logout(page)
    login(page, url, "ana")
    page.goto(url + "/-/screen/conflicts")
    expect(page.locator("section.conflict")).to_have_count(1)
    conflict = page.locator('section.conflict[data-record-id="1"]')
    expect(conflict).to_contain_text("bo")
    expect(conflict).to_contain_text("cy")
    keys_ready(page)
    page.keyboard.press("e")  # another decision than either reviewer's, with the keys
    page.keyboard.press("5")
    page.keyboard.press("n")
    expect(page.locator("p.message")).to_be_visible()
    expect(page.locator("section.conflict")).to_have_count(0)
    assert rows(db, "SELECT record_id, decision, conflict FROM record_status"
                " WHERE record_id IN (1, 2) ORDER BY record_id") == [
        (1, "exclude", 0), (2, "include", 0)]
    assert rows(db, "SELECT reviewer, stage, decision, reason FROM decisions"
                " WHERE stage = 'resolution'") == [("ana", "resolution", "exclude",
                                                    "wrong-design")]
    # cy's theme 1, typed just before n, was kept (n does not wait for a second digit).
    assert rows(db, "SELECT themes FROM decisions WHERE reviewer = 'cy' AND record_id = 1") == [
        ('["psychosocial-interventions"]',)]
    page.goto(url + "/-/screen/summary")
    kappa = page.locator("table.kappa tbody tr")
    expect(kappa).to_contain_text("bo / cy")
    expect(kappa.locator("td").nth(1)).to_have_text("2")


def test_new_reviewer_screens_the_demo_data_with_the_keyboard_only(tmp_path, page: Page):
    """The issue's "done when": `evidence demo`, `users add`, log in and screen, keys only."""
    evidence("demo", "--dir", str(tmp_path))
    evidence("users", "add", "eli", "--password-stdin", cwd=tmp_path, input="eli password\n")
    before = rows(tmp_path / "evidence.db", "SELECT count(*) FROM decisions")[0][0]
    process, url = start_server(tmp_path)
    try:
        page.goto(url + "/")
        expect(page).to_have_url(url + "/-/login?next=%2F-%2Fscreen")
        expect(page.locator("#username")).to_be_focused()
        page.keyboard.type("eli")
        page.keyboard.press("Tab")
        page.keyboard.type("eli password")
        page.keyboard.press("Enter")
        expect(page).to_have_url(url + "/-/screen")
        left = page.locator("#left").inner_text()
        # 3 is applied at once; 1 could start 1x, so n applies it (no wait).
        for keys in (["i", "3", "1"], ["e", "4"], ["m"], ["e", "5"], ["i", "2"]):
            keys_ready(page)
            record_id = page.locator("article.record").get_attribute("data-record-id")
            for key in keys:
                page.keyboard.press(key)
            page.keyboard.press("n")
            expect(page.locator(f'article[data-record-id="{record_id}"]')).to_have_count(0)
        expect(page.locator("#left")).not_to_have_text(left)
    finally:
        stop_server(process)
    assert rows(tmp_path / "evidence.db", "SELECT decision, reason, themes FROM decisions"
                f" WHERE reviewer = 'eli' AND id > {before} ORDER BY id") == [
        ("include", None, '["psychosocial-interventions", "loneliness"]'),
        ("exclude", "wrong-topic", None), ("maybe", None, None),
        ("exclude", "wrong-design", None), ("include", None, '["stigma"]')]


# --- issue 16: a team's screening (conflicts, refusals, finding, skip, phones, languages) ----

IMAGES = os.environ.get("EVIDENCE_SCREENSHOTS")
PHONE, LAPTOP = {"width": 390, "height": 844}, {"width": 1366, "height": 768}


def screenshot(page: Page, name: str) -> None:
    """With EVIDENCE_SCREENSHOTS=DIR set, keep a picture of the page there (to look at)."""
    if IMAGES:
        page.screenshot(path=str(Path(IMAGES) / name))


def login_lead(page: Page, url: str, path: str = "/-/screen/summary") -> None:
    """Log in as the lead straight to a lead's page: opening the queue would claim a record
    for ten minutes (screening/claims.py) and change which record a reviewer is shown next."""
    page.goto(url + "/-/login?next=" + path.replace("/", "%2F"))
    page.fill("#username", "ana")
    page.fill("#password", PASSWORD)
    page.click("form.login button[type=submit]")
    expect(page).to_have_url(url + path)


def both_sizes(page: Page, name: str) -> None:
    """Check and picture the page on a phone and a laptop, then leave it at the laptop size."""
    for label, size in (("phone", PHONE), ("laptop", LAPTOP)):
        page.set_viewport_size(size)
        no_sideways_scroll(page)
        screenshot(page, f"{name}-{label}.png")


def votes(db_path: Path, *rows: tuple) -> None:
    """Decisions straight into the history, as the app writes them (triggers keep the rest)."""
    from evidence.db.decisions import save_decision

    conn = sqlite3.connect(db_path)
    try:
        for record_id, reviewer, decision, extra in rows:
            save_decision(conn, record_id, reviewer, decision, **extra)
    finally:
        conn.close()


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("[document.documentElement.scrollWidth,"
                          " document.documentElement.clientWidth]")
    assert width[0] <= width[1], f"{page.url} scrolls sideways: {width}"


def test_conflict_cards_agree_with_one_click_or_a_key(server, page: Page):
    url, db = server["url"], server["db"]
    votes(db, (1, "bo", "exclude", {"reason": "wrong-topic", "summary": "Off topic."}),
          (1, "cy", "include", {"theme_slugs": ["stigma", "loneliness"],
                                "summary": "Stigma in services."}),
          (2, "bo", "include", {"theme_slugs": ["psychosocial-interventions"]}),
          (2, "cy", "maybe", {}))
    page.set_viewport_size(LAPTOP)
    login_lead(page, url)
    page.goto(url + "/-/screen/conflicts")
    cards = page.locator("section.conflict")
    expect(cards).to_have_count(2)
    first = page.locator('section.conflict[data-record-id="1"]')
    # Side by side: each reviewer's decision, reason, themes and summary, labelled.
    expect(first.locator(".vote")).to_have_count(2)
    expect(first.locator(".vote").nth(0)).to_contain_text("bo")
    expect(first.locator(".vote").nth(0)).to_contain_text("Feil tema")
    expect(first.locator(".vote").nth(0)).to_contain_text("Off topic.")
    expect(first.locator(".vote").nth(1)).to_contain_text("Stigma in services.")
    expect(first.locator("details.abstract-fold")).not_to_have_attribute("open", "")
    # The other-decision form starts from the union of the reviewers' themes.
    expect(first.locator('input[type=checkbox][value="stigma"]')).to_be_checked()
    expect(first.locator('input[type=checkbox][value="loneliness"]')).to_be_checked()
    screenshot(page, "screening-conflicts-laptop.png")
    no_sideways_scroll(page)
    keys_ready(page)
    page.keyboard.press("b")  # agree with cy on the first card
    expect(page.locator("p.message")).to_be_visible()
    expect(cards).to_have_count(1)
    assert rows(db, "SELECT decision, reason, themes, summary FROM decisions"
                " WHERE stage = 'resolution' AND record_id = 1") == [
        ("include", None, '["stigma", "loneliness"]', "Stigma in services.")]
    # Another decision for record 2 with the keys: exclude without a reason is refused on the
    # card, keeping the note; then a reason and n.
    keys_ready(page)
    page.keyboard.press("e")
    page.fill("#note-2", "needs a reason")
    page.locator("#note-2").press("Escape")
    page.keyboard.press("n")
    card = page.locator('section.conflict[data-record-id="2"]')
    expect(card.locator("p.error")).to_be_visible()
    expect(page.locator("#note-2")).to_have_value("needs a reason")
    keys_ready(page)
    page.keyboard.press("5")
    page.keyboard.press("n")
    expect(page.locator("section.conflict")).to_have_count(0)
    assert rows(db, "SELECT decision, reason, note FROM decisions WHERE stage = 'resolution'"
                " AND record_id = 2") == [("exclude", "wrong-design", "needs a reason")]
    page.set_viewport_size(PHONE)
    votes(db, (3, "bo", "include", {}), (3, "cy", "exclude", {"reason": "wrong-topic"}))
    page.goto(url + "/-/screen/conflicts")
    no_sideways_scroll(page)
    screenshot(page, "screening-conflicts-phone.png")


def test_refusals_are_pages_of_the_app_with_a_way_back(server, page: Page):
    url, db = server["url"], server["db"]
    login(page, url, "bo")
    # Wrong role: a reviewer on the lead's page.
    response = page.goto(url + "/-/screen/conflicts")
    assert response.status == 403
    expect(page.locator("section.refused")).to_contain_text("Bare en leder")
    expect(page.locator("header.bar nav")).to_be_visible()  # the app's own page
    both_sizes(page, "screening-refused")
    page.locator("section.refused a.button").click()
    on_record(page, 1)
    # Missing reason: refused, and what was typed stays.
    page.keyboard.press("e")
    page.fill("#summary", "kept summary")
    page.fill("#note", "kept note")
    page.locator("#note").press("Escape")
    page.keyboard.press("n")
    expect(page.locator("p.error")).to_contain_text("eksklusjonsgrunn")
    expect(page.locator("#summary")).to_have_value("kept summary")
    expect(page.locator("#note")).to_have_value("kept note")
    expect(page.locator('input[name=decision][value="exclude"]')).to_be_checked()
    # CSRF: a form whose token does not match is a page of the app; nothing is saved.
    page.evaluate("document.querySelector('#decision-form input[name=csrftoken]').value = 'x'")
    page.keyboard.press("4")
    page.keyboard.press("n")
    expect(page.locator("section.refused")).to_contain_text("Skjemaet var utløpt")
    expect(page.locator("section.refused a.button")).to_be_visible()
    assert rows(db, "SELECT count(*) FROM decisions") == [(0,)]
    # Expired session: the choice and the text come back after logging in again.
    page.goto(url + "/-/screen/record/2")
    on_record(page, 2)
    page.keyboard.press("i")
    page.keyboard.press("3")
    page.fill("#note", "typed before the session ended")
    page.context.clear_cookies(name="ds_actor")
    page.locator("#decision-form button.primary").click()
    expect(page.locator("p.notice")).to_contain_text("Økten din er avsluttet")
    page.fill("#username", "bo")
    page.fill("#password", PASSWORD)
    page.click("form.login button[type=submit]")
    on_record(page, 2)
    expect(page.locator("p.error")).to_contain_text("Fylt inn på nytt")
    expect(page.locator('input[name=decision][value="include"]')).to_be_checked()
    expect(page.locator('input[name=themes][data-number="3"]')).to_be_checked()
    expect(page.locator("#note")).to_have_value("typed before the session ended")
    assert rows(db, "SELECT count(*) FROM decisions") == [(0,)]
    page.locator("#decision-form button.primary").click()
    on_record(page, 1)
    assert rows(db, "SELECT record_id, decision, note FROM decisions") == [
        (2, "include", "typed before the session ended")]


def test_find_records_by_words_and_filters_and_open_one(server, page: Page):
    url, db = server["url"], server["db"]
    votes(db, (4, "cy", "exclude", {"reason": "wrong-topic"}))
    page.set_viewport_size(LAPTOP)
    login(page, url, "bo")
    page.goto(url + "/-/screen/find")
    page.fill("input[name=words]", "rusmidler kommune")  # inflected, inside compounds
    page.click("form.find button[type=submit]")
    results = page.locator("li.result")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("Rusmiddelbruk")
    screenshot(page, "screening-find-laptop.png")
    results.first.locator("a.open").click()
    on_record(page, 3)
    page.keyboard.press("i")
    page.keyboard.press("n")
    expect(page).to_have_url(url + "/-/screen/find?words=rusmidler+kommune")
    expect(page.locator("li.result .badge-include")).to_be_visible()
    # My decision as a filter; blind: cy's exclude of record 4 is not mine to see.
    page.goto(url + "/-/screen/find?decision=exclude")
    expect(page.locator("li.result")).to_have_count(0)
    page.goto(url + "/-/screen/find?decision=include&year=2020-2024")
    expect(page.locator("li.result")).to_have_count(1)
    page.goto(url + "/-/screen/find?state=queue")
    expect(page.locator("#count")).to_contain_text(f"{RECORDS - 1} poster")
    logout(page)
    # The lead filters by reviewer and by the final state.
    login_lead(page, url)
    page.goto(url + "/-/screen/find")
    page.select_option("select[name=reviewer]", "cy")
    page.select_option("select[name=reason]", "wrong-topic")
    page.click("form.find button[type=submit]")
    expect(page.locator("li.result")).to_have_count(1)
    expect(page.locator("li.result")).to_contain_text("Protocol for a trial")
    page.set_viewport_size(PHONE)
    no_sideways_scroll(page)
    screenshot(page, "screening-find-phone.png")


def test_screen_only_the_records_a_search_finds(server, page: Page):
    url = server["url"]
    login(page, url, "cy")
    page.goto(url + "/-/screen/find?words=community")  # records 1-12 say it; 4 in its title
    page.fill("input[name=words]", "protocol cancer")
    page.click("form.find button[type=submit]")
    page.click("a.screen-these")
    on_record(page, 4)
    expect(page.locator("#left")).to_contain_text("1 av 1 igjen")
    expect(page.locator("span.filtered")).to_be_visible()
    both_sizes(page, "screening-filtered-queue")
    page.keyboard.press("e")
    page.keyboard.press("4")
    page.keyboard.press("n")
    expect(page).to_have_url(url + "/-/screen?words=protocol+cancer")
    expect(page.locator("p.done")).to_be_visible()  # nothing else matches
    page.click("span.filtered a >> nth=1")  # back to the whole queue
    expect(page.locator("article.record")).to_be_visible()  # (which one: see claims.py)
    expect(page.locator("span.filtered")).to_have_count(0)


def test_highlight_words_in_two_colours_edited_by_the_lead(server, page: Page):
    url, config_path = server["url"], server["config"]
    before = config_path.read_text(encoding="utf-8")
    try:
        login_lead(page, url)
        page.goto(url + "/-/screen/record/3")
        include = page.locator("h1.title mark.hl-include")
        expect(include).to_have_text(["Rusmiddelbruk", "psykisk helsearbeid", "kommunene"])
        page.goto(url + "/-/screen/record/4")
        expect(page.locator("h1.title mark.hl-exclude")).to_have_text(["Protocol", "cancer"])
        expect(page.locator("h1.title mark.hl-include")).to_have_text(["community"])
        # The lead changes the words in the browser; they land in evidence.yml.
        page.goto(url + "/-/screen/lists")
        both_sizes(page, "screening-lists")
        page.fill("textarea[name=include]", "unge\nrus")
        page.fill("textarea[name=exclude]", "trial")
        page.click("form.words button[type=submit]")
        expect(page.locator("p.message")).to_contain_text("evidence.yml")
        text = config_path.read_text(encoding="utf-8")
        assert "include: [unge, rus]" in text and "exclude: [trial]" in text
        assert text.count("\n") == before.count("\n")  # only those two lines changed
        page.goto(url + "/-/screen/record/3")
        expect(page.locator("h1.title mark.hl-include")).to_have_text(["Rusmiddelbruk", "unge"])
        page.goto(url + "/-/screen/record/4")
        expect(page.locator("h1.title mark.hl-exclude")).to_have_text(["trial"])
    finally:
        config_path.write_text(before, encoding="utf-8")


def test_skip_sends_the_record_to_the_end_of_the_queue(server, page: Page):
    url, db = server["url"], server["db"]
    login(page, url, "bo")
    keys_ready(page)
    article = page.locator("article.record")
    skipped = int(article.get_attribute("data-record-id"))  # (claims decide which: claims.py)
    page.keyboard.press("n")  # nothing chosen: skip
    expect(page.locator("p.message")).to_contain_text("Hoppet over")
    keys_ready(page)
    second = int(article.get_attribute("data-record-id"))
    assert second != skipped
    page.keyboard.press("m")
    page.keyboard.press("n")
    expect(page.locator(f'article[data-record-id="{second}"]')).to_have_count(0)
    keys_ready(page)
    assert int(article.get_attribute("data-record-id")) != skipped  # not straight back
    others = [i for i in range(1, RECORDS + 1) if i not in (skipped, second)]
    votes(db, *[(i, "bo", "maybe", {}) for i in others])
    page.goto(url + "/-/screen")
    on_record(page, skipped)  # the rest is done: the skipped record comes back


def test_language_is_each_users_choice_and_remembered(server, page: Page, browser):
    url = server["url"]
    login(page, url, "bo")
    expect(page.locator("html")).to_have_attribute("lang", "nb")
    page.click('form.lang button[value="en"]')
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#left")).to_contain_text(f"{RECORDS} of {RECORDS} left")
    expect(page.locator('form.lang button[value="en"]')).to_have_attribute("aria-pressed", "true")
    logout(page)
    expect(page.locator("h1")).to_have_text("Log in")  # this browser remembers
    other = browser.new_context()  # another browser: the account remembers
    try:
        fresh = other.new_page()
        fresh.goto(url + "/-/login")
        expect(fresh.locator("h1")).to_have_text("Logg inn")
        login(fresh, url, "bo")
        expect(fresh.locator("html")).to_have_attribute("lang", "en")
        login(fresh, url, "cy")
        expect(fresh.locator("#left")).to_contain_text("igjen")  # cy keeps the project's nb
    finally:
        other.close()


def test_single_reviewer_summary_says_why_there_is_no_kappa(server, page: Page):
    config_path = server["config"]
    before = config_path.read_text(encoding="utf-8")
    login_lead(page, server["url"])
    page.goto(server["url"] + "/-/screen/summary")
    expect(page.locator("p.no-kappa")).to_contain_text("ingen post er vurdert av to")
    try:
        config_path.write_text(before.replace("reviewers_per_record: 2",
                                              "reviewers_per_record: 1"), encoding="utf-8")
        page.goto(server["url"] + "/-/screen/summary")  # re-read without a restart
        expect(page.locator("p.no-kappa")).to_contain_text("vurderer hver post én gang")
        expect(page.locator("table.kappa")).to_have_count(0)
        both_sizes(page, "screening-summary-single")
    finally:
        config_path.write_text(before, encoding="utf-8")


@pytest.mark.parametrize("size", [PHONE, LAPTOP], ids=["phone", "laptop"])
def test_pages_fit_phone_and_laptop_and_the_decision_stays_in_reach(server, page: Page, size):
    url, name = server["url"], "phone" if size == PHONE else "laptop"
    votes(server["db"], (5, "bo", "include", {"theme_slugs": ["stigma"], "summary": "A line."}))
    page.set_viewport_size(size)
    login(page, url, "bo")
    page.goto(url + "/-/screen/record/1")
    on_record(page, 1)  # the record with a long abstract
    no_sideways_scroll(page)
    article = page.locator("article.record").bounding_box()
    panel = page.locator("#decision-form")
    box = panel.bounding_box()
    assert article["height"] > size["height"], "the abstract should be longer than the screen"
    # Without scrolling, the decision buttons are on screen.
    assert 0 <= box["y"] and box["y"] + 40 <= size["height"], box
    save = page.locator("#decision-form button.primary").bounding_box()
    assert save["y"] + save["height"] <= size["height"], save
    if size == LAPTOP:
        assert box["x"] >= article["x"] + article["width"], "panel beside the record"
    screenshot(page, f"screening-record-{name}.png")
    page.keyboard.press("i")  # themes open inside the panel, still in reach
    expect(page.locator("fieldset.themes")).to_be_visible()
    page.mouse.wheel(0, 3000)
    save = page.locator("#decision-form button.primary")
    expect(save).to_be_in_viewport()
    screenshot(page, f"screening-record-{name}-include.png")
    for path in ("/-/screen/mine", "/-/screen/find", "/-/screen/duplicates"):
        page.goto(url + path)
        no_sideways_scroll(page)
        screenshot(page, f"screening-{path.rsplit('/', 1)[-1]}-{name}.png")
