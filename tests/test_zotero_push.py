"""Writing included records back to Zotero: create, update in place, no-op, conflicts."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from evidence.cli import cli
from evidence.config import service_settings
from evidence.db.config_sync import sync_config
from evidence.db.values import now
from evidence.harvest.runs import harvest_search
from evidence.publish import zotero_push as zp
from tests.standins.zotero import ZoteroState, make_key, serve


@pytest.fixture
def synced(db, config):
    sync_config(db, config)
    return db


def _record(db, decision: str = "include", themes: tuple[str, ...] = (), **fields) -> int:
    row = {"title": "A record", "authors": json.dumps(["Nordmann, Kari", "WHO"]),
           "year": 2024, "created_at": now(), **fields}
    record_id = db["records"].insert(row).last_pk
    db["decisions"].insert({"record_id": record_id, "reviewer": "ann", "stage": "screening",
                            "decision": decision, "created_at": now()})
    for slug in themes:
        theme_id = db.execute("SELECT id FROM themes WHERE slug = ?", [slug]).fetchone()[0]
        db["record_themes"].insert({"record_id": record_id, "theme_id": theme_id})
    return record_id


def _push(db, config, url, **kwargs):
    return zp.push(db, config, service_settings({"ZOTERO_API_URL": url}), **kwargs)


def _writes(state):
    return [r for r in state.requests if r[0] != "GET"]


def _tags(item):
    return {t["tag"] for t in item.get("tags", [])}


def test_push_creates_items_with_theme_tags_then_changes_nothing(synced, config):
    db = synced
    article = _record(db, themes=("stigma", "loneliness"), title="Stigma in municipalities",
                      journal="Tidsskrift for psykisk helsearbeid", volume="21", pages="10-19",
                      doi="10.18261/tph.21.1", pmid="38000001", item_type="Journal Article")
    book = _record(db, title="A handbook", item_type="BOOK", isbn="9788200000000")
    _record(db, decision="exclude", title="Excluded")
    with serve(ZoteroState.generated(5)) as (url, state):
        result = _push(db, config, url)
        assert (result.created, result.updated, result.collection_created) == (2, 0, True)
        collection = next(iter(state.collections.values()))
        assert collection["name"] == config.title
        created = {i["title"]: i for i in state.items.values()}
        paper = created["Stigma in municipalities"]
        assert paper["itemType"] == "journalArticle"
        assert _tags(paper) == {"tema: Stigma og diskriminering",
                                "tema: Sosial isolasjon og ensomhet", "evidence: include"}
        assert paper["collections"] == [collection["key"]]
        assert paper["DOI"] == "10.18261/tph.21.1" and "PMID: 38000001" in paper["extra"]
        assert paper["creators"][0] == {"creatorType": "author", "lastName": "Nordmann",
                                        "firstName": "Kari"}
        assert paper["creators"][1] == {"creatorType": "author", "name": "WHO"}
        assert created["A handbook"]["itemType"] == "book"
        assert created["A handbook"]["ISBN"] == "9788200000000"
        assert "Excluded" not in created
        pushed = {r["record_id"]: r["item_key"] for r in db["zotero_pushed"].rows}
        assert set(pushed) == {article, book}
        before, items = len(state.requests), len(state.items)
        again = _push(db, config, url)
        assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
        assert not _writes(state)[2:]  # only the first push's collection + items writes
        assert len(state.items) == items and len(state.requests) > before


def test_record_from_zotero_is_updated_in_place(synced, config, tmp_path):
    db = synced
    with serve(ZoteroState.generated(30)) as (url, state):
        services = service_settings({"ZOTERO_API_URL": url})
        harvest_search(db, config.search("zotero-included"), config, services)
        # one record per hit until dedupe runs; link the hit of item 4 to a record
        record_id = _record(db, themes=("stigma",), title="other title")
        db.execute("UPDATE hits SET record_id = ? WHERE external_id = ?",
                   [record_id, make_key(4)])
        state.items[make_key(4)]["DOI"] = ""  # no DOI: must match by key
        items = len(state.items)
        result = _push(db, config, url, collection="Included 2024")
        item = state.items[make_key(4)]
    assert (result.created, result.updated) == (0, 1)
    assert len(state.items) == items
    assert item["title"] == "Community mental health study 4"  # fields untouched
    assert _tags(item) == {"mental health", "tema: Stigma og diskriminering",
                           "evidence: include"}
    assert item["collections"] == [result.collection_key]


def test_match_by_doi_then_pmid(synced, config):
    db = synced
    _record(db, doi="https://doi.org/10.1000/ZS.7")
    _record(db, pmid="30000009")
    with serve(ZoteroState.generated(12)) as (url, state):
        result = _push(db, config, url)
        assert (result.created, result.updated) == (0, 2)
        assert "evidence: include" in _tags(state.items[make_key(7)])
        assert "evidence: include" in _tags(state.items[make_key(9)])


def test_conflict_rereads_and_keeps_the_researchers_edit(synced, config):
    db = synced
    _record(db, themes=("stigma",), doi="10.1000/zs.3")
    _record(db, title="New one")

    def researcher_edits(state: ZoteroState) -> None:
        item = state.items[make_key(3)]
        state.edit(make_key(3), title="Corrected by the researcher",
                   tags=[*item["tags"], {"tag": "read"}])

    with serve(ZoteroState.generated(10)) as (url, state):
        state.before_write = researcher_edits
        result = _push(db, config, url)
        item = state.items[make_key(3)]
        titles = [i["title"] for i in state.items.values()]
    assert result.conflicts == 1
    assert (result.created, result.updated) == (1, 1)
    assert item["title"] == "Corrected by the researcher"
    assert _tags(item) == {"mental health", "read", "tema: Stigma og diskriminering",
                           "evidence: include"}
    assert titles.count("New one") == 1


def test_per_item_412_is_merged(synced, config):
    """A failed/412 inside a 200 answer (stale object version) is re-read and retried."""
    db = synced
    _record(db, doi="10.1000/zs.2")
    with serve(ZoteroState.generated(5)) as (url, state):
        # edit the item without bumping the library version the write is checked against
        state.before_write = lambda s: s.items[make_key(2)].update(
            version=s.version, extra="PMID: 30000002\nseen")
        result = _push(db, config, url)
        item = state.items[make_key(2)]
    assert result.updated == 1 and result.conflicts == 1
    assert item["extra"].endswith("seen") and "evidence: include" in _tags(item)


def test_writes_in_batches_of_50_and_retries_429(synced, config):
    db = synced
    for i in range(120):
        _record(db, title=f"Record {i}")
    with serve(ZoteroState.generated(0)) as (url, state):
        state.add_collection(config.title)
        state.faults_after = 2
        state.faults = [(429, {"Retry-After": "0.01"})]
        result = _push(db, config, url, sleep=lambda s: None)
        posts = [r for r in state.requests if r[0] == "POST" and r[1].endswith("/items")]
    assert result.created == 120 and not result.collection_created
    assert len(posts) == 4  # 50 + 50 + 20, plus one answered 429 and retried
    assert len(state.items) == 120


def test_dry_run_writes_nothing(synced, config):
    db = synced
    _record(db, title="Would be created")
    _record(db, doi="10.1000/zs.1")
    with serve(ZoteroState.generated(3)) as (url, state):
        result = _push(db, config, url, dry_run=True)
        assert not _writes(state)
    assert result.dry_run and (result.created, result.updated) == (1, 1)
    assert result.actions[0] == f"create collection {config.title!r}"
    assert any("Would be created" in a for a in result.actions)
    assert any(a.startswith(f"update {make_key(1)}") for a in result.actions)


def test_zotero_type_mapping():
    assert zp.zotero_type("bookSection") == "bookSection"
    assert zp.zotero_type("CHAP") == "bookSection"
    assert zp.zotero_type("Book chapter") == "bookSection"
    assert zp.zotero_type("RPRT") == "report"
    assert zp.zotero_type("Systematic Review") == "journalArticle"
    assert zp.zotero_type(None) == "journalArticle"
    book = zp.new_item({"item_type": "book", "title": "T", "doi": "10.1/x", "authors": "[]",
                        "journal": "J"}, ["t"], None)
    assert "publicationTitle" not in book and book["extra"] == "DOI: 10.1/x"


def test_cli_push_dry_run_and_push(tmp_path, config_path, config, monkeypatch):
    from evidence.db.migrations import open_db

    db_path = tmp_path / "push.db"
    db = open_db(db_path)
    sync_config(db, config)
    _record(db, themes=("stigma",), title="Via the CLI")
    db.close()
    args = ["zotero", "push", "--db", str(db_path), "--config", str(config_path),
            "--collection", "Kunnskapsgrunnlag 2024"]
    with serve(ZoteroState.generated(2)) as (url, state):
        monkeypatch.setenv("ZOTERO_API_URL", url)
        dry = CliRunner().invoke(cli, [*args, "--dry-run"])
        assert dry.exit_code == 0, dry.output
        assert "create collection 'Kunnskapsgrunnlag 2024'" in dry.output
        assert "1 would be created" in dry.output and not _writes(state)
        real = CliRunner().invoke(cli, args)
        assert real.exit_code == 0, real.output
        assert "1 were created" in real.output and "(collection created)" in real.output
        bad = CliRunner().invoke(cli, [*args, "--library", "nope"])
    assert bad.exit_code == 1 and "no Zotero library named 'nope'" in bad.output
