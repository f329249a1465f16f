"""The published site in Chromium against a real `evidence serve`, one test per reader's need
(issue 15): compound search with marks, pages in Norwegian, the works table, inline markup,
a 390 px phone, whole-selection downloads, Atom feeds, and counts of what was run.

With EVIDENCE_SCREENSHOTS=DIR set, also writes screenshots there (1366 and 390 px wide);
tests never write into the tree.
"""

from __future__ import annotations

import csv
import io
import os
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
import rispy
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from evidence.config import load_config
from evidence.db.migrations import open_db
from evidence.publish.build import publish
from tests.conftest import EXAMPLE_CONFIG
from tests.publishing_data import ABSTRACT_WORD, seed_reader_records, seed_working_db

pytestmark = pytest.mark.browser
IMAGES = os.environ.get("EVIDENCE_SCREENSHOTS")
PHONE = {"width": 390, "height": 844}
#: English that Datasette's own templates would show; none of it may reach a reader.
ENGLISH = ("rows where", "Apply", "Next page", "This data as", "Advanced export", "Search:",
           "- column -", "Sort by", "descending", "Powered by", "Data license", "CSV options",
           "(array)", "Queries took", "remove filter")
#: Searches of the example configuration that found nothing are left without a run.
UNRUN = ("zotero-included",)


@pytest.fixture
def browser_context_args(browser_context_args):
    """A common laptop screen; the phone tests narrow it to 390 px."""
    return {**browser_context_args, "viewport": {"width": 1366, "height": 768}}


def screenshot(page: Page, name: str) -> None:
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
    seed_reader_records(db)
    unrun = [r["id"] for r in db["searches"].rows if not db.execute(
        "SELECT count(*) FROM hits WHERE search_id = ?", [r["id"]]).fetchone()[0]]
    db.execute(f"DELETE FROM runs WHERE search_id IN ({','.join('?' * len(unrun))})", unrun)
    db.conn.commit()
    publish(db, folder / "published.db", config)
    db.close()
    with serving(folder / "published.db") as url:
        yield url


@contextmanager
def serving(path: Path):
    """`evidence serve` on the published file ``path``, polled until it answers, stopped
    afterwards; yields its address."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "evidence", "serve", str(path),
         "--host", "127.0.0.1", "--port", str(port)], cwd=path.parent)
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


def test_search_finds_words_inside_compounds_and_marks_them(site, page: Page):
    page.goto(site + "/")
    screenshot(page, "published-home.png")
    page.fill("input[name=q]", "rusmiddel")
    page.click("input[type=submit]")
    page.wait_for_url("**/-/search?q=rusmiddel*")
    first = page.locator(".pub-result h3").first
    expect(first).to_contain_text("Rusmiddelproblemer blant eldre")
    assert first.locator("mark").first.inner_text() == "Rusmiddel"
    screenshot(page, "published-search.png")
    page.goto(site + "/-/search?q=problemer")
    titles = page.locator(".pub-result h3").all_inner_texts()
    assert any("Rusmiddelproblemer" in t for t in titles)
    assert "helse<mark>problemer</mark>" in page.inner_html(".pub-results")
    for query, expected in (("Stigma og diskriminering", "Stigma towards people"),
                            ("Tarmbakterier", "Lactobacillus"), (ABSTRACT_WORD, "befriending")):
        page.goto(site + "/-/search?q=" + query)
        expect(page.locator(".pub-result h3").first).to_contain_text(expected)
    page.goto(site + "/published/records?_search=rus")
    assert "<mark>Rus</mark>middelproblemer" in page.inner_html("table.rows-and-columns")


def test_table_pages_speak_norwegian(site, page: Page):
    page.goto(site + "/published/records?_size=2")
    text = page.inner_text("body")
    for english in ENGLISH:
        assert english not in text, english
    assert page.locator("html").get_attribute("lang") == "nb"
    expect(page.locator(".pub-pages a[rel=next]")).to_have_text("Neste side")
    page.click("details.pub-filters summary")
    options = page.locator("select[name=_filter_op] option").all_inner_texts()
    assert "inneholder" in options and "contains" not in options
    page.click("details.pub-facets summary")
    page.click("#facet-themes a:has-text('Stigma og diskriminering')")
    page.wait_for_url("**_theme=*")
    expect(page.locator(".pub-count-line")).to_contain_text("1 arbeid")
    expect(page.locator(".pub-count-line")).to_contain_text("tema er «Stigma og diskriminering»")
    page.goto(site + "/published/searches")
    headings = page.locator("table.rows-and-columns th").all_inner_texts()
    assert "Søkestreng" in headings and "query" not in headings
    for english in ENGLISH:
        assert english not in page.inner_text("body"), english


def test_works_table_shows_what_a_reader_needs_first(site, page: Page):
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(site + "/published/records")
    headings = [h.strip() for h in page.locator("table.pub-works th").all_inner_texts()]
    assert [h.rstrip(" ▲▼\xa0") for h in headings] == [
        "Tittel", "År", "Tidsskrift eller utgiver", "Tema", "Oppsummering"]
    table = page.locator("table.pub-works")
    assert '["' not in table.inner_text()
    expect(table.locator("a.pub-tag", has_text="Stigma og diskriminering")).to_be_visible()
    row = table.locator("tr", has_text="Peer support and befriending")
    expect(row.locator(".pub-more dd", has_text="Loneliness is common")).to_be_hidden()
    row.locator(".pub-more summary").click()
    expect(row.locator(".pub-more dd", has_text="Loneliness is common")).to_be_visible()
    top = page.locator("table.pub-works").bounding_box()["y"]
    assert top < 768, f"the table starts at {top} px, below the first screen"
    screenshot(page, "published-records.png")
    row.locator("a.pub-title").click()
    page.wait_for_url("**/-/records/1")


def test_inline_markup_is_rendered_safely(site, page: Page):
    page.goto(site + "/-/records/8")
    expect(page.locator("h1 i")).to_have_text("Lactobacillus")
    expect(page.locator("h1 sub")).to_have_text("2")
    expect(page.locator("h1 sup")).to_have_text("1")
    assert page.locator("h1 i").evaluate("e => getComputedStyle(e).fontStyle") == "italic"
    page.goto(site + "/published/records?_search=Lactobacillus")
    expect(page.locator("table.pub-works a.pub-title i")).to_have_text("Lactobacillus")
    ris = requests.get(site + "/-/download/records.ris?_search=Lactobacillus", timeout=10).text
    assert "<i>" not in ris and "Effects of Lactobacillus on CO2 and mood¹" in ris


@pytest.mark.parametrize("path", ["/", "/published/records", "/-/search?q=rus",
                                  "/-/records/8", "/-/method", "/published/searches",
                                  "/-/themes/substance-use-reviews", "/-/prisma"])
def test_phone_width_needs_no_sideways_scrolling(site, page: Page, path):
    page.set_viewport_size(PHONE)
    page.goto(site + path)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{path} is {width} px wide"
    if path in ("/published/records", "/-/search?q=rus"):
        screenshot(page, "published-phone-" + ("records" if "records" in path else "search")
                   + ".png")


def test_downloads_carry_the_whole_selection(site, page: Page):
    page.goto(site + "/published/records?_size=2&_theme=stigma")
    with page.expect_download() as info:
        page.click(".pub-downloads a:has-text('Excel (xlsx)')")
    assert info.value.suggested_filename == "records.xlsx"
    book = load_workbook(io.BytesIO(Path(info.value.path()).read_bytes()))
    # one sheet per theme group: the work has themes in two groups, so it is on both
    titles = {r[2] for sheet in book for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert titles == {"Stigma towards people who use opioids in primary care"}
    assert book.worksheets[0]["C1"].value == "title" and len(book.worksheets) == 2
    page.goto(site + "/published/records?_size=2")
    with page.expect_download() as info:
        page.click(".pub-downloads a:has-text('CSV')")
    text = Path(info.value.path()).read_text(encoding="utf-8-sig")
    assert sorted(int(r["id"]) for r in csv.DictReader(io.StringIO(text))) == [1, 2, 6, 7, 8]
    ris = rispy.loads(requests.get(site + "/-/download/theme_stigma.ris", timeout=10).text)
    assert "Stigma og diskriminering" in ris[0]["keywords"]
    bib = requests.get(site + "/-/download/records.bibtex?_search=rus", timeout=10).text
    assert "Rus og avhengighet" in bib and bib.count("@article") == 2


def test_atom_feeds_per_theme_and_for_all(site, page: Page):
    page.goto(site + "/-/themes/stigma")
    href = page.locator("link[rel=alternate][type='application/atom+xml']").get_attribute("href")
    ns = {"a": "http://www.w3.org/2005/Atom"}
    feed = ET.fromstring(requests.get(site + href, timeout=10).content)
    assert [e.findtext("a:title", namespaces=ns) for e in feed.findall("a:entry", ns)] == [
        "Stigma towards people who use opioids in primary care"]
    everything = ET.fromstring(requests.get(site + "/-/feed.atom", timeout=10).content)
    entries = everything.findall("a:entry", ns)
    assert len(entries) == 5
    link = entries[0].find("a:link", ns).get("href")
    assert link.startswith(site + "/-/records/")


def test_footer_and_method_count_the_searches_run(site, page: Page):
    page.goto(site + "/")
    footer = page.inner_text("footer")
    assert "Søk kjørt: 3" in footer and "10 treff" in footer
    page.click("footer a:has-text('Søk kjørt')")
    page.wait_for_url("**/-/method")
    row = page.locator("table.pub-method tr", has_text="pubmed-mental-health")
    for text in ("community mental health", "2023-10-21 – 2024-10-21", "2024-10-21"):
        expect(row).to_contain_text(text)
    expect(row.locator("td").nth(4)).to_have_text("6")
    unrun = page.locator("table.pub-method tr", has_text=UNRUN[0])
    expect(unrun).to_contain_text("Ikke kjørt ennå")
    screenshot(page, "published-method.png")


def test_theme_page_screenshot(site, page: Page):
    page.goto(site + "/-/themes/mental-health-reviews")
    assert "Systematiske oversikter om psykisk helse" in page.inner_text("h1")
    screenshot(page, "published-theme.png")
    page.goto(site + "/-/prisma")
    screenshot(page, "published-prisma.png")
