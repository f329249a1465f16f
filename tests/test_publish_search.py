"""Search of the published site: compounds, inflections, themes, summaries, ranking, markup."""

from __future__ import annotations

import pytest
import sqlite_utils

from evidence.publish.build import publish
from evidence.publish.search import expand_sync, expansions, match_expression, parse_query
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
    expression = match_expression(parse_query(text), expand_sync(published.conn))
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
