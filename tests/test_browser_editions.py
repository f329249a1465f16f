"""Editions and the evidence map in Chromium against a real `evidence serve` (issue 23 §1, §2):
what is new in this edition, the map by year and by kind (keyboard, screen reader names, a
390 px phone), a bubble opening exactly its works, the theme page's trend, the method page's
editions; in Norwegian and English.

With EVIDENCE_SCREENSHOTS=DIR set, also writes screenshots there (1366 and 390 px wide).
"""

from __future__ import annotations

import dataclasses
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page, expect

from evidence.config import load_config
from evidence.db.migrations import open_db
from evidence.publish.build import publish
from tests.conftest import EXAMPLE_CONFIG
from tests.publishing_data import _insert_record, seed_reader_records, seed_working_db

pytestmark = pytest.mark.browser
IMAGES = os.environ.get("EVIDENCE_SCREENSHOTS")
PHONE = {"width": 390, "height": 844}
WIDE = {"width": 1366, "height": 768}


def screenshot(page: Page, name: str) -> None:
    if IMAGES:
        page.screenshot(path=str(Path(IMAGES) / name), full_page=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _more_works(db, first_id: int, count: int, years: range, seed: int) -> None:
    """Included works spread over themes and years, some Norwegian, some books."""
    rng = random.Random(seed)
    search_ids = {r["name"]: r["id"] for r in db["searches"].rows}
    runs = {
        name: db.execute("SELECT max(id) FROM runs WHERE search_id = ?", [sid]).fetchone()[0]
        for name, sid in search_ids.items()
    }
    theme_ids = {r["slug"]: r["id"] for r in db["themes"].rows}
    slugs = [s for s in theme_ids if s != "workforce"]  # one theme stays without works
    for i in range(count):
        rid = first_id + i
        year = rng.choice(list(years))
        kind = rng.random()
        if kind < 0.25:
            title = f"Kommunale tjenester og brukermedvirkning {rid}"
            journal = "Tidsskrift for omsorgsforskning"
        elif kind < 0.35:
            title, journal = f"Recovery in practice, volume {rid}", "Universitetsforlaget"
        elif kind < 0.8:
            title, journal = f"Community interventions: a systematic review {rid}", "BMC Psychiatry"
        else:
            title, journal = f"A cohort study of service use {rid}", "Lancet Psychiatry"
        themes = rng.sample(slugs, rng.choice((1, 1, 2)))
        _insert_record(
            db,
            (
                rid,
                title,
                "Abstract text.",
                ["Author, Ann"],
                year,
                journal,
                None,
                None,
                "include",
                None,
                themes,
                ["pubmed-mental-health"],
            ),
            runs,
            search_ids,
            theme_ids,
        )
        if "review" not in title:
            db["records"].update(rid, {"publication_types": '["Journal Article"]'})


def _serve(path: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "evidence",
            "serve",
            str(path),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=path.parent,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if requests.get(url + "/", timeout=1).status_code == 200:
                return process, url
        except requests.ConnectionError:
            time.sleep(0.1)
    process.terminate()
    pytest.fail("evidence serve did not answer within 10 s")


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    """Two editions (2023, then 2024 with more works) published in nb and en, both served."""
    folder: Path = tmp_path_factory.mktemp("editions")
    config = load_config(EXAMPLE_CONFIG)
    db = open_db(folder / "evidence.db")
    seed_working_db(db, config)
    _more_works(db, 100, 40, range(2014, 2024), seed=1)
    db.conn.commit()
    publish(db, folder / "old.db", config, "2023")
    seed_reader_records(db)
    _more_works(db, 200, 25, range(2022, 2025), seed=2)
    db.conn.commit()
    publish(db, folder / "published.db", config, "2024")
    (folder / "en").mkdir()
    publish(db, folder / "en" / "published.db", dataclasses.replace(config, language="en"), "2024")
    db.close()
    servers = [_serve(folder / "published.db"), _serve(folder / "en" / "published.db")]
    try:
        yield {"nb": servers[0][1], "en": servers[1][1]}
    finally:
        for process, _ in servers:
            process.terminate()
            process.wait(timeout=10)


def test_home_says_what_is_new_and_links_the_list(sites, page: Page):
    page.goto(sites["nb"] + "/")
    link = page.locator(".pub-edition a").first
    expect(link).to_have_text("Nytt i 2024-utgaven: 27")
    assert page.locator("a", has_text="Helsepersonell og arbeidsmiljø").count() == 0
    help_line = page.locator("#search-fields")  # the placeholder is whole on a laptop
    expect(help_line).to_be_hidden()
    screenshot(page, "editions-home-nb-1366.png")
    link.click()
    page.wait_for_url("**first_edition=2024*")
    expect(page.locator(".pub-count-line")).to_contain_text("27")
    page.set_viewport_size(PHONE)
    page.goto(sites["nb"] + "/")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # a phone cuts the placeholder off: the line under the box says it whole
    expect(help_line).to_have_text(
        "Søk i tittel, originaltittel, sammendrag, forfattere, redaktører og nøkkelord."
    )
    expect(page.locator(".pub-search input[type=search]")).to_have_attribute(
        "aria-describedby", "search-fields"
    )
    screenshot(page, "editions-home-nb-390.png")
    page.goto(sites["en"] + "/")
    expect(page.locator(".pub-edition a").first).to_have_text("New in the 2024 edition: 27")
    expect(help_line).to_have_text(
        "Search titles, original titles, abstracts, authors, editors and keywords."
    )
    screenshot(page, "editions-home-en-390.png")
    page.set_viewport_size(WIDE)
    expect(help_line).to_be_hidden()
    screenshot(page, "editions-home-en-1366.png")


@pytest.mark.parametrize("by", ["year", "kind"])
def test_map_bubbles_open_exactly_their_works(sites, page: Page, by):
    page.goto(sites["nb"] + f"/-/map?by={by}")
    expect(page.locator(".pub-map-title")).to_be_visible()
    screenshot(page, f"editions-map-{by}-nb-1366.png")
    bubble = page.locator("a.pub-bubble").nth(3)
    label = bubble.get_attribute("aria-label")
    count = int(label.rsplit(": ", 1)[1].split()[0])
    bubble.click()
    page.wait_for_url("**_theme=*")
    expect(page.locator(".pub-count-line")).to_contain_text(f"{count} arbeid")
    page.goto(sites["en"] + f"/-/map?by={by}")
    screenshot(page, f"editions-map-{by}-en-1366.png")


def test_map_by_keyboard_and_on_a_phone(sites, page: Page):
    page.set_viewport_size(PHONE)
    page.goto(sites["nb"] + "/-/map")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    region = page.locator(".pub-map-scroll")
    assert page.evaluate("e => e.scrollWidth > e.clientWidth", region.element_handle())
    screenshot(page, "editions-map-year-nb-390.png")
    # every bubble is reachable with Tab and names its theme, column and count
    page.focus("a.pub-bubble >> nth=0")
    focused = page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert focused and "arbeid" in focused and ", " in focused
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.tagName") == "A"
    page.keyboard.press("Enter")
    page.wait_for_url("**/published/records?*")
    page.goto(sites["en"] + "/-/map?by=kind")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "editions-map-kind-en-390.png")


def test_theme_page_trend(sites, page: Page):
    for language, width in (("nb", WIDE), ("nb", PHONE), ("en", WIDE), ("en", PHONE)):
        page.set_viewport_size(width)
        page.goto(sites[language] + "/-/themes/mental-health-reviews")
        assert page.locator(".pub-trend li").count() >= 8  # every year of the span
        assert page.locator(".pub-trend li a").count() >= 5  # those with works link them
        assert page.evaluate("document.documentElement.scrollWidth") <= width["width"]
        screenshot(page, f"editions-theme-{language}-{width['width']}.png")
    page.set_viewport_size(WIDE)
    page.goto(sites["nb"] + "/-/themes/mental-health-reviews")
    bar = page.locator(".pub-trend li a").last
    label = bar.get_attribute("aria-label")
    bar.click()
    page.wait_for_url("**year=*")
    expect(page.locator(".pub-count-line")).to_contain_text(
        label.split(": ")[1].split()[0] + " arbeid"
    )


def test_method_page_lists_editions(sites, page: Page):
    for language, width in (("nb", WIDE), ("nb", PHONE), ("en", WIDE), ("en", PHONE)):
        page.set_viewport_size(width)
        page.goto(sites[language] + "/-/method")
        table = page.locator("table.pub-editions")
        expect(table).to_contain_text("2023")
        expect(table).to_contain_text("2024")
        text = page.inner_text("body")
        assert "(newest)" not in text and "Kilde: file" not in text and "Source: file" not in text
        assert page.evaluate("document.documentElement.scrollWidth") <= width["width"]
        screenshot(page, f"editions-method-{language}-{width['width']}.png")
