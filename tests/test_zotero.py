"""Reading a Zotero library: field mapping, first and incremental sync, deletions, backoff.

All against the stand-in Zotero API (tests/standins/zotero.py) on 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from evidence import zotero_api as hz
from evidence.cli import cli
from evidence.config import load_config, service_settings
from evidence.harvest.runs import harvest_search
from evidence.harvest.zotero.convert import to_hit
from evidence.normalise import normalise_doi
from tests.standins.zotero import ZoteroState, article, fixture, make_key, serve

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "zotero"


def _config(tmp_path: Path, *, query: str = "", extra: str = "", library: str = ""):
    path = tmp_path / "zotero.yml"
    path.write_text(f"""
project: {{title: Test, language: nb}}
searches:
  - {{name: zot, source: zotero, library: lib, query: "{query}"{extra}}}
zotero:
  libraries:
    - {{name: lib, type: group, id: "1234567"{library}}}
""")
    return load_config(path)


def _sync(db, config, url, **kwargs):
    return harvest_search(db, config.search("zot"), config,
                             service_settings({"ZOTERO_API_URL": url}), **kwargs)


def last_checkpoint(db):
    """The final checkpoint of the last complete run: where the next sync starts."""
    rows = list(db.query("select checkpoint from runs where status = 'complete' order by id"))
    return json.loads(rows[-1]["checkpoint"]) if rows else {}


def _hits(db):
    return {row["external_id"]: row for row in db["hits"].rows}


def test_to_hit_maps_real_item_shapes():
    book = to_hit(fixture("item_doc.json"))
    assert book["external_id"] == "X42A7DEE"
    assert book["item_type"] == "book"
    assert book["authors"] == ["Institute of Physics (Great Britain)"]
    assert book["creators"][0] == {"role": "contributor", "name": "Craven, A. J"}
    assert book["isbn"] == "0750303212"
    assert book["year"] == "1993"  # Zotero's parsedDate 1993-00-00: the month is unknown
    assert book["keywords"][:2] == ["Analysis", "Congresses"]
    assert book["raw"]["collections"] == ["BX9965IJ", "9KH9TNSJ"]
    items = fixture("items_doc.json")
    paper = to_hit(next(i for i in items if i["key"] == "PQKBRC33"))
    assert paper["doi"] == "10.2307/2321200"
    assert paper["journal"] == "The American Mathematical Monthly"
    assert (paper["volume"], paper["issue"], paper["pages"]) == ("87", "5", "335-345")
    assert paper["issn"] == "00029890"
    assert paper["raw"]["num_children"] == 2


def test_real_items_keep_dates_creators_and_identifiers_as_they_mean_them():
    """pyzotero's recorded answer (items_doc.json): older parsedDate values, non-author
    creators, a DOI inside a URL with a query string, a PMID in ``extra``."""
    items = {i["key"]: to_hit(i) for i in fixture("items_doc.json")}
    dated = {i["data"]["date"]: items[i["key"]]["pub_date"] for i in fixture("items_doc.json")}
    assert dated["1992"] == "1992" and dated["08/1993"] == "1993-08"
    assert dated["06/2007"] == "2007-06" and dated["May 01, 1980"] == "1980-05-01"
    film = next(h for h in items.values() if h["item_type"] == "film")
    assert film["authors"] == [] and len(film["creators"]) == 14
    assert {c["role"] for c in film["creators"]} == {"contributor"}
    artwork = next(h for h in items.values() if h["item_type"] == "artwork")
    assert artwork["authors"] and artwork["creators"] == []  # the artist is its author
    crc = next(h for h in items.values() if "crcnetbase" in (h["url"] or ""))
    assert normalise_doi(crc["doi"]) == "10.1201/9781420005509.ch22"
    assert any(h["pmid"] == "20664272" for h in items.values())


def test_extra_lines_fill_fields_the_item_lacks():
    data = article(1, extra="Issue: 1\nVolume: 12\nDOI: 10.1000/xyz\nPMID: 42\n"
                   "original-title: Psykisk helse i kommunene")
    data["issue"], data["volume"], data["DOI"] = "", "7", ""
    hit = to_hit({"data": data})
    assert (hit["issue"], hit["volume"], hit["doi"], hit["pmid"]) == ("1", "7", "10.1000/xyz", "42")
    assert hit["original_title"] == "Psykisk helse i kommunene"


def test_editors_are_kept_with_their_role_and_a_directors_film_has_authors():
    book = to_hit({"data": article(2, itemType="book", creators=[
        {"creatorType": "editor", "firstName": "Eva", "lastName": "Editor"}])})
    assert book["authors"] == [] and book["creators"] == [{"role": "editor",
                                                           "name": "Editor, Eva"}]
    film = to_hit({"data": article(3, itemType="film", creators=[
        {"creatorType": "director", "firstName": "Ingmar", "lastName": "Bergman"},
        {"creatorType": "scriptwriter", "firstName": "A", "lastName": "Writer"}])})
    assert film["authors"] == ["Bergman, Ingmar"]
    assert film["creators"] == [{"role": "scriptwriter", "name": "Writer, A"}]


def test_to_hit_reads_ids_from_extra_and_url():
    data = article(1, DOI="", extra="PMID: 31234567\nPMCID: PMC7654321\nOther: x",
                   creators=[{"creatorType": "author", "firstName": "Ada", "lastName": "Lovelace"},
                             {"creatorType": "editor", "lastName": "Ed"}])
    hit = to_hit({"key": "K", "data": {**data, "key": "K", "version": 3}, "meta": {}})
    assert (hit["pmid"], hit["pmcid"]) == ("31234567", "PMC7654321")
    assert hit["authors"] == ["Lovelace, Ada"]
    assert to_hit({"data": {**data, "key": "K", "extra": "DOI: 10.5/ABC"}})["doi"] == "10.5/ABC"
    url = {**data, "key": "K", "extra": "", "url": "https://doi.org/10.1186/s12-024-1"}
    assert to_hit({"data": url})["doi"] == "10.1186/s12-024-1"


def test_first_sync_pages_counts_notes_and_stores_version(db, tmp_path):
    config = _config(tmp_path)
    state = ZoteroState.generated(250, notes_every=10)
    attachment = fixture("attachments_doc.json")["data"]
    state.items[attachment["key"]] = {**attachment, "parentItem": make_key(1), "version": 1}
    with serve(state) as (url, state):
        summary = _sync(db, config, url)
        items = [r for r in state.requests if r[1].endswith("/items")]
    assert summary.status == "complete"
    assert (summary.fetched, summary.new) == (250, 250)
    assert len(items) == 3  # 275 items incl. notes, 100 per page, following Link headers
    assert all(r[2]["limit"] == "100" for r in items)
    assert [r[2].get("start") for r in items] == [None, "100", "200"]
    hits = _hits(db)
    assert len(hits) == 250  # notes are not hits
    raw = json.loads(hits[make_key(0)]["raw"])
    assert raw["child_notes"] == 1 and raw["num_children"] == 1
    raw = json.loads(hits[make_key(1)]["raw"])
    assert raw["child_notes"] == 0 and raw["num_children"] == 1  # the attachment
    assert last_checkpoint(db) == {"library": "lib", "version": 1}
    run = db["runs"].get(summary.run_id)
    assert run["status"] == "complete" and run["reported_count"] == 276


def test_incremental_sync_of_5000_items_fetches_only_changes(db, tmp_path):
    config = _config(tmp_path)
    with serve(ZoteroState.generated(5000)) as (url, state):
        started = time.perf_counter()
        first = _sync(db, config, url)
        elapsed = time.perf_counter() - started
        assert first.new == 5000
        for i in range(10):
            state.edit(make_key(i * 400), title=f"Changed title {i}")
        state.add({**article(9999), "title": "Brand new"})
        before = len(state.requests)
        second = _sync(db, config, url)
        requests = state.requests[before:]
    assert elapsed < 60
    assert (second.fetched, second.new) == (11, 1)
    assert [(m, p.rsplit("/", 1)[-1], q.get("since")) for m, p, q in requests] == [
        ("GET", "items", "1"), ("GET", "deleted", "1")]
    hits = _hits(db)
    assert len(hits) == 5001
    assert hits[make_key(400)]["title"] == "Changed title 1"
    assert last_checkpoint(db)["version"] == state.version


def test_deleted_and_trashed_items_are_flagged_not_dropped(db, tmp_path):
    config = _config(tmp_path)
    with serve(ZoteroState.generated(20, notes_every=5)) as (url, state):
        _sync(db, config, url)
        state.delete(make_key(3))
        state.edit(make_key(4), deleted=1)  # moved to the trash
        state.delete(make_key(1_000_000 + 5))  # a child note of item 5
        summary = _sync(db, config, url)
    hits = _hits(db)
    assert len(hits) == 20
    assert hits[make_key(3)]["deleted"] == 1
    assert hits[make_key(4)]["deleted"] == 1
    assert hits[make_key(6)]["deleted"] == 0
    assert summary.message == "2 deleted in Zotero"
    assert json.loads(hits[make_key(5)]["raw"])["child_notes"] == 0


def test_query_tag_and_item_type_are_sent(db, tmp_path):
    config = _config(tmp_path, query="study 7", extra=", tag: mental health, "
                                                      "item_type: journalArticle")
    with serve(ZoteroState.generated(100)) as (url, state):
        summary = _sync(db, config, url)
        params = state.requests[0][2]
    assert params["q"] == "study 7" and params["qmode"] == "everything"
    assert params["tag"] == "mental health" and params["itemType"] == "journalArticle"
    assert summary.fetched == 11  # 7, 70..79


def test_collection_with_subcollections(db, tmp_path):
    state = ZoteroState.generated(30)
    top = state.add_collection("Report")
    sub = state.add_collection("Chapter 2", parent=top)
    other = state.add_collection("Other")
    for i in range(30):
        state.items[make_key(i)]["collections"] = [[top, sub, other][i % 3]]
    config = _config(tmp_path, library=f", collection: {top}")
    with serve(state) as (url, _):
        summary = _sync(db, config, url)
    assert summary.fetched == 20
    assert make_key(2) not in _hits(db)


def test_429_retry_after_and_5xx_are_retried(db, tmp_path):
    config = _config(tmp_path)
    slept: list[float] = []
    with serve(ZoteroState.generated(150)) as (url, state):
        state.faults_after = 1
        state.faults = [(429, {"Retry-After": "0.2"}), (503, {"Retry-After": "7"})]
        started = time.perf_counter()
        summary = _sync(db, config, url, sleep=slept.append)
        waited = time.perf_counter() - started
    assert summary.fetched == 150
    assert waited >= 0.2  # pyzotero waited out Retry-After on the 429
    assert slept == [7.0]  # and our wrapper honoured it on the 503


def test_failed_run_keeps_old_version_and_next_run_completes(db, tmp_path):
    config = _config(tmp_path)
    with serve(ZoteroState.generated(250)) as (url, state):
        state.faults_after = 1
        state.faults = [(500, {})] * hz.RETRIES
        with pytest.raises(hz.ZoteroError, match="still failing"):
            _sync(db, config, url, sleep=lambda s: None)
        assert db["hits"].count == 100  # the first page was stored
        assert db["runs"].get(1)["status"] == "failed" and last_checkpoint(db) == {}
        summary = _sync(db, config, url)
    assert (summary.fetched, summary.new) == (250, 150)
    assert [r["status"] for r in db["runs"].rows] == ["failed", "complete"]


def test_unknown_library_is_a_clear_error(db, tmp_path):
    config = _config(tmp_path)
    search = config.search("zot")
    bad = dataclasses.replace(search, settings={**search.settings, "library": "nope"})
    with pytest.raises(hz.ZoteroError, match="no Zotero library named 'nope'"):
        harvest_search(db, bad, config, service_settings({}))


def test_cli_harvest_zotero_search(tmp_path, config_path, monkeypatch):
    db_path = tmp_path / "cli.db"
    with serve(ZoteroState.generated(120)) as (url, _):
        monkeypatch.setenv("ZOTERO_API_URL", url)
        result = CliRunner().invoke(cli, ["harvest", "--search", "zotero-included",
                                          "--db", str(db_path), "--config", str(config_path)])
        assert result.exit_code == 0, result.output
        assert "zotero-included: complete, 120 reported, 120 fetched, 120 new" in result.output
        again = CliRunner().invoke(cli, ["harvest", "--search", "zotero-included",
                                         "--db", str(db_path), "--config", str(config_path)])
    assert "0 reported, 0 fetched, 0 new" in again.output


def test_wrong_library_id_says_what_to_check(db, tmp_path):
    config = _config(tmp_path)
    state = ZoteroState.generated(3)
    state.library_id = "999"
    with serve(state) as (url, _), pytest.raises(hz.ZoteroError, match="library's type, id"):
        _sync(db, config, url)
    assert [r["status"] for r in db["runs"].rows] == ["failed"]


def test_local_desktop_api_keeps_loopback_endpoint(tmp_path):
    config = _config(tmp_path, library=", local: true")
    library = config.zotero_library("lib")
    assert hz.connect(library, service_settings({})).endpoint == "http://127.0.0.1:23119/api"
    other = service_settings({"ZOTERO_API_URL": "http://127.0.0.1:9/api/"})
    assert hz.connect(library, other).endpoint == "http://127.0.0.1:9/api"


def test_progress_bar_does_not_disturb_sync(db, tmp_path, capsys):
    config = _config(tmp_path)
    with serve(ZoteroState.generated(120)) as (url, _):
        summary = _sync(db, config, url, progress=True)
    assert summary.fetched == 120
    assert capsys.readouterr().out == ""


def test_server_that_never_answers_is_named_and_given_up_on(db, tmp_path, monkeypatch, caplog):
    from pyzotero import _client

    monkeypatch.setattr(_client, "DEFAULT_TIMEOUT", 0.5)
    config = _config(tmp_path)
    with serve(ZoteroState.generated(5)) as (url, state):
        state.faults = [(0, {})] * hz.RETRIES
        started = time.monotonic()
        try:
            with caplog.at_level("WARNING", logger="evidence.zotero"), pytest.raises(
                    hz.ZoteroError, match=r"Zotero items: still failing after 5 attempts \(no "
                                          r"answer from http://127.0.0.1:\d+ within 0.5 s\)"):
                _sync(db, config, url, sleep=lambda s: None)
        finally:
            state.release.set()
    assert time.monotonic() - started < 10
    waits = [r.getMessage() for r in caplog.records]
    assert len(waits) == 4 and waits[0].startswith(
        "Zotero items: no answer from http://127.0.0.1:")
    assert waits[0].endswith("within 0.5 s (attempt 1 of 5); trying again in 1 s")
    assert [r["status"] for r in db["runs"].rows] == ["failed"]
