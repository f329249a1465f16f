"""Editors and the original-language title in Chromium, on every page where a reviewer or the
lead decides on a record: the title/abstract record page, the full-text record page, the
conflict cards, the duplicate pairs, My decisions and the lead's My resolutions, each at 1366
and 390 px wide.

Hostile names (``<script>`` in an editor's name and in the original title) must show as text
and run nothing; nothing may overflow a phone's width.

With EVIDENCE_SCREENSHOTS=DIR set, also writes the screenshots there.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from evidence.db.decisions import RESOLUTION, save_decision
from tests.conftest import EXAMPLE_CONFIG
from tests.screening_data import add_users, seed
from tests.test_browser_screening import PASSWORD, start_server, stop_server
from tests.test_full_text import two_stages
from tests.test_hardening_screening import _pair

pytestmark = pytest.mark.browser
IMAGES = os.environ.get("EVIDENCE_SCREENSHOTS")
SIZES = {"laptop": (1366, 768), "phone": (390, 844)}
EDITORS = [
    {"role": "editor", "name": "Dahl, Ola"},
    {"role": "editor", "name": "Moe, <script>alert(1)</script>"},
]
TITLE = "Municipal mental health and substance use services for young adults: a report"
ORIGINAL = (
    "Kommunale tjenester innen psykisk helse og rus for unge voksne: "
    "<i>en rapport</i> <script>alert(2)</script>"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("editors")
    config_path, db_path = directory / "evidence.yml", directory / "evidence.db"
    shutil.copy(EXAMPLE_CONFIG, config_path)
    two_stages(config_path, reviewers=2)
    seed(db_path, config_path, 6, titles=dict.fromkeys((1, 2, 3, 5), TITLE))
    add_users(db_path, {"ana": "lead", "bo": "reviewer", "cy": "reviewer"}, PASSWORD)
    with sqlite3.connect(db_path, isolation_level=None) as conn:
        conn.execute(
            "UPDATE records SET authors = '[]', creators = ?, original_title = ?"
            " WHERE id IN (1, 2, 3, 5, 6)",
            [json.dumps(EDITORS), ORIGINAL],
        )
        for reviewer in ("bo", "cy"):  # record 1 reaches the full-text stage
            save_decision(conn, 1, reviewer, "include", theme_slugs=["stigma"])
        save_decision(conn, 2, "bo", "include", theme_slugs=["stigma"])  # a conflict
        save_decision(conn, 2, "cy", "exclude", reason="wrong-topic")
        save_decision(conn, 6, "bo", "include", theme_slugs=["stigma"])  # resolved by ana
        save_decision(conn, 6, "cy", "exclude", reason="wrong-topic")
        save_decision(conn, 6, "ana", "exclude", reason="wrong-topic", stage=RESOLUTION)
    _pair(db_path, 3, 4)
    process, url = start_server(directory)
    yield {"url": url, "db": db_path}
    stop_server(process)


def login(page: Page, url: str, name: str, path: str) -> None:
    """Log in straight to ``path`` (opening the queue would claim a record)."""
    page.goto(url + "/-/login?next=" + path.replace("/", "%2F"))
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("form.login button[type=submit]")
    expect(page).to_have_url(url + path)


PAGES = {  # name: (account, path, where the work is named)
    "record": ("bo", "/-/screen/record/5", "article.record"),
    "full-text": ("bo", "/-/screen/full-text/record/1", "article.record"),
    "conflicts": ("ana", "/-/screen/conflicts", 'section.conflict[data-record-id="2"]'),
    "duplicates": ("bo", "/-/screen/duplicates", "section.pair"),
}


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("name", list(PAGES))
def test_editors_and_original_title_show_escaped_and_fit(server, page: Page, name: str, size: str):
    width, height = SIZES[size]
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.set_viewport_size({"width": width, "height": height})
    account, path, where = PAGES[name]
    login(page, server["url"], account, path)
    work = page.locator(where).first
    original = work.locator(".original-title")
    expect(original).to_contain_text("Originaltittel: Kommunale tjenester innen psykisk helse")
    expect(original).to_contain_text("en rapport <script>alert(2)</script>")
    expect(original.locator("i")).to_have_text("en rapport")
    if name in ("record", "full-text"):
        expect(work.locator("dt", has_text="Redaktører")).to_be_visible()
        expect(work.locator("dd.editors")).to_have_text("Dahl, Ola; Moe, <script>alert(1)</script>")
    else:
        expect(work).to_contain_text("Dahl, Ola; Moe, <script>alert(1)</script> (red.)")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert dialogs == []
    if IMAGES:
        page.screenshot(path=str(Path(IMAGES) / f"screening-editors-{name}-{size}.png"))


FINDS = {  # name: (account, path, the work's element, what the search matched)
    "find-original": (
        "bo",
        "/-/screen/find?words=tjenester%20unge",
        'li.result[data-record-id="5"]',
        ".original-title mark",
    ),
    "find-editor": (
        "bo",
        "/-/screen/find?words=dahl",
        'li.result[data-record-id="5"]',
        ".meta-line mark",
    ),
    "mine-editor": ("bo", "/-/screen/mine?q=dahl", "tr.row-include", ".original-title"),
    "mine-resolutions": ("ana", "/-/screen/mine", "table.resolutions tbody tr", ".meta-line"),
}


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("name", list(FINDS))
def test_find_and_my_decisions_find_by_original_title_and_editors(
    server, page: Page, name: str, size: str
):
    width, height = SIZES[size]
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.set_viewport_size({"width": width, "height": height})
    account, path, where, matched = FINDS[name]
    login(page, server["url"], account, path)
    work = page.locator(where).first
    expect(work).to_be_visible()
    expect(work.locator(matched).first).to_be_visible()
    expect(work.locator(".original-title")).to_contain_text(
        "Originaltittel: Kommunale tjenester innen psykisk helse"
    )
    expect(work.locator(".original-title")).to_contain_text("<script>alert(2)</script>")
    expect(work.locator(".meta-line")).to_contain_text(  # My decisions names them too
        "Dahl, Ola; Moe, <script>alert(1)</script> (red.)"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert dialogs == []
    if IMAGES:
        page.screenshot(path=str(Path(IMAGES) / f"screening-{name}-{size}.png"), full_page=True)
