"""Search that explains itself, in Chromium (issue 23 §3, §4): a search from a filtered table
stays in its filter, synonyms and marked words on /-/search, a record page with a way back,
and a PRISMA diagram readable on a 390 px phone.

With EVIDENCE_SCREENSHOTS=DIR set, writes screenshots there (1366 and 390 px wide).
"""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from playwright.sync_api import Page, expect

from evidence.config import load_config
from evidence.db.migrations import open_db
from evidence.publish.build import publish
from tests.conftest import EXAMPLE_CONFIG
from tests.publishing_data import seed_reader_records, seed_working_db
from tests.test_browser_published import (  # noqa: F401 (fixtures)
    PHONE,
    browser_context_args,
    screenshot,
    serving,
    site,
)

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [1366, 390])
def test_search_from_a_filtered_table_stays_in_its_filter(site, page: Page, width):  # noqa: F811 (site: the imported fixture)
    page.set_viewport_size({"width": width, "height": 900 if width > 400 else PHONE["height"]})
    page.goto(site + "/published/records?year=2024")
    page.fill(".pub-search input[name=_search]", "rusmidler")
    page.click(".pub-search input[type=submit]")
    page.wait_for_url("**_search=rusmidler*")
    args = parse_qs(urlsplit(page.url).query)
    assert args["year"] == ["2024"] and args["_search"] == ["rusmidler"]
    table = page.inner_html("table.rows-and-columns")
    assert "<mark>Rusmiddel</mark>problemer" in table  # rusmidler finds rusmiddel-
    csv_link = page.locator(".pub-downloads a:has-text('CSV')").get_attribute("href")
    assert "year=2024" in csv_link and "_search=rusmidler" in csv_link
    text = requests.get(site + csv_link, timeout=10).content.decode("utf-8-sig")
    assert {r["year"] for r in csv.DictReader(io.StringIO(text))} == {"2024"}
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, f"search-filtered-table-{width}.png")


@pytest.mark.parametrize("width", [1366, 390])
def test_search_page_marks_synonyms_and_says_why(site, page: Page, width):  # noqa: F811 (site: the imported fixture)
    page.set_viewport_size({"width": width, "height": 900 if width > 400 else PHONE["height"]})
    page.goto(site + "/-/search?q=depresjon")
    results = page.locator(".pub-result")
    expect(results.first).to_contain_text("Lactobacillus")
    assert page.locator(".pub-results mark", has_text="depression").count() >= 1
    expect(page.locator("p.pub-count", has_text="Søkte også etter")).to_contain_text(
        "depression")
    screenshot(page, f"search-synonyms-{width}.png")
    page.goto(site + "/-/search?q=community")
    keyword_only = page.locator(".pub-result", has=page.locator(".pub-why"))
    expect(keyword_only.first.locator(".pub-why")).to_contain_text("nøkkelord")
    assert keyword_only.first.locator(".pub-why mark").inner_text().lower() == "community"
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, f"search-why-{width}.png")


@pytest.mark.parametrize("width", [1366, 390])
def test_record_page_leads_back_to_the_results(site, page: Page, width):  # noqa: F811 (site: the imported fixture)
    page.set_viewport_size({"width": width, "height": 900 if width > 400 else PHONE["height"]})
    page.goto(site + "/-/search?q=lactobacillus")
    page.click(".pub-result h3 a")
    page.wait_for_url("**/-/records/8")
    assert page.locator("a[href*='pubmed.ncbi.nlm.nih.gov']").count() == 1
    expect(page.locator("article")).not_to_contain_text("pubmed-mental-health")
    screenshot(page, f"search-record-{width}.png")
    page.click(".pub-back a")
    page.wait_for_url("**/-/search?q=lactobacillus")


@pytest.mark.parametrize("width", [1366, 390])
def test_prisma_is_readable_on_a_phone(site, page: Page, width):  # noqa: F811 (site: the imported fixture)
    page.set_viewport_size({"width": width, "height": 900 if width > 400 else PHONE["height"]})
    page.goto(site + "/-/prisma")
    image = page.locator("img.pub-prisma")
    expect(image).to_be_visible()
    source = image.evaluate("i => i.currentSrc")
    shown = image.evaluate("i => i.getBoundingClientRect().width")
    natural = image.evaluate("i => i.naturalWidth")
    # the SVG's 14 px text as it appears on screen
    text_px = 14 * shown / natural
    assert text_px >= 12, f"{text_px:.1f} px text at {width} px"
    assert ("layout=narrow" in source) == (width < 700)
    screenshot(page, f"search-prisma-{width}.png")


# --- a work found by its Norwegian original title, an edited volume by its editors ---------

ORIGINAL = ("Fordommer mot brukere av opioider i primærhelsetjenesten: å møte stigma"
            " <script>alert(2)</script>")


@pytest.fixture(scope="module")
def titled_site(tmp_path_factory):
    """The reader site with record 2 (an English title) carrying a Norwegian original title
    and record 6 an edited volume (two editors, one of them hostile, no authors)."""
    import json

    folder = tmp_path_factory.mktemp("titled")
    config = load_config(EXAMPLE_CONFIG)
    db = open_db(folder / "evidence.db")
    seed_working_db(db, config)
    seed_reader_records(db)
    db["records"].update(2, {"original_title": ORIGINAL})
    db["records"].update(6, {"authors": "[]", "creators": json.dumps([
        {"role": "editor", "name": "Dåstøl, Ørjan"},
        {"role": "editor", "name": "Moe, <script>alert(1)</script>"}])})
    publish(db, folder / "published.db", config)
    db.close()
    with serving(folder / "published.db") as url:
        yield url


@pytest.mark.parametrize("width", [1366, 390])
def test_search_finds_original_titles_and_editors(titled_site, page: Page, width):
    page.set_viewport_size({"width": width, "height": 900 if width > 400 else PHONE["height"]})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(titled_site + "/-/search?q=primærhelsetjenesten")
    box = page.locator(".pub-search input[type=search]")  # the box and the help say so
    expect(box).to_have_attribute("placeholder", re.compile("originaltittel.*redaktører"))
    expect(page.locator(".pub-search + .pub-count")).to_contain_text("redaktører som forfattere")
    result = page.locator(".pub-result")
    expect(result).to_have_count(1)
    expect(result.locator("h3")).to_contain_text("Stigma towards people who use opioids")
    original = result.locator(".pub-original-title")
    expect(original).to_contain_text("Originaltittel: Fordommer mot brukere av opioider")
    expect(original).to_contain_text("å møte stigma <script>alert(2)</script>")
    expect(original.locator("mark")).to_have_text("primærhelsetjenesten")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, f"search-original-title-{width}.png")
    page.goto(titled_site + "/-/search?q=dåstøl")
    result = page.locator(".pub-result")
    expect(result).to_have_count(1)
    expect(result).to_contain_text("Dåstøl, Ørjan; Moe, <script>alert(1)</script> (red.)")
    expect(result.locator("mark").first).to_have_text("Dåstøl")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, f"search-editors-{width}.png")
    assert dialogs == []
