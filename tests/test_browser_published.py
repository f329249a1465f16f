"""The published site in Chromium against a real `evidence serve`: search, facet, record, CSV.

With EVIDENCE_SCREENSHOTS=DIR set, also writes the README screenshots there
(published-home.png, published-theme.png, published-prisma.png); tests never write into the tree.
"""

from __future__ import annotations

import csv
import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from evidence.config import load_config
from evidence.db.migrations import open_db
from evidence.publish.build import publish
from tests.conftest import EXAMPLE_CONFIG
from tests.publishing_data import ABSTRACT_WORD, seed_working_db

pytestmark = pytest.mark.browser
IMAGES = os.environ.get("EVIDENCE_SCREENSHOTS")


def screenshot(page, name: str) -> None:
    if IMAGES:
        page.screenshot(path=str(Path(IMAGES) / name), full_page=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """`evidence serve` on a freshly published database, polled until it answers."""
    folder: Path = tmp_path_factory.mktemp("site")
    config = load_config(EXAMPLE_CONFIG)
    db = open_db(folder / "evidence.db")
    seed_working_db(db, config)
    publish(db, folder / "published.db", config)
    db.close()
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "evidence", "serve", str(folder / "published.db"),
         "--host", "127.0.0.1", "--port", str(port)], cwd=folder)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if requests.get(url + "/", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            pytest.fail("evidence serve did not answer within 10 s")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_search_facet_open_record_and_download_csv(site, page):
    page.goto(site + "/")
    screenshot(page, "published-home.png")
    page.fill("input[name=_search]", ABSTRACT_WORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/published/records?_search=*")
    assert page.locator("table.rows-and-columns tbody tr").count() == 1
    assert "Peer support and befriending" in page.inner_text("table.rows-and-columns")

    page.goto(site + "/published/records")
    page.click("#facet-themes a:has-text('Stigma og diskriminering')")
    page.wait_for_url("**_theme=*")
    rows = page.locator("table.rows-and-columns tbody tr")
    assert rows.count() == 1
    page.click("table.rows-and-columns tbody a:has-text('Stigma towards people')")
    page.wait_for_url("**/-/records/2")
    assert page.inner_text("h1") == "Stigma towards people who use opioids in primary care"
    assert "https://doi.org/10.1111/add.2023.2" in page.content()

    page.goto(site + "/published/records")
    page.check("input[name=_dl]")
    with page.expect_download() as info:
        page.click("input[value='Export CSV']")
    text = Path(info.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(int(r["id"]) for r in rows) == [1, 2, 6]


def test_theme_page_screenshot(site, page):
    page.goto(site + "/-/themes/mental-health-reviews")
    assert "Systematiske oversikter om psykisk helse" in page.inner_text("h1")
    screenshot(page, "published-theme.png")
    page.goto(site + "/-/prisma")
    screenshot(page, "published-prisma.png")
