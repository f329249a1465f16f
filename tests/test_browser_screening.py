"""The screening app in Chromium: keyboard screening, undo, reasons, themes, dual screening.

One real ``evidence screen`` server per module (blind dual screening, two reviewers and a lead),
started as a subprocess and polled until it answers, as Datasette's own Playwright tests do.
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("screen")
    config_path, db_path = directory / "evidence.yml", directory / "evidence.db"
    shutil.copy(EXAMPLE_CONFIG, config_path)
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text.replace("reviewers_per_record: 1", "reviewers_per_record: 2"),
                           encoding="utf-8")
    seed(db_path, config_path, 12)
    add_users(db_path, {"ana": "lead", "bo": "reviewer", "cy": "reviewer"}, PASSWORD)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "evidence", "screen", "--host", "127.0.0.1", "--port", str(port),
         "--db", str(db_path), "--config", str(config_path)],
        env={**os.environ, "EVIDENCE_SECRET": "browser-test-secret"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/-/login", timeout=1)
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(process.stderr.read().decode()) from None
            time.sleep(0.2)
    yield {"url": url, "db": db_path}
    process.terminate()
    process.wait(timeout=10)


def rows(db_path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db_path) as conn:
        return conn.execute(sql).fetchall()


def login(page: Page, url: str, name: str) -> None:
    page.goto(url + "/-/login")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("form.login button[type=submit]")
    expect(page).to_have_url(url + "/-/screen")


def on_record(page: Page, record_id: int) -> None:
    expect(page.locator(f'article[data-record-id="{record_id}"]')).to_be_visible()


def test_screen_five_records_with_the_keyboard_and_undo(server, page: Page):
    login(page, server["url"], "bo")
    on_record(page, 1)
    page.keyboard.press("m")
    page.keyboard.press("n")
    on_record(page, 2)
    # Exclude with a reason: e, then digit 4 (wrong topic).
    page.keyboard.press("e")
    expect(page.locator("fieldset.reasons")).to_be_visible()
    page.keyboard.press("4")
    page.keyboard.press("n")
    on_record(page, 3)
    # Include with two themes: 2, then 1 2 typed quickly (theme 12).
    page.keyboard.press("i")
    expect(page.locator("fieldset.themes")).to_be_visible()
    page.keyboard.press("2")
    page.keyboard.type("12")
    expect(page.locator('input[name=themes][data-number="12"]')).to_be_checked()
    page.fill("#summary", "A review on themes.")
    page.locator("#summary").press("Escape")
    page.keyboard.press("n")
    on_record(page, 4)
    page.keyboard.press("m")
    page.keyboard.press("n")
    on_record(page, 5)
    page.keyboard.press("i")
    page.keyboard.press("n")
    on_record(page, 6)
    expect(page.locator("#left")).to_contain_text("7 av 12")
    # Help opens and closes with ?.
    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_visible()
    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_hidden()
    # u undoes record 5's decision and shows that record again.
    page.keyboard.press("u")
    on_record(page, 5)
    expect(page.locator("p.message")).to_be_visible()
    db = server["db"]
    assert rows(db, "SELECT record_id, decision, reason, themes, undoes FROM decisions"
                " WHERE reviewer = 'bo' ORDER BY id") == [
        (1, "maybe", None, None, None),
        (2, "exclude", "wrong-topic", None, None),
        (3, "include", None, '["stigma", "populations-norway"]', None),
        (4, "maybe", None, None, None),
        (5, "include", None, None, None),
        (5, None, None, None, 5),
    ]
    assert rows(db, "SELECT summary FROM decisions WHERE record_id = 3") == [
        ("A review on themes.",)]
    # Blind: cy starts at record 1 although bo has decided it.
    page.click("form.logout button")
    login(page, server["url"], "cy")
    on_record(page, 1)
    expect(page.locator("input[name=decision]:checked")).to_have_count(0)


def test_dual_screening_conflict_and_resolution(server, page: Page):
    url, db = server["url"], server["db"]
    login(page, url, "cy")
    on_record(page, 1)
    page.keyboard.press("i")
    page.keyboard.press("n")
    on_record(page, 2)
    page.click("form.logout button")
    login(page, url, "ana")
    page.goto(url + "/-/screen/conflicts")
    conflict = page.locator('section.conflict[data-record-id="1"]')
    expect(conflict).to_contain_text("bo")
    expect(conflict).to_contain_text("cy")
    conflict.locator("select[name=decision]").select_option("exclude")
    conflict.locator("select[name=reason]").select_option("wrong-design")
    conflict.locator("button[type=submit]").click()
    expect(page.locator("p.message")).to_be_visible()
    expect(page.locator('section.conflict[data-record-id="1"]')).to_have_count(0)
    assert rows(db, "SELECT decision, conflict FROM record_status WHERE record_id = 1") == [
        ("exclude", 0)]
    page.goto(url + "/-/screen/summary")
    expect(page.locator("table.kappa")).to_contain_text("bo / cy")
