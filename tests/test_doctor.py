"""``evidence doctor`` (issue 26): configuration, database and environment, what is missing
in one list, exit 1 when something must be fixed."""

from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner

from evidence.cli import cli
from evidence.db.migrations import migrations, open_db
from evidence.doctor import examine
from evidence.harvest import SOURCES
from evidence.screening.auth import add_user

GOOD_ENV = {"NCBI_API_KEY": "k", "NCBI_EMAIL": "a@b.no", "ZOTERO_API_KEY": "z",
            "EVIDENCE_SECRET": "s" * 64}


@pytest.fixture
def project(db_path, config_path, monkeypatch):
    monkeypatch.setattr("evidence.screening.auth.ITERATIONS", 1_000)
    db = open_db(db_path)
    add_user(db, "ana", "long enough", "lead")
    db.close()
    return db_path, config_path


def run(db_path, config_path, env: dict) -> object:
    return CliRunner().invoke(cli, ["doctor", "--db", str(db_path), "--config",
                                    str(config_path)], env=env)


def test_a_ready_project_has_nothing_to_fix(project, monkeypatch):
    for name in ("NCBI_EUTILS_URL", "ZOTERO_API_URL"):
        monkeypatch.delenv(name, raising=False)
    result = run(*project, GOOD_ENV)
    assert result.exit_code == 0, result.output
    assert "integrity_check ok" in result.output and "Nothing to fix." in result.output


def test_what_is_missing_comes_in_one_list(project):
    env = {**GOOD_ENV, "ZOTERO_API_KEY": "", "NCBI_EUTILS_URL": "eutils.local/x",
           "EVIDENCE_SECRET": "short"}
    result = run(*project, env)
    assert result.exit_code == 1
    listed = result.output.split("3 to fix:\n", 1)[1].splitlines()
    assert len(listed) == 3
    assert any("ZOTERO_API_KEY is not set; Zotero needs it for zotero-included" in line
               for line in listed)
    assert any("NCBI_EUTILS_URL='eutils.local/x' is not an http(s) address" in line
               for line in listed)
    assert any("EVIDENCE_SECRET is 5 characters" in line for line in listed)


def test_optional_keys_are_advice_not_failures(project):
    env = {**GOOD_ENV, "NCBI_API_KEY": "", "NCBI_EMAIL": "", "EVIDENCE_SECRET": ""}
    result = run(*project, env)
    assert result.exit_code == 0
    assert "note  NCBI_API_KEY is not set" in result.output
    assert "note  EVIDENCE_SECRET is not set" in result.output


def test_a_source_declares_what_it_needs(tmp_path, db_path, monkeypatch):
    monkeypatch.setitem(SOURCES, "example", "tests.example_source")
    config = tmp_path / "evidence.yml"
    config.write_text("project: {title: T}\nsearches:\n"
                      "  - {name: feed, source: example, path: feed.jsonl}\n")
    open_db(db_path).close()
    report = examine(db_path, config, environ={"EXAMPLE_FEED_URL": "ftp://x"})
    assert any(p.startswith("EXAMPLE_FEED_TOKEN is not set; Example feed needs it for feed")
               for p in report.problems)
    assert any(p.startswith("EXAMPLE_FEED_URL='ftp://x' is not an http(s) address")
               for p in report.problems)


def test_configuration_and_database_problems(project, tmp_path):
    db_path, config_path = project
    config_path.write_text(config_path.read_text(encoding="utf-8") + "\nbogus: 1\n",
                           encoding="utf-8")
    report = examine(db_path, config_path, environ=GOOD_ENV)
    assert any("bogus: unknown key" in p for p in report.problems)
    missing = examine(tmp_path / "none.db", config_path, environ=GOOD_ENV)
    assert any("no working database" in p for p in missing.problems)
    foreign = tmp_path / "other.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    assert any("another program" in p for p in examine(foreign, config_path).problems)


def test_pending_migrations_are_reported_and_not_run(project):
    db_path, config_path = project
    conn = sqlite3.connect(db_path)
    last = migrations._migrations[-1].name
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = ?", [last])
    conn.commit()
    conn.close()
    report = examine(db_path, config_path, environ=GOOD_ENV)
    assert any("1 migrations run at the next start" in a for a in report.advice)
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT count(*) FROM _sqlite_migrations WHERE name = ?",
                        [last]).fetchone() == (0,)
    conn.close()


def test_a_damaged_database_fails_the_integrity_check(project):
    db_path, config_path = project
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("CREATE TABLE filler (x)")
    conn.executemany("INSERT INTO filler VALUES (?)", [("x" * 500,) for _ in range(2000)])
    conn.execute("CREATE INDEX filler_x ON filler (x)")
    conn.commit()
    page = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'filler_x'").fetchone()
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with open(db_path, "r+b") as handle:  # scribble over the index's root page
        handle.seek((page[0] - 1) * size + 8)
        handle.write(b"\x00\x07" * 200)
    report = examine(db_path, config_path, environ=GOOD_ENV)
    assert any("failed integrity_check" in p for p in report.problems), report


def test_a_source_that_declares_nothing_is_named(tmp_path, db_path, monkeypatch):
    import dataclasses

    import tests.example_source as example

    monkeypatch.setitem(SOURCES, "example", "tests.example_source")
    monkeypatch.setattr(example, "SOURCE", dataclasses.replace(example.SOURCE, environment=()))
    config = tmp_path / "evidence.yml"
    config.write_text("project: {title: T}\nsearches:\n"
                      "  - {name: feed, source: example, path: feed.jsonl}\n")
    open_db(db_path).close()
    report = examine(db_path, config, environ={})
    assert any("Example feed declares no environment variables" in a for a in report.advice)


def add_run(db_path, search: str) -> None:
    db = open_db(db_path)
    search_id = db.execute("SELECT id FROM searches WHERE name = ?", [search]).fetchone()[0]
    db["runs"].insert({"search_id": search_id, "source": "file", "status": "complete",
                       "started_at": "2024-10-21T08:00:00+00:00"})
    db.close()


def test_a_search_never_run_in_a_running_project_needs_nothing_yet(project):
    """A new project is about to run every search (a needed key is a problem, above); once it
    has run some, a search it never ran (a Zotero library configured, the work fed from
    files) only gets a note, until it runs."""
    from evidence.config import load_config
    from evidence.db.config_sync import sync_config

    db_path, config_path = project
    db = open_db(db_path)
    sync_config(db, load_config(config_path))
    db.close()
    add_run(db_path, "pubmed-mental-health")
    env = {**GOOD_ENV, "ZOTERO_API_KEY": ""}
    result = run(db_path, config_path, env)
    assert result.exit_code == 0, result.output
    assert ("note  ZOTERO_API_KEY is not set; Zotero needs it for zotero-included (never run"
            " in this project") in result.output
    add_run(db_path, "zotero-included")
    again = run(db_path, config_path, env)
    assert again.exit_code == 1
    assert "ZOTERO_API_KEY is not set; Zotero needs it for zotero-included: a key" in again.output
