"""``evidence backup`` and ``evidence restore`` (issue 26): consistent copies while reviewers
write, nothing half-written under a backup's name, rotation, and restores that refuse what
they should."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from evidence.cli import cli
from evidence.db.backup import BackupError, backup, restore
from evidence.db.migrations import open_db
from tests import test_screening as screening_tests
from tests.test_screening import as_user, post

make_app, fast_hashes = screening_tests.make_app, screening_tests.fast_hashes
ROOT = Path(__file__).resolve().parent.parent


def rows(path: Path, sql: str, params=()) -> list[tuple]:
    """Rows read on a connection that is closed at once (an open one counts as "in use")."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def _decisions(path: Path) -> list[tuple]:
    return rows(path, "SELECT id, record_id, reviewer, decision FROM decisions ORDER BY id")


@pytest.mark.asyncio
async def test_backup_while_two_reviewers_decide_restores_every_earlier_decision(
        make_app, db_path, tmp_path):
    ds = make_app(n=300)
    reviewers = {name: as_user(ds, name) for name in ("bo", "cy")}
    stop = asyncio.Event()

    async def screen(name: str) -> int:
        posted = 0
        for record_id in range(1 if name == "bo" else 151, 301):
            if stop.is_set():
                break
            response = await post(ds, f"/-/screen/record/{record_id}", reviewers[name],
                                  {"decision": "include", "themes": "stigma"})
            assert response.status_code == 302, response.text[:300]
            posted += 1
        return posted

    tasks = [asyncio.create_task(screen(name)) for name in reviewers]
    while len(_decisions(db_path)) < 20:
        await asyncio.sleep(0.01)
    before = _decisions(db_path)  # committed before the backup begins
    result = await asyncio.to_thread(backup, db_path, tmp_path / "copy.db")
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.gather(*tasks)
    after = _decisions(db_path)
    assert len(after) > len(before)  # the reviewers kept writing around the backup
    restored = restore(result.path, tmp_path / "restored.db")
    saved = _decisions(restored.path)
    assert saved[:len(before)] == before
    assert set(saved) <= set(after)  # nothing invented, only whole decisions
    assert result.integrity == "ok" and result.counts["decisions"] == len(saved)
    open_db(restored.path).close()  # a working database again


def test_kill_during_backup_leaves_nothing_under_the_backup_name(db, db_path, tmp_path):
    db["records"].insert_all({"id": i, "title": f"Record {i} " + "x" * 200} for i in range(3000))
    out = tmp_path / "backups" / "nightly.db"
    script = (
        "import sys, time\n"
        "import evidence.db.backup as b\n"
        "real = b._check\n"
        "def slow(path):\n"
        "    print('copied', flush=True)\n"
        "    time.sleep(60)\n"
        "    return real(path)\n"
        "b._check = slow\n"
        f"b.backup({str(db_path)!r}, {str(out)!r})\n")
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                             cwd=ROOT)
    try:
        assert child.stdout.readline().strip() == "copied"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(10)
    assert not out.exists()
    leftovers = list(out.parent.glob(".nightly.db.*.tmp"))
    assert len(leftovers) == 1  # the half-made copy, under a hidden temporary name
    result = backup(db_path, out)
    assert result.path == out and out.exists()
    assert not list(out.parent.glob(".*.tmp"))  # the next backup swept it away
    assert rows(out, "SELECT count(*) FROM records") == [(3000,)]


def test_rotation_keeps_the_newest(db_path, tmp_path):
    open_db(db_path).close()
    folder = tmp_path / "b"
    made = [backup(db_path, f"{folder}/", keep=2).path for _ in range(3)]
    assert sorted(folder.iterdir()) == sorted(made[1:])
    fixed = tmp_path / "nightly.db"
    for _ in range(4):
        backup(db_path, fixed, keep=3)
    assert sorted(p.name for p in tmp_path.glob("nightly.db*")) == [
        "nightly.db", "nightly.db.1", "nightly.db.2"]


def test_restore_refuses_to_replace_without_force_and_keeps_the_replaced(db, db_path,
                                                                         tmp_path):
    db["searches"].insert({"name": "old", "source": "file"})
    copy = backup(db_path, tmp_path / "copy.db").path
    db["searches"].insert({"name": "newer", "source": "file"})
    db.close()
    os.chmod(db_path, 0o640)
    runner = CliRunner()
    refused = runner.invoke(cli, ["restore", str(copy), "--db", str(db_path)])
    assert refused.exit_code == 1 and "--force" in refused.output
    assert rows(db_path, "SELECT name FROM searches ORDER BY id") == [("old",), ("newer",)]
    done = runner.invoke(cli, ["restore", str(copy), "--db", str(db_path), "--force"])
    assert done.exit_code == 0, done.output
    assert rows(db_path, "SELECT name FROM searches") == [("old",)]
    assert db_path.stat().st_mode & 0o777 == 0o640  # the app's user can still open it
    kept = list(tmp_path.glob("evidence.db.replaced-*"))
    assert len(kept) == 1
    assert rows(kept[0], "SELECT name FROM searches ORDER BY id") == [("old",), ("newer",)]


def test_restore_refuses_a_database_in_use(db, db_path, tmp_path):
    copy = backup(db_path, tmp_path / "copy.db").path
    with pytest.raises(BackupError, match="in use"):
        restore(copy, db_path, force=True)  # `db` is still open, as a running app's would be
    assert not list(tmp_path.glob("evidence.db.replaced-*"))


def test_restore_refuses_foreign_newer_and_damaged_files(db_path, tmp_path):
    foreign = tmp_path / "other.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(BackupError, match="another program"):
        restore(foreign, db_path)
    open_db(tmp_path / "w.db").close()
    newer = backup(tmp_path / "w.db", tmp_path / "n.db").path
    conn = sqlite3.connect(newer)
    conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
                 " VALUES ('evidence', 'm999_later', 'x')")
    conn.commit()
    conn.close()
    with pytest.raises(BackupError, match="newer version"):
        restore(newer, db_path)
    damaged = tmp_path / "damaged.db"
    data = bytearray(newer.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)
    damaged.write_bytes(bytes(data))
    with pytest.raises(BackupError):
        restore(damaged, db_path)
    assert not db_path.exists()


def test_backup_cli_prints_counts(db_path, tmp_path):
    open_db(db_path).close()
    result = CliRunner().invoke(cli, ["backup", "--db", str(db_path), "--out",
                                      str(tmp_path / "b.db")])
    assert result.exit_code == 0, result.output
    assert "integrity ok" in result.output and "records 0" in result.output
    missing = CliRunner().invoke(cli, ["backup", "--db", str(tmp_path / "none.db")])
    assert missing.exit_code == 1 and "no working database" in missing.output
