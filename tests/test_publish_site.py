"""The published site through Datasette's test client: pages, facets, search, downloads."""

from __future__ import annotations

import csv
import dataclasses
import io
import json

import bibtexparser
import pytest
import rispy

from evidence.publish.build import publish
from evidence.publish.site.app import make_datasette
from tests.publishing_data import ABSTRACT_WORD, NOTE, REVIEWER, seed_working_db


@pytest.fixture
def published_path(db, config, tmp_path):
    seed_working_db(db, config)
    path = tmp_path / "published.db"
    publish(db, path, config)
    return path


@pytest.fixture
def ds(published_path):
    return make_datasette(published_path)


@pytest.mark.asyncio
async def test_plugin_listed_and_screening_disabled(ds):
    plugins = (await ds.client.get("/-/plugins.json")).json()
    hooks = {hook for p in plugins for hook in p["hooks"]}
    assert {"register_routes", "register_output_renderer", "render_cell"} <= hooks
    assert (await ds.client.get("/-/login")).status_code == 404
    assert (await ds.client.get("/-/screen")).status_code == 404


@pytest.mark.asyncio
async def test_home_lists_theme_groups_with_counts(ds):
    response = await ds.client.get("/")
    assert response.status_code == 200
    html = response.text
    assert "Kunnskapsgrunnlag: kommunalt psykisk helse- og rusarbeid" in html
    assert "Systematiske oversikter om psykisk helse</a>" in html
    assert "(2)" in html
    assert 'href="/-/themes/loneliness"' in html
    assert "Temagrupper" in html and "Søk" in html
    assert 'action="/-/search"' in html


@pytest.mark.asyncio
async def test_home_in_english(db, config, tmp_path):
    seed_working_db(db, config)
    publish(db, tmp_path / "en.db", dataclasses.replace(config, language="en"))
    html = (await make_datasette(tmp_path / "en.db").client.get("/")).text
    assert "Theme groups" in html and "Mental-health systematic reviews" in html


@pytest.mark.asyncio
async def test_theme_page_lists_works_with_summaries(ds):
    response = await ds.client.get("/-/themes/loneliness")
    assert response.status_code == 200
    assert "Sosial isolasjon og ensomhet" in response.text
    assert "Public summary of record 1." in response.text
    assert 'href="/-/records/1"' in response.text
    assert 'href="/published/theme_loneliness"' in response.text
    assert (await ds.client.get("/-/themes/norwegian-research")).status_code == 200
    assert (await ds.client.get("/-/themes/nope")).status_code == 404


@pytest.mark.asyncio
async def test_record_page(ds):
    response = await ds.client.get("/-/records/1")
    assert response.status_code == 200
    html = response.text
    assert "https://doi.org/10.1186/peer.2024.1" in html
    assert "https://pubmed.ncbi.nlm.nih.gov/38000001/" in html
    assert "<p>RESULTS: befriending reduced loneliness.</p>" in html
    # the search's description, not its internal name; PubMed linked once; a way back
    assert "pubmed-substance-use" not in html
    assert html.count("https://pubmed.ncbi.nlm.nih.gov/38000001/") == 1
    assert 'class="pub-back"><a href="/published/records">' in html
    assert NOTE not in html and REVIEWER not in html
    back = await ds.client.get("/-/records/1", headers={
        "referer": "http://localhost/-/search?q=peer&page=2"})
    assert 'href="/-/search?q=peer&amp;page=2"' in back.text
    elsewhere = await ds.client.get("/-/records/1", headers={
        "referer": "https://example.org/-/search?q=x"})
    assert "example.org" not in elsewhere.text
    assert (await ds.client.get("/-/records/3")).status_code == 404


@pytest.mark.asyncio
async def test_prisma_svg_from_counts(ds):
    response = await ds.client.get("/-/prisma.svg")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    svg = response.text
    assert svg.startswith("<svg") and "Identifisert (n = 8)" in svg
    assert "Duplikater fjernet (n = 2)" in svg and "Inkludert (n = 3)" in svg
    assert "Feil tema: 1" in svg
    assert "/-/prisma.svg" in (await ds.client.get("/-/prisma")).text


@pytest.mark.asyncio
async def test_prisma_has_a_phone_layout_that_cuts_no_words(ds):
    import re

    page = (await ds.client.get("/-/prisma")).text
    assert "/-/prisma.svg?layout=narrow" in page and "max-width: 700px" in page
    narrow = (await ds.client.get("/-/prisma.svg?layout=narrow")).text
    assert 'width="380"' in narrow and 'font-size="14"' in narrow
    wide = (await ds.client.get("/-/prisma.svg")).text
    for svg in (narrow, wide):
        texts = " ".join(re.findall(r"<text[^>]*>([^<]*)</text>", svg))
        assert "Inkludert (n = 3)" in texts and "Feil tema: 1" in texts


@pytest.mark.asyncio
async def test_table_has_default_facets_and_search(ds):
    data = (await ds.client.get("/published/records.json?_search=" + ABSTRACT_WORD)).json()
    assert [row[0] for row in data["rows"]] == [1]
    facets = (await ds.client.get("/published/records.json?_extra=facet_results")).json()
    names = set(facets["facet_results"])
    assert {"themes", "year", "journal", "publication_types"} <= names
    theme_values = {f["value"]: f["count"] for f in facets["facet_results"]["themes"]["results"]}
    assert theme_values["Sosial isolasjon og ensomhet"] == 1
    html = (await ds.client.get("/published/records")).text
    assert "Inkluderte arbeider" in html
    assert 'href="/-/records/1"' in html


@pytest.mark.asyncio
async def test_search_and_facet_on_a_theme_view(ds):
    data = (await ds.client.get("/published/group_mental_health_reviews.json"
                                "?_search=opioids&_shape=objects")).json()
    assert [row["id"] for row in data["rows"]] == [2]
    filtered = (await ds.client.get("/published/records.json?_shape=objects"
                                    "&themes__arraycontains=Stigma+og+diskriminering")).json()
    assert [row["id"] for row in filtered["rows"]] == [2]


@pytest.mark.asyncio
async def test_theme_facet_toggles_the_indexed_theme_filter(ds):
    facets = (await ds.client.get("/published/records.json")).json()["facet_results"]
    stigma = next(v for v in facets["themes"]["results"]
                  if v["value"] == "Stigma og diskriminering")
    assert stigma["toggle_url"].endswith("/published/records.json?_theme=Stigma+og+diskriminering")
    for arg in ("Stigma+og+diskriminering", "stigma"):
        data = (await ds.client.get(f"/published/records.json?_shape=objects&_theme={arg}")).json()
        assert [row["id"] for row in data["rows"]] == [2], arg
    none = (await ds.client.get("/published/records.json?_shape=objects&_theme=stigma"
                                "&_theme=loneliness")).json()
    assert none["rows"] == []
    ris = await ds.client.get("/published/records.ris?_theme=stigma")
    assert [e["title"] for e in rispy.loads(ris.text)] == [
        "Stigma towards people who use opioids in primary care"]


@pytest.mark.asyncio
async def test_ris_renderer_of_a_filtered_view(ds):
    response = await ds.client.get("/published/records.ris?year=2024")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    entries = rispy.loads(response.text)
    assert sorted(e["title"] for e in entries) == [
        "Kunst og kultur i psykisk helsearbeid",
        "Peer support and befriending in community mental health: a systematic review"]
    peer = next(e for e in entries if e["title"].startswith("Peer"))
    assert peer["authors"] == ["Smith, Jane", "Doe, Anna"]
    assert peer["doi"] == "10.1186/peer.2024.1"
    html = (await ds.client.get("/published/records")).text
    assert "records.ris" in html and "records.bibtex" in html


@pytest.mark.asyncio
async def test_bibtex_renderer(ds):
    response = await ds.client.get("/published/theme_stigma.bibtex")
    assert response.status_code == 200
    entries = bibtexparser.loads(response.text).entries
    assert len(entries) == 1
    assert entries[0]["ENTRYTYPE"] == "article"
    assert entries[0]["doi"] == "10.1111/add.2023.2"
    assert entries[0]["author"] == "Nguyen, Minh"


@pytest.mark.asyncio
async def test_csv_and_json_downloads(ds):
    csv = await ds.client.get("/published/theme_loneliness.csv")
    assert csv.status_code == 200 and "befriending" in csv.text
    assert (await ds.client.get("/published/searches.json")).status_code == 200


@pytest.mark.asyncio
async def test_theme_filter_ignored_on_tables_without_records(ds):
    response = await ds.client.get("/published/theme_groups.json?_theme=stigma")
    assert response.status_code == 200


@pytest.mark.asyncio
async def test_table_pages_use_the_published_language(db, config, tmp_path):
    seed_working_db(db, config)
    publish(db, tmp_path / "en.db", dataclasses.replace(config, language="en"))
    ds = make_datasette(tmp_path / "en.db")
    html = (await ds.client.get("/en/records?year=2024")).text
    assert '<html lang="en">' in html and "Journal or publisher" in html
    assert "where year is 2024" in html and "Download all 2" in html
    assert "rows where" not in html and "Powered by" not in html


@pytest.mark.asyncio
async def test_method_page_lists_runs_with_window_date_and_hits(ds):
    html = (await ds.client.get("/-/method")).text
    assert "pubmed-mental-health" in html and "2023-10-21 – 2024-10-21" in html
    assert "systematic[sb]" in html
    footer = (await ds.client.get("/")).text
    # the example configuration's eight searches (PubMed, Zotero, Crossref, OpenAlex, files)
    assert "Søk kjørt: 8" in footer and "8 treff" in footer


@pytest.mark.asyncio
async def test_atom_feed_of_a_theme(ds):
    response = await ds.client.get("/-/feed.atom?theme=loneliness")
    assert response.headers["content-type"].startswith("application/atom+xml")
    assert "<title>Peer support and befriending" in response.text
    assert "http://localhost/-/records/1" in response.text
    assert (await ds.client.get("/-/feed.atom?theme=nope")).status_code == 404


@pytest.mark.asyncio
async def test_whole_selection_downloads(ds):
    ris = rispy.loads((await ds.client.get("/-/download/records.ris?year=2024&_size=1")).text)
    assert len(ris) == 2
    peer = next(e for e in ris if e["title"].startswith("Peer"))
    assert "Sosial isolasjon og ensomhet" in peer["keywords"]
    bib = bibtexparser.loads((await ds.client.get("/-/download/theme_stigma.bibtex")).text)
    assert "Stigma og diskriminering" in bib.entries[0]["keywords"]
    csv_text = (await ds.client.get("/-/download/records.csv?_search=befriending")).text
    rows = list(csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff"))))
    assert [r["id"] for r in rows] == ["1"] and rows[0]["record_page"].endswith("/-/records/1")
    assert (await ds.client.get("/-/download/searches.csv")).status_code == 404
    assert (await ds.client.get("/-/download/nope.ris")).status_code == 404


@pytest.mark.asyncio
async def test_error_pages_in_the_published_language(ds):
    page = await ds.client.get("/published/nope")
    assert page.status_code == 404 and "Fant ikke siden" in page.text
    assert (await ds.client.get("/published/nope.json")).json()["ok"] is False


def test_times_show_their_zone():
    from evidence.publish.site.tablepage import when

    assert when("2026-12-06T22:11:25.607+01:00") == "2026-12-06 21:11 UTC"
    assert when("2026-12-06T21:11:25") == "2026-12-06 21:11 UTC"
    assert when("2024-10-21") is None and when("not a time at all") is None


@pytest.mark.asyncio
async def test_run_times_on_pages_carry_their_zone(ds):
    html = (await ds.client.get("/published/searches")).text
    assert " UTC" in html


@pytest.fixture
def edited_ds(db, config, tmp_path):
    """Record 6 an edited book (editors, no authors, a Norwegian original title, markup in
    the names); record 1 a chapter with both authors and an editor."""
    seed_working_db(db, config)
    db["records"].update(6, {
        "authors": "[]", "original_title": "Kunst <script>alert(1)</script> og kultur",
        "creators": json.dumps([{"role": "editor", "name": "Moe, <b>Kari</b>"},
                                {"role": "editor", "name": "Dahl, Ola"},
                                {"role": "translator", "name": "Berg, Tor"}])})
    db["records"].update(1, {"original_title": RECORD_1_TITLE.upper(),  # the title again
                             "creators": json.dumps([{"role": "editor", "name": "Lund, Eva"}])})
    publish(db, tmp_path / "published.db", config)
    return make_datasette(tmp_path / "published.db")


RECORD_1_TITLE = "Peer support and befriending in community mental health: a systematic review"


@pytest.mark.asyncio
async def test_editors_and_original_title_are_published_and_shown_escaped(edited_ds, tmp_path):
    import sqlite3

    rows = sqlite3.connect(tmp_path / "published.db").execute(
        "SELECT id, authors, editors, original_title FROM records ORDER BY id").fetchall()
    assert rows[0] == (1, "Smith, Jane; Doe, Anna", "Lund, Eva", None)  # no repeat of the title
    assert rows[2] == (6, "", "Moe, <b>Kari</b>; Dahl, Ola",
                       "Kunst <script>alert(1)</script> og kultur")
    html = (await edited_ds.client.get("/-/records/6")).text
    # named by the editors, marked as editors, under the title the original title; escaped
    assert "<p>Moe, &lt;b&gt;Kari&lt;/b&gt;; Dahl, Ola (red.) (2024)." in html
    assert ('<p class="pub-original-title"><span class="pub-label">Originaltittel:</span>'
            " Kunst &lt;script&gt;alert(1)&lt;/script&gt; og kultur</p>") in html
    assert "<script>alert" not in html and "<b>Kari" not in html and "Berg, Tor" not in html
    assert html.index("</h1>") < html.index("pub-original-title")
    chapter = (await edited_ds.client.get("/-/records/1")).text
    assert "<dt>Redaktører</dt><dd>Lund, Eva</dd>" in chapter
    assert "pub-original-title" not in chapter and "(red.)" not in chapter
    for path in ("/-/themes/arts-culture", "/-/search?q=kultur"):
        page = (await edited_ds.client.get(path)).text
        assert "Moe, &lt;b&gt;Kari&lt;/b&gt;; Dahl, Ola (red.)" in page, path
    # found by the original title and by an editor, both shown escaped on the search page
    for query in ("alert", "dahl"):
        page = (await edited_ds.client.get("/-/search", params={"q": query})).text
        assert '<a href="/-/records/6">' in page and "<script>alert" not in page, query
    assert "Kunst &lt;script&gt;<mark>alert</mark>(1)&lt;/script&gt; og kultur" in (
        await edited_ds.client.get("/-/search?q=alert")).text
    feed = (await edited_ds.client.get("/-/feed.atom")).text
    assert "<name>Moe, &lt;b&gt;Kari&lt;/b&gt;; Dahl, Ola (red.)</name>" in feed
    table = (await edited_ds.client.get("/published/records?id=6")).text
    assert "Redaktører" in table and "Originaltittel" in table and "<b>Kari" not in table


@pytest.mark.asyncio
async def test_downloads_carry_the_editors(edited_ds):
    ris = rispy.loads((await edited_ds.client.get("/-/download/records.ris?id=6")).text)
    assert ris[0]["secondary_authors"] == ["Moe, <b>Kari</b>", "Dahl, Ola"]
    assert "authors" not in ris[0]
    page = rispy.loads((await edited_ds.client.get("/published/records.ris?id=6")).text)
    assert page[0]["secondary_authors"] == ["Moe, <b>Kari</b>", "Dahl, Ola"]
    bib = bibtexparser.loads((await edited_ds.client.get("/-/download/records.bibtex?id=6")).text)
    assert bib.entries[0]["editor"] == "Moe, <b>Kari</b> and Dahl, Ola"
    text = (await edited_ds.client.get("/-/download/records.csv?id=6")).text
    row = next(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert row["editors"] == "Moe, <b>Kari</b>; Dahl, Ola"
    assert row["original_title"] == "Kunst <script>alert(1)</script> og kultur"


@pytest.mark.asyncio
async def test_a_file_published_before_editors_still_serves(edited_ds, tmp_path):
    import sqlite3

    conn = sqlite3.connect(tmp_path / "published.db")
    views = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'view'").fetchall()
    for name, _ in views:
        conn.execute(f"DROP VIEW [{name}]")
    conn.execute("ALTER TABLE records DROP COLUMN editors")
    conn.execute("ALTER TABLE records DROP COLUMN original_title")
    for _, sql in views:
        conn.execute(sql)
    # and its search index as it was then: without the original title and the editors
    conn.execute("DROP TABLE search_index")
    conn.execute("CREATE VIRTUAL TABLE search_index USING fts5(title, themes, summary,"
                 " keywords, authors, abstract, content='records', content_rowid='id',"
                 " tokenize='unicode61 remove_diacritics 2', prefix='2 3')")
    conn.execute("INSERT INTO search_index(search_index) VALUES ('rebuild')")
    conn.commit()
    conn.close()
    old = make_datasette(tmp_path / "published.db")
    for path in ("/-/records/6", "/-/themes/arts-culture", "/-/search?q=kultur",
                 "/-/feed.atom", "/-/download/records.ris", "/published/records?_search=kultur"):
        assert (await old.client.get(path)).status_code == 200, path
    assert '<a href="/-/records/6">' in (await old.client.get("/-/search?q=kultur")).text


@pytest.mark.asyncio
async def test_the_selection_sentence_names_themes_and_kinds_as_the_reader_sees_them(ds):
    for arg in ("stigma", "Stigma+og+diskriminering"):
        html = (await ds.client.get(f"/published/records?_theme={arg}")).text
        assert "der tema er «Stigma og diskriminering»" in html, arg
        assert "«stigma»" not in html
    kind = (await ds.client.get("/published/records?_theme=stigma&kind=review")).text
    assert "og type arbeid er Systematiske oversikter" in kind
    odd = (await ds.client.get("/published/records?_theme=%3Cb%3Ex%3C/b%3E&kind=%3Ci%3E")).text
    assert "tema er «&lt;b&gt;x&lt;/b&gt;»" in odd and "type arbeid er &lt;i&gt;" in odd


@pytest.mark.asyncio
async def test_download_and_feed_errors_speak_the_site_language(ds, monkeypatch):
    from evidence.publish.site import downloads

    bad = await ds.client.get("/-/download/records.csv?_sort=nope")
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("text/html")
    assert '<html lang="nb">' in bad.text and "<h1>Ugyldig forespørsel</h1>" in bad.text
    assert "<title>Ugyldig forespørsel" in bad.text and "Noe gikk galt" not in bad.text
    assert "Gå til forsiden for å søke eller velge et tema." in bad.text  # the help is kept
    assert "400: Cannot sort table by nope" in bad.text  # Datasette's message, as elsewhere
    for path in ("/-/download/nope.xlsx", "/-/feed.atom?theme=nope"):
        missing = await ds.client.get(path)
        assert missing.status_code == 404 and "<h1>Fant ikke siden</h1>" in missing.text, path
    monkeypatch.setattr(downloads, "MAX_ROWS", 1)
    many = await ds.client.get("/-/download/records.ris")
    assert many.status_code == 413 and "Mer enn 1 rader: avgrens utvalget" in many.text
    assert "<h1>Noe gikk galt</h1>" in many.text  # other errors keep the general heading
    # Datasette's own data formats keep their answers
    assert (await ds.client.get("/published/records.json?_sort=nope")).json()["status"] == 400


@pytest.mark.asyncio
async def test_a_bad_request_says_so_in_english_too(db, config, tmp_path):
    seed_working_db(db, config)
    publish(db, tmp_path / "en.db", dataclasses.replace(config, language="en"))
    ds = make_datasette(tmp_path / "en.db")
    bad = await ds.client.get("/-/download/records.csv?_sort=%3Cscript%3E")
    assert bad.status_code == 400 and "<h1>Bad request</h1>" in bad.text
    assert "Go to the home page to search or choose a theme." in bad.text
    assert "by &lt;script&gt;" in bad.text and "by <script>" not in bad.text  # escaped
    table = await ds.client.get("/en/records?_sort=nope")  # a table page's bad request
    assert table.status_code == 400 and "<h1>Bad request</h1>" in table.text
    missing = await ds.client.get("/-/themes/nope")
    assert missing.status_code == 404 and "<h1>Page not found</h1>" in missing.text


@pytest.mark.asyncio
async def test_search_box_names_original_titles_and_editors(db, config, tmp_path):
    """The search reads the original title (as the title) and the editors (as authors):
    the box and the search page's help say so, in the site's language."""
    seed_working_db(db, config)
    publish(db, tmp_path / "en.db", dataclasses.replace(config, language="en"))
    publish(db, tmp_path / "nb.db", config)
    for path, placeholder, help_ in (
        ("nb.db", "originaltittel, sammendrag, forfattere, redaktører", "redaktører som"),
        ("en.db", "original titles, abstracts, authors, editors", "editors as authors"),
    ):
        client = make_datasette(tmp_path / path).client
        for page in ("/", "/-/search", "/-/search?q=rus"):
            html = (await client.get(page)).text
            assert placeholder in html.split('placeholder="', 1)[1].split('"', 1)[0], page
        assert help_ in (await client.get("/-/search")).text


@pytest.mark.asyncio
async def test_one_work_is_one_work(ds):
    html = (await ds.client.get("/-/themes/arts-culture")).text
    assert '<span class="pub-count">(1 arbeid)</span>' in html
    assert '<span class="pub-count">(3 arbeider)</span>' in (await ds.client.get("/")).text
