"""Schema: contract tables exist, WAL is on, and an older database is upgraded on open."""

import sqlite3

import pytest
import sqlite_utils

from evidence.db.migrations import migrations, open_db, schema_version

CONTRACT = {
    "searches": {"id", "name", "source", "query"},
    "runs": {"id", "search_id", "started_at", "finished_at", "status", "hit_count"},
    "hits": {"id", "run_id", "source", "external_id", "record_id"},
    "records": {"id", "title", "abstract", "authors", "year", "journal", "doi", "pmid"},
    "decisions": {"id", "record_id", "reviewer", "stage", "decision", "reason", "note",
                  "created_at"},
    "themes": {"id", "name"},
    "record_themes": {"record_id", "theme_id"},
}


def test_contract_tables_and_columns(db):
    for table, columns in CONTRACT.items():
        assert columns <= set(db[table].columns_dict), table


def test_wal_foreign_keys_and_version(db):
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert schema_version(db) == [m.name for m in migrations._migrations]


def test_previous_version_is_migrated_on_open(db_path):
    latest = migrations._migrations[-1].name
    old = sqlite_utils.Database(db_path)
    migrations.apply(old, stop_before=latest)
    assert latest not in schema_version(old)
    old["searches"].insert({"name": "kept", "source": "file"})
    old.close()
    db = open_db(db_path)
    assert schema_version(db)[-1] == latest
    assert [r["name"] for r in db["searches"].rows] == ["kept"]


def test_opening_twice_applies_nothing_twice(db_path):
    open_db(db_path).close()
    db = open_db(db_path)
    names = schema_version(db)
    assert len(names) == len(set(names))


def test_foreign_keys_are_enforced(db):
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        db["hits"].insert({"run_id": 999, "search_id": 999, "source": "file",
                           "external_id": "x"})


def test_record_status_needs_agreeing_reviewers(db):
    db["records"].insert({"id": 1, "title": "t"})
    db["sync_state"].insert({"key": "reviewers_per_record", "value": "2"})
    rows = [("ana", "include"), ("bo", "exclude")]
    for reviewer, decision in rows:
        db["decisions"].insert({"record_id": 1, "reviewer": reviewer, "stage": "screening",
                                "decision": decision, "created_at": "2024-01-01"})
    status = next(db.query("SELECT * FROM record_status"))
    assert status["decision"] is None and status["conflict"] == 1
    db["decisions"].insert({"record_id": 1, "reviewer": "lead", "stage": "resolution",
                            "decision": "include", "created_at": "2024-01-02"})
    status = next(db.query("SELECT * FROM record_status"))
    assert status["decision"] == "include" and status["conflict"] == 0


def test_undo_row_restores_previous_value(db):
    db["records"].insert({"id": 1, "title": "t"})
    first = db["decisions"].insert({"record_id": 1, "reviewer": "ana", "stage": "screening",
                                    "decision": "exclude", "created_at": "1"}).last_pk
    db["decisions"].insert({"record_id": 1, "reviewer": "ana", "stage": "screening",
                            "decision": None, "undoes": first, "created_at": "2"})
    assert next(db.query("SELECT decision FROM record_status"))["decision"] is None
