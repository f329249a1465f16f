"""Third hardening round (issue 25): which files ``--db`` may open, and pair decisions that
change more pairs than the one posted."""

from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner

from evidence.cli import cli
from evidence.db.identity import identify
from evidence.db.migrations import open_db
from tests import test_screening as screening_tests
from tests.test_screening import as_user, post, rows

make_app, fast_hashes = screening_tests.make_app, screening_tests.fast_hashes


def _foreign(path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    conn.execute("INSERT INTO notes (text) VALUES ('mine')")
    conn.commit()
    conn.close()


def _tables(path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    finally:
        conn.close()


@pytest.mark.parametrize("command", [["status"], ["users", "list"], ["dedupe"]])
def test_db_pointed_at_another_programs_file_is_refused_untouched(tmp_path, command):
    path = tmp_path / "other.db"
    _foreign(path)
    before = path.read_bytes()
    result = CliRunner().invoke(cli, [*command, "--db", str(path)])
    assert result.exit_code == 1, result.output
    assert "is an SQLite database of another program (tables: notes)" in result.output
    assert "Traceback" not in result.output
    assert path.read_bytes() == before
    assert _tables(path) == ["notes"]


def test_db_pointed_at_the_published_database_is_refused_untouched(tmp_path, db_path,
                                                                   config_path):
    from evidence.config import load_config
    from evidence.publish.build import publish
    from tests.screening_data import seed

    seed(db_path, config_path, 3)
    out = tmp_path / "published.db"
    publish(open_db(db_path), out, load_config(config_path))
    before = out.read_bytes()
    result = CliRunner().invoke(cli, ["status", "--db", str(out), "--config",
                                      str(config_path)])
    assert result.exit_code == 1
    assert "is a published database (made by `evidence publish`)" in result.output
    assert "Traceback" not in result.output and out.read_bytes() == before
    assert "_sqlite_migrations" not in _tables(out)
    with pytest.raises(Exception, match="published database"):
        open_db(out)


def test_a_database_from_a_newer_version_is_refused(db_path):
    open_db(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
                 " VALUES ('evidence', 'm999_from_the_future', 'later')")
    conn.commit()
    conn.close()
    assert identify(db_path).unknown == ["m999_from_the_future"]
    result = CliRunner().invoke(cli, ["status", "--db", str(db_path)])
    assert result.exit_code == 1
    assert "written by a newer version" in result.output


def test_a_text_file_is_not_a_database(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("not a database at all\n" * 50, encoding="utf-8")
    result = CliRunner().invoke(cli, ["status", "--db", str(path)])
    assert result.exit_code == 1 and "is not an SQLite database" in result.output


def test_new_and_empty_files_still_become_working_databases(tmp_path):
    empty = tmp_path / "empty.db"
    empty.touch()
    sqlite3.connect(tmp_path / "blank.db").close()  # SQLite without tables
    for path in (empty, tmp_path / "blank.db", tmp_path / "missing.db"):
        open_db(path).close()
        assert identify(path).kind == "evidence" and not identify(path).pending


# --- a pair decision is checked against every pair it changes ------------------------------

@pytest.mark.asyncio
async def test_a_reviewer_cannot_merge_a_split_through_a_second_pair(make_app, db_path):
    ds = make_app(n=22)
    db = open_db(db_path)
    hit_20 = db.execute("SELECT min(id) FROM hits WHERE record_id = 20").fetchone()[0]
    hit_21 = db.execute("SELECT min(id) FROM hits WHERE record_id = 21").fetchone()[0]
    first = db["duplicate_pairs"].insert({"hit_a": hit_20, "hit_b": hit_21, "score": 0.8,
                                          "status": "uncertain", "created_at": "t"}).last_pk
    db.close()
    lead, bo = as_user(ds, "ana", "lead"), as_user(ds, "bo")
    assert (await post(ds, f"/-/screen/duplicates/{first}", lead,
                       {"action": "split"})).status_code == 302
    # a later import brings a second hit of record 21, scored against record 20 again
    db = open_db(db_path)
    row = next(db.query("SELECT * FROM hits WHERE id = ?", [hit_21]))
    row.update(id=None, external_id="later-import-21")
    second_hit = db["hits"].insert(row).last_pk
    second = db["duplicate_pairs"].insert({"hit_a": hit_20, "hit_b": second_hit, "score": 0.8,
                                           "status": "uncertain", "created_at": "t"}).last_pk
    db.close()
    page = await ds.client.get("/-/screen/duplicates", cookies=bo)
    assert f"/-/screen/duplicates/{second}" not in page.text  # hidden: the records are decided
    refused = await post(ds, f"/-/screen/duplicates/{second}", bo, {"action": "merge"})
    assert refused.status_code == 403
    assert rows(db_path, "SELECT count(*) FROM records WHERE id IN (20, 21)") == [(2,)]
    assert rows(db_path, "SELECT status FROM duplicate_pairs ORDER BY id") == [
        ("split",), ("uncertain",)]
    # the lead may still change it
    assert (await post(ds, f"/-/screen/duplicates/{second}", lead,
                       {"action": "merge"})).status_code == 302
    assert rows(db_path, "SELECT count(*) FROM records WHERE id IN (20, 21)") == [(1,)]


def test_processes_opening_a_new_database_at_once_migrate_it_once(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    path = tmp_path / "fresh.db"
    script = f"from evidence.db.migrations import open_db; open_db({str(path)!r}).close()"
    children = [subprocess.Popen([sys.executable, "-c", script], cwd=root,
                                 stderr=subprocess.PIPE, text=True) for _ in range(4)]
    errors = [(child.wait(60), child.stderr.read()) for child in children]
    assert all(code == 0 for code, _ in errors), errors
    assert identify(path).kind == "evidence" and not identify(path).pending
