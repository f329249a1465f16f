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


def test_hits_rebuilt_with_long_texts_last_keeping_rows_and_references(db_path):
    """m540 drops and renames ``hits``, which dedupe_keys and duplicate_pairs reference."""
    old = sqlite_utils.Database(db_path)
    migrations.apply(old, stop_before="m540_hits_long_texts_last")
    old.execute("PRAGMA foreign_keys = ON")
    search = old["searches"].insert({"name": "s", "source": "file"}).last_pk
    run = old["runs"].insert({"search_id": search, "status": "complete"}).last_pk
    for hit in (1, 2):
        old["hits"].insert({"id": hit, "run_id": run, "search_id": search, "source": "file",
                            "external_id": f"e{hit}", "title": f"Title {hit}",
                            "abstract": "long " * 2000, "raw": '{"a": 1}',
                            "oa_url": "https://example.org/oa"})
        old["dedupe_keys"].insert({"hit_id": hit, "title": f"title {hit}"})
    old["duplicate_pairs"].insert({"hit_a": 1, "hit_b": 2, "score": 0.8, "status": "uncertain"})
    old.close()
    db = open_db(db_path)
    columns = [c.name for c in db["hits"].columns]
    assert columns[-2:] == ["abstract", "raw"]
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    rows = list(db.query("SELECT id, title, abstract, raw, oa_url, deleted FROM hits ORDER BY id"))
    assert [r["title"] for r in rows] == ["Title 1", "Title 2"]
    assert rows[0]["abstract"] == "long " * 2000 and rows[0]["oa_url"].endswith("/oa")
    assert rows[0]["deleted"] == 0
    assert db.execute("SELECT count(*) FROM dedupe_keys").fetchone()[0] == 2
    indexes = {i.name for i in db["hits"].indexes}
    assert {"idx_hits_search_id_external_id", "idx_hits_record_id", "idx_hits_run_id"} <= indexes
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):  # still enforced
        db["dedupe_keys"].insert({"hit_id": 99, "title": "x"})


def test_a_migration_that_breaks_a_reference_changes_nothing(db_path, monkeypatch):
    old = sqlite_utils.Database(db_path)
    migrations.apply(old, stop_before="m540_hits_long_texts_last")
    old.close()

    def breaks(db):
        db["dedupe_keys"].insert({"hit_id": 12345, "title": "orphan"})

    m540 = next(m for m in migrations._migrations if m.name == "m540_hits_long_texts_last")
    monkeypatch.setattr(m540, "fn", breaks)
    with pytest.raises(sqlite3.IntegrityError, match="broken reference"):
        open_db(db_path)
    check = sqlite_utils.Database(db_path)
    assert "m540_hits_long_texts_last" not in schema_version(check)
    assert check.execute("SELECT count(*) FROM dedupe_keys").fetchone()[0] == 0


def test_a_reference_broken_before_the_migration_does_not_stop_it(db_path):
    old = sqlite_utils.Database(db_path)
    migrations.apply(old, stop_before="m540_hits_long_texts_last")
    old.execute("PRAGMA foreign_keys = OFF")  # another tool wrote this, without the checks
    old["dedupe_keys"].insert({"hit_id": 777, "title": "orphan"})
    old.close()
    db = open_db(db_path)
    assert "m540_hits_long_texts_last" in schema_version(db)
    assert db.execute("SELECT count(*) FROM dedupe_keys").fetchone()[0] == 1



def test_opening_waits_for_a_process_writing_the_new_file_in_the_old_journal_mode(db_path):
    """SQLite refuses the switch to WAL at once while another connection writes (it does not
    wait its busy timeout): two processes creating one database hit that."""
    import threading

    other = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # a writer on the still empty file, rollback journal
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        sqlite3.connect(db_path, timeout=10).execute("PRAGMA journal_mode = wal")
    threading.Timer(0.3, lambda: other.execute("COMMIT")).start()
    db = open_db(db_path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert schema_version(db) == [m.name for m in migrations._migrations]
    other.close()
