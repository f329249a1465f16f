"""Search of the published site: compounds, inflections, themes, summaries, ranking, markup."""

from __future__ import annotations

import pytest
import sqlite_utils

from evidence.publish.build import publish
from evidence.publish.search import (
    MAX_CLAUSES,
    MAX_QUERY_CHARS,
    expand_sync,
    expansions,
    match_expression,
    own_words_expression,
    parse_query,
    read_synonyms,
    synonym_groups,
)
from evidence.publish.site.app import make_datasette
from tests.publishing_data import seed_reader_records, seed_working_db


@pytest.fixture
def published_path(db, config, tmp_path):
    seed_working_db(db, config)
    seed_reader_records(db)
    path = tmp_path / "published.db"
    publish(db, path, config)
    return path


@pytest.fixture
def published(published_path):
    return sqlite_utils.Database(published_path)


def ids(published, text: str) -> list[int]:
    query = parse_query(text, read_synonyms(published.conn))
    expression = match_expression(query, expand_sync(published.conn))
    return sorted(r[0] for r in published.execute(
        "SELECT rowid FROM search_index WHERE search_index MATCH ?", [expression]))


@pytest.mark.parametrize("word", ["rus", "rusmiddel", "Rusmiddelproblemer", "rusmiddelbruk",
                                  "rusarbeidet", "problemer", "eldres"])
def test_norwegian_words_find_compounds_and_inflections(published, word):
    assert 7 in ids(published, word), word


def test_prefix_does_not_match_inside_unrelated_words(published):
    assert ids(published, "virus") == []
    assert 7 not in ids(published, "arbeid kunst")


def test_theme_names_and_summaries_are_searchable(published):
    assert ids(published, "Stigma og diskriminering") == [2]
    assert ids(published, "Tarmbakterier") == [8]
    assert ids(published, "mangler kompetanse") == [7]


def test_english_stems_phrases_and_or(published):
    assert 1 in ids(published, "communities")
    assert ids(published, '"primary care"') == [2]
    assert ids(published, "opioids OR Lactobacillus") == [2, 8]
    assert ids(published, "lactobacillus") == [8]  # markup is not in the index


def test_compound_splitting_uses_corpus_frequencies():
    docs = {"rus": 5, "middel": 3, "rusmiddel": 2, "problemer": 6, "rusmiddelproblemer": 1,
            "understanding": 50, "under": 10, "standing": 3}
    pairs = set(expansions(docs))
    assert ("problemer", "rusmiddelproblemer") in pairs
    assert ("middel", "rusmiddel") in pairs and ("middel", "rusmiddelproblemer") in pairs
    assert not any(term == "understanding" for _, term in pairs)


@pytest.mark.asyncio
async def test_table_search_uses_the_compound_filter(published_path):
    ds = make_datasette(published_path)
    for word in ("rus", "rusmiddel", "problemer"):
        data = (await ds.client.get(f"/published/records.json?_search={word}&_shape=objects"
                                    "&_nofacet=1")).json()
        assert 7 in [r["id"] for r in data["rows"]], word
    raw = (await ds.client.get("/published/records.json?_search=rus*&_searchmode=raw"
                               "&_shape=objects")).json()
    assert sorted(r["id"] for r in raw["rows"]) == [2, 7]  # 2: theme "…rusmiddelbruk"
    view = (await ds.client.get("/published/theme_substance_addiction.json?_search=eldre"
                                "&_shape=objects")).json()
    assert [r["id"] for r in view["rows"]] == [7]


# --- one search for tables and /-/search; synonyms; why a result matched (issue 23 §3) -----

def search_page_ids(html: str) -> list[int]:
    import re

    return [int(m) for m in re.findall(r'<h3><a href="/-/records/(\d+)"', html)]


@pytest.mark.asyncio
@pytest.mark.parametrize("text", ["rus", "rusmidler", "ensomhet", "loneliness", "depresjon",
                                  "psykisk helse", "mental health", "kunst", "community"])
async def test_table_search_finds_what_the_search_page_finds(published_path, text):
    ds = make_datasette(published_path)
    table = (await ds.client.get("/published/records.json", params={
        "_search": text, "_shape": "objects", "_nofacet": "1"})).json()
    page = await ds.client.get("/-/search", params={"q": text})
    assert sorted(r["id"] for r in table["rows"]) == sorted(search_page_ids(page.text)), text
    assert table["rows"], text


def test_inflected_forms_and_synonyms_find_each_other(published):
    assert 7 in ids(published, "rusmidler")  # rusmiddel-: the e goes before -er
    assert 8 in ids(published, "depresjon")  # depression in the abstract
    assert 8 in ids(published, "depresjonen")
    assert 1 in ids(published, "loneliness")  # theme "Sosial isolasjon og ensomhet"
    assert 1 in ids(published, "psykisk helse")  # "community mental health" in the title
    assert ids(published, "angst") == ids(published, "anxiety")


def test_synonyms_read_runs_of_words_and_stems():
    groups = synonym_groups([["tarmflora", "gut microbiota"], ["angst", "uro"]])
    query = parse_query("psykiske helse i kommunen", groups)
    assert query.synonyms == {0: (2, ["mental health"]), 3: (1, ["municipality"])}
    assert "mental health" in query.words
    assert parse_query("angsten", groups).synonyms == {0: (1, ["anxiety", "uro"])}
    assert parse_query("de", groups).synonyms == {}
    expression = match_expression(parse_query("psykisk helse", groups), lambda p: [])
    assert expression == '(("psykisk" * AND "hels" *) OR "mental" * + "health" *)'


def test_query_length_and_words_are_capped():
    query = parse_query(" ".join(f"ord{i}" for i in range(16_000)))
    assert len(query.clauses) == MAX_CLAUSES
    assert len(query.text) <= MAX_QUERY_CHARS


def test_compound_with_a_dropped_e_is_listed_under_its_short_form():
    docs = {"rusmiddelbruk": 1, "modellen": 3, "helse": 9, "sykkel": 2}
    pairs = set(expansions(docs))
    assert ("rusmidlbruk", "rusmiddelbruk") in pairs and ("sykl", "sykkel") in pairs
    assert not any(term in ("modellen", "helse") for _, term in pairs)


@pytest.mark.asyncio
async def test_project_synonyms_from_evidence_yml_are_published(db, config_path, tmp_path):
    from evidence.config import load_config

    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text + "\nsynonyms:\n  - [tarmflora, Lactobacillus]\n",
                           encoding="utf-8")
    config = load_config(config_path)
    assert config.synonyms == (("tarmflora", "Lactobacillus"),)
    seed_working_db(db, config)
    seed_reader_records(db)
    path = tmp_path / "published.db"
    publish(db, path, config)
    assert ids(sqlite_utils.Database(path), "tarmflora") == [8]
    ds = make_datasette(path)
    page = await ds.client.get("/-/search", params={"q": "tarmflora"})
    assert "<mark>Lactobacillus</mark>" in page.text


@pytest.mark.asyncio
async def test_search_page_says_why_and_ranks_theme_labels_last(published_path, published):
    ds = make_datasette(published_path)
    page = (await ds.client.get("/-/search", params={"q": "community"})).text
    assert "<mark>community</mark>" in page.lower() or "<mark>Community</mark>" in page
    # record 7 holds "community care" only in its keywords, which are not shown otherwise
    item = page[page.index('href="/-/records/7"'):]
    item = item[:item.index("</li>")]
    assert "Treff bare i nøkkelord" in item and "<mark>community</mark> care" in item
    for text in ("rus", "psykisk", "ensomhet", "kunst", "stigma"):
        expression = match_expression(parse_query(text), expand_sync(published.conn))
        own = {r[0] for r in published.execute(
            "SELECT rowid FROM search_index WHERE search_index MATCH ?",
            [own_words_expression(expression)])}
        order = search_page_ids((await ds.client.get("/-/search", params={"q": text})).text)
        flags = [i not in own for i in order]
        assert flags == sorted(flags), text  # every theme-only match after the others


@pytest.mark.asyncio
async def test_search_from_a_filtered_table_keeps_its_filters(published_path):
    ds = make_datasette(published_path)
    page = (await ds.client.get("/published/records", params={
        "year": "2024", "_sort": "title"})).text
    form = page[page.index('class="pub-search"'):]
    form = form[:form.index("</form>")]
    assert '<input type="hidden" name="year" value="2024">' in form
    assert '<input type="hidden" name="_sort" value="title">' in form
    searched = (await ds.client.get("/published/records", params={
        "year": "2024", "_search": "stigma OR rus"})).text
    assert "/-/download/records.csv?year=2024&amp;_search=" in searched
    csv_text = (await ds.client.get("/-/download/records.csv", params={
        "year": "2024", "_search": "stigma OR rus"})).text
    assert "Rusmiddelproblemer" in csv_text and "Stigma towards" not in csv_text  # 2023


@pytest.mark.asyncio
async def test_marked_words_are_escaped(db, config, tmp_path):
    import json

    seed_working_db(db, config)
    seed_reader_records(db)
    db["records"].update(7, {"keywords": json.dumps(["<img src=x onerror=alert(1)> zebrafink"]),
                             "authors": json.dumps(["<b>Kolibri</b>, Kari"])})
    path = tmp_path / "published.db"
    publish(db, path, config)
    client = make_datasette(path).client
    page = (await client.get("/-/search", params={"q": "zebrafink"})).text
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt; <mark>zebrafink</mark>" in page
    page = (await client.get("/-/search", params={"q": "kolibri"})).text
    assert "<b>Kolibri" not in page and "&lt;b&gt;<mark>Kolibri</mark>&lt;/b&gt;" in page


@pytest.mark.asyncio
async def test_table_page_opens_a_folded_match(published_path):
    ds = make_datasette(published_path)
    page = (await ds.client.get("/published/records", params={"_search": "community"})).text
    # record 1 has "community" in its title; the others only in their keywords (folded)
    rows = page.split("<tr>")[2:]
    by_id = {int(r.split('href="/-/records/')[1].split('"')[0]): r for r in rows}
    assert "<details class=\"pub-more\">" in by_id[1]
    assert '<details class="pub-more" open>' in by_id[7] and "(treff her)" in by_id[7]
    assert "<mark>community</mark> care" in by_id[7]


# --- the original-language title and the editors are found (and ranked) --------------------

ORIGINAL_TITLE = ("Lavterskeltilbud og fordommer mot brukere av opioider i"
                  " primærhelsetjenesten: å møte stigma")


@pytest.fixture
def titled_path(db, config, tmp_path):
    """Record 2 (an English title) with a Norwegian original title holding æ, ø and å; record
    6 an edited volume (editors, no authors); the word ``lavterskeltilbud`` in 6's title, 2's
    original title and twice in 1's abstract (so a weak original title would rank below)."""
    import json

    seed_working_db(db, config)
    seed_reader_records(db)
    db["records"].update(2, {"original_title": ORIGINAL_TITLE})
    db["records"].update(6, {
        "title": "Lavterskeltilbud: kunst og kultur i psykisk helsearbeid", "authors": "[]",
        "creators": json.dumps([{"role": "editor", "name": "Moe, Kari"},
                                {"role": "editor", "name": "Dåstøl, Ørjan"},
                                {"role": "translator", "name": "Vik, Tor"}])})
    db["records"].update(1, {"abstract": "Lavterskeltilbud in primary care: what users of"
                             " lavterskeltilbud value."})
    path = tmp_path / "published.db"
    publish(db, path, config)
    return path


def test_original_title_and_editors_are_indexed(titled_path):
    published = sqlite_utils.Database(titled_path)
    assert ids(published, "primærhelsetjenesten") == [2]  # only in its original title
    assert ids(published, "Primærhelse") == [2]  # a prefix, folded
    assert ids(published, "fordommer opioider") == [2]  # its title and original title
    assert ids(published, "møte") == [2]
    assert ids(published, "Moe") == [6] and ids(published, "dåstøl ørjan") == [6]
    assert ids(published, "Vik") == []  # a translator is not an editor: not indexed


@pytest.mark.asyncio
async def test_an_original_title_match_ranks_with_title_matches(titled_path):
    ds = make_datasette(titled_path)
    page = (await ds.client.get("/-/search", params={"q": "lavterskeltilbud"})).text
    order = search_page_ids(page)
    assert sorted(order[:2]) == [2, 6] and order[2:] == [1]  # the abstract match last
    item = page[page.index('href="/-/records/2"'):]
    item = item[:item.index("</li>")]
    assert ('<p class="pub-original-title"><span class="pub-label">Originaltittel:</span>'
            " <mark>Lavterskeltilbud</mark> og fordommer") in item
    assert "primærhelsetjenesten: å møte stigma" in item
    table = (await ds.client.get("/published/records.json", params={
        "_search": "primærhelsetjenesten", "_shape": "objects", "_nofacet": "1"})).json()
    assert [r["id"] for r in table["rows"]] == [2]


@pytest.mark.asyncio
async def test_an_edited_volume_is_found_by_its_editors(titled_path):
    ds = make_datasette(titled_path)
    page = (await ds.client.get("/-/search", params={"q": "Dåstøl"})).text
    assert search_page_ids(page) == [6]
    assert "Moe, Kari; <mark>Dåstøl</mark>, Ørjan (red.)" in page
    assert "Treff bare" not in page  # the editors are the work's own words, shown
    table = (await ds.client.get("/published/records.json", params={
        "_search": "moe", "_shape": "objects", "_nofacet": "1"})).json()
    assert [r["id"] for r in table["rows"]] == [6]
