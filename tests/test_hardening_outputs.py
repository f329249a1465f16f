"""``--out`` never destroys the project, and publish leaves readable files, no litter (issue 13)."""

from __future__ import annotations

import os
import sqlite3
import stat

import pytest
from click.testing import CliRunner

from evidence.cli import cli
from evidence.publish.build import publish
from tests.publishing_data import seed_working_db


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def project(tmp_path, monkeypatch, db, config):
    """A working database with decisions and a user, and its configuration, in the cwd."""
    seed_working_db(db, config)
    db.execute("INSERT INTO users (username, password_hash, role, created_at)"
               " VALUES ('ana', 'x', 'lead', 'now')")
    db.conn.commit()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _intact(project) -> None:
    conn = sqlite3.connect(project / "evidence.db")
    assert conn.execute("SELECT count(*) FROM users WHERE username = 'ana'").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM decisions").fetchone()[0] > 0
    assert (project / "evidence.yml").read_text(encoding="utf-8").startswith("#")


@pytest.mark.parametrize("args", [
    ["publish", "--out", "evidence.db"],
    ["publish", "--out", "./evidence.db-wal"],
    ["publish", "--out", "evidence.yml"],
    ["export", "--format", "ris", "--out", "evidence.db"],
    ["export", "--format", "xlsx", "--out", "evidence.db"],
    ["export", "--format", "csv", "--out", "evidence.yml"],
])
def test_out_never_writes_over_the_working_database_or_configuration(project, args):
    result = run(*args)
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"Error: --out {os.path.normpath(args[-1])}: "), result.output
    _intact(project)


def test_out_through_a_link_to_the_database_is_refused(project):
    os.symlink(project / "evidence.db", project / "link.db")
    result = run("publish", "--out", "link.db")
    assert result.exit_code == 1 and "project's own evidence.db" in result.output
    _intact(project)


def test_publish_replaces_only_a_published_database(project):
    assert run("publish", "--out", "site.db").exit_code == 0
    assert run("publish", "--out", "site.db").exit_code == 0  # an earlier publish: fine
    other = sqlite3.connect(project / "other.db")
    other.execute("CREATE TABLE t (x)")
    other.commit()
    result = run("publish", "--out", "other.db")
    assert result.exit_code == 1
    assert "exists and is not a published database" in result.output
    (project / "notes.txt").write_text("mine", encoding="utf-8")
    assert run("publish", "--out", "notes.txt").exit_code == 1
    assert (project / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_export_refuses_sqlite_and_other_kinds_but_replaces_its_own(project):
    assert run("export", "--format", "ris", "--out", "a.ris").exit_code == 0
    assert run("export", "--format", "ris", "--out", "a.ris").exit_code == 0
    assert run("publish", "--out", "site.db").exit_code == 0
    result = run("export", "--format", "csv", "--out", "site.db")
    assert result.exit_code == 1 and "is a SQLite database" in result.output
    assert run("export", "--format", "xlsx", "--out", "t.xlsx").exit_code == 0
    result = run("export", "--format", "csv", "--out", "t.xlsx")
    assert result.exit_code == 1 and "is not a csv file" in result.output
    result = run("export", "--format", "xlsx", "--out", "a.ris")
    assert result.exit_code == 1 and "is not a xlsx file" in result.output


@pytest.mark.parametrize("command", [["publish"], ["export", "--format", "csv"]])
def test_unwritable_out_is_a_clear_error(project, command):
    for out in ("missing/x.db", "/proc/evidence-test.db"):
        result = run(*command, "--out", out)
        assert result.exit_code == 1, result.output
        assert result.output.startswith(f"Error: --out {out}"), result.output
        assert "Traceback" not in result.output


def test_published_file_is_world_readable_and_killed_runs_are_cleaned(db, config, tmp_path):
    seed_working_db(db, config)
    out = tmp_path / "published.db"
    stale = tmp_path / ".published.db.abc123.tmp"  # what a publish killed by SIGKILL leaves
    stale.write_bytes(b"\0" * 1024)
    publish(db, out, config)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert not stale.exists()
    assert not list(tmp_path.glob(".published.db.*.tmp"))
