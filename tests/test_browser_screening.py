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
    seed(db_path, config_path, RECORDS)
    add_users(db_path, {"ana": "lead", "bo": "reviewer", "cy": "reviewer"}, PASSWORD)
    process, url = start_server(directory)
    yield {"url": url, "db": db_path}
    stop_server(process)


@pytest.fixture(autouse=True)
def fresh_decisions(server):
    """Every test starts with nobody having decided anything (the server keeps running)."""
    with sqlite3.connect(server["db"]) as conn:
        conn.execute("DELETE FROM record_themes")
        conn.execute("DELETE FROM decisions")


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
    conflict.locator("select[name=decision]").select_option("exclude")
    conflict.locator("select[name=reason]").select_option("wrong-design")
    conflict.locator("button[type=submit]").click()
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
