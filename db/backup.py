"""Backups of the working database that restore: ``evidence backup`` and ``evidence restore``.

A backup is taken with SQLite's online backup API in one step, which reads one consistent
snapshot: in WAL mode the screening app keeps writing meanwhile, and every decision committed
before the backup began is in it. The copy is written under a hidden temporary name beside
its destination, checked (``PRAGMA integrity_check``, the schema version, row counts) and only
then renamed, so a backup killed half-way (``kill -9``, a full disk) never leaves a half file
under a backup's name; the next backup into the same folder removes the leftovers.

A restore refuses a file that is not an evidence database, is damaged or comes from a newer
version; it replaces an existing database only with ``force``, only when no program has the
database open, and keeps the replaced file beside it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import glob
import os
import re
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from evidence.db.identity import Identity, identify, identify_connection, refusal
from evidence.errors import EvidenceError

#: Timestamped names of automatic backups: ``evidence-20261206T210455Z.db``.
STAMP = "%Y%m%dT%H%M%SZ"
_STAMP_RE = r"\d{8}T\d{6}Z(-\d+)?"


class BackupError(EvidenceError):
    """A backup or restore that could not be made, with the reason and what to do."""


@dataclass
class BackupResult:
    path: Path
    counts: dict[str, int]
    integrity: str
    migrations: int
    size: int
    removed: list[Path] = field(default_factory=list)


@dataclass
class RestoreResult:
    path: Path
    counts: dict[str, int]
    replaced: Path | None
    pending: list[str]


def default_folder(db_path: str | Path) -> Path:
    """Where backups go without ``--out``: ``backups/`` beside the database."""
    return Path(db_path).resolve().parent / "backups"


def backup_name(db_path: str | Path, when: dt.datetime | None = None) -> str:
    when = when or dt.datetime.now(dt.UTC)
    return f"{Path(db_path).stem}-{when.strftime(STAMP)}.db"


def backup(db_path: str | Path, out: str | Path | None = None, *,
           keep: int | None = None, pace: float = 0.0) -> BackupResult:
    """Copy the working database ``db_path`` to ``out`` while others may be writing to it.

    ``out`` is a file name, or a folder (existing, or written with a trailing ``/``) that
    receives a timestamped copy; the default is ``backups/`` beside the database. ``keep``
    keeps that many backups: the oldest timestamped copies of this database in the folder are
    removed, or, for a fixed file name, the previous copies are shifted to ``FILE.1``,
    ``FILE.2`` ... and the oldest dropped. ``pace``: seconds of rest per second of copying,
    to leave the disk to a running app (``evidence backup`` uses 1).

    Example::

        result = backup("evidence.db", keep=14)
        print(result.path, result.counts["decisions"])
    """
    db_path = Path(db_path)
    if keep is not None and keep < 1:
        raise BackupError("--keep must be at least 1 (the backup just made)")
    source_identity = _working_source(db_path)
    target, rotating_folder = _target(db_path, out)
    if target.resolve() == db_path.resolve():
        raise BackupError(f"--out {target} is the database itself: choose another file")
    target.parent.mkdir(parents=True, exist_ok=True)
    with _folder_lock(target.parent):
        _remove_stale_temp_files(target.parent, db_path if rotating_folder else None, target)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                        dir=target.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            _copy(db_path, tmp, pace)
            counts, integrity, identity = _check(tmp)
            if integrity != "ok":
                raise BackupError(f"the copy of {db_path} failed its integrity check "
                                  f"({integrity}); the database itself may be damaged: run "
                                  "`evidence doctor`")
            if identity.applied != source_identity.applied:
                raise BackupError("the database was upgraded while the backup ran; run it again")
            size = tmp.stat().st_size
            removed = _rotate_numbered(target, keep) if keep and not rotating_folder else []
            os.replace(tmp, target)
            _sync_folder(target.parent)
        finally:
            tmp.unlink(missing_ok=True)
        if keep and rotating_folder:
            removed = _rotate_stamped(target.parent, db_path, keep)
    return BackupResult(target, counts, integrity, len(identity.applied), size, removed)


def _working_source(db_path: Path) -> Identity:
    if not db_path.exists():
        raise BackupError(f"no working database at {db_path}: nothing to back up")
    identity = identify(db_path)
    reason = refusal(db_path, identity) if identity.kind != "new" else (
        f"{db_path} is empty: nothing to back up")
    if reason:
        raise BackupError(reason)
    return identity


def _target(db_path: Path, out: str | Path | None) -> tuple[Path, bool]:
    """The file to write, and whether it is a timestamped name in a folder of backups."""
    if out is None:
        return _free(default_folder(db_path) / backup_name(db_path)), True
    text = str(out)
    out = Path(out)
    if out.is_dir() or text.endswith(("/", os.sep)):
        return _free(out / backup_name(db_path)), True
    return out, False


def _free(path: Path) -> Path:
    """``path``, or ``NAME-2.db`` ... when a backup in the same second took it."""
    n = 1
    candidate = path
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


#: Pages per backup step (8 MB at 4 kB pages), and an fsync of the copy every so many steps,
#: so the disk gets steady small writes instead of one flush of the whole file at the end.
STEP_PAGES = 2048
SYNC_EVERY = 8


def _copy(db_path: Path, tmp: Path, pace: float = 0.0) -> None:
    """Copy ``db_path`` to ``tmp`` as one consistent snapshot, in steps.

    The source connection holds one read transaction for the whole copy: in WAL mode the app
    keeps committing meanwhile, and the steps keep reading the snapshot taken at the start
    (without it, SQLite restarts a stepwise backup whenever another connection writes, and a
    busy app would keep it from ever finishing). After each step the copy rests ``pace``
    times as long as the step took, leaving the disk and CPU to the app.
    """
    source = sqlite3.connect(db_path, timeout=10, isolation_level=None)  # reads only
    target = sqlite3.connect(tmp)
    sync_fd = os.open(tmp, os.O_RDONLY)
    steps = 0
    last = time.perf_counter()

    def rest(_status: int, _remaining: int, _total: int) -> None:
        nonlocal steps, last
        steps += 1
        if steps % SYNC_EVERY == 0:
            os.fsync(sync_fd)
        if pace:
            time.sleep(min((time.perf_counter() - last) * pace, 1.0))
        last = time.perf_counter()

    try:
        source.execute("PRAGMA busy_timeout = 10000")
        source.execute("BEGIN")
        source.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot
        source.backup(target, pages=STEP_PAGES, progress=rest)
        source.execute("COMMIT")
        target.execute("PRAGMA journal_mode = DELETE")  # a single file, no -wal beside it
        target.commit()
    except sqlite3.Error as e:
        raise BackupError(f"could not copy {db_path}: {e}") from e
    finally:
        os.close(sync_fd)
        target.close()
        source.close()
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())


def _check(path: Path) -> tuple[dict[str, int], str, Identity]:
    """Row counts per table, ``integrity_check``'s answer, and what the file is."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        identity = identify_connection(conn)
        if identity.kind != "evidence":
            return {}, f"not an evidence database ({identity.kind})", identity
        problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        counts = {table: conn.execute(f"SELECT count(*) FROM [{table}]").fetchone()[0]
                  for table in _counted_tables(conn)}
        return counts, "; ".join(problems[:5]), identity
    except sqlite3.DatabaseError as e:
        return {}, str(e), identity
    finally:
        conn.close()


def _counted_tables(conn: sqlite3.Connection) -> list[str]:
    """The tables worth counting: ours, not SQLite's, FTS shadow tables or bookkeeping."""
    names = [name for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        " AND name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY name")]
    shadows = ("_data", "_idx", "_docsize", "_config", "_content")
    return [n for n in names if not n.endswith(shadows)]


def _rotate_numbered(target: Path, keep: int) -> list[Path]:
    """Make room for a new ``FILE``: ``FILE`` -> ``FILE.1`` -> ``FILE.2`` ..., so that with
    the new copy ``keep`` remain; older numbered copies are removed."""
    removed = []
    for stale in sorted(target.parent.glob(f"{glob.escape(target.name)}.*")):
        suffix = stale.name[len(target.name) + 1:]
        if suffix.isdigit() and int(suffix) >= keep - 1:
            stale.unlink()
            removed.append(stale)
    for n in range(keep - 2, 0, -1):
        older = target.with_name(f"{target.name}.{n}")
        if older.exists():
            os.replace(older, target.with_name(f"{target.name}.{n + 1}"))
    if target.exists() and keep > 1:
        os.replace(target, target.with_name(f"{target.name}.1"))
    return removed


def _rotate_stamped(folder: Path, db_path: Path, keep: int) -> list[Path]:
    """Remove the oldest timestamped backups of this database beyond ``keep``."""
    pattern = re.compile(rf"{re.escape(db_path.stem)}-(\d{{8}}T\d{{6}}Z)(?:-(\d+))?\.db")
    found = [(m, p) for p in folder.iterdir() if (m := pattern.fullmatch(p.name))]
    copies = [p for m, p in sorted(found, key=lambda f: (f[0][1], int(f[0][2] or 1)))]
    removed = copies[:-keep] if len(copies) > keep else []
    for path in removed:
        path.unlink()
    return removed


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """One backup per folder at a time, so the sweep of leftovers never hits a live copy."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise BackupError(f"another backup is writing into {folder}; wait for it") from e
        yield
    finally:
        os.close(fd)


def _remove_stale_temp_files(folder: Path, db_path: Path | None, target: Path) -> None:
    """Temporary files of a killed backup of the same name (timestamped: of this database)."""
    if db_path is not None:
        pattern = re.compile(rf"\.{re.escape(db_path.stem)}-{_STAMP_RE}\.db\.\w+\.tmp")
    else:
        pattern = re.compile(rf"\.{re.escape(target.name)}\.\w+\.tmp")
    for stale in folder.glob(".*.tmp"):
        if pattern.fullmatch(stale.name):
            stale.unlink(missing_ok=True)


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- restore --------------------------------------------------------------------------------

def restore(backup_path: str | Path, db_path: str | Path, *, force: bool = False,
            when: dt.datetime | None = None) -> RestoreResult:
    """Put the backup ``backup_path`` in place as the working database ``db_path``.

    Refuses a file that is not an evidence database, fails its integrity check or comes
    from a newer version. An existing database is replaced only with ``force``, only when
    no other program has it open, and is kept beside it as ``evidence.db.replaced-<time>``.
    An older backup is upgraded when the database is next opened (migrations run on open).
    """
    backup_path, db_path = Path(backup_path), Path(db_path)
    if not backup_path.is_file():
        raise BackupError(f"{backup_path} does not exist")
    if db_path.exists() and backup_path.resolve() == db_path.resolve():
        raise BackupError(f"{backup_path} is the working database itself")
    identity = identify(backup_path)
    reason = refusal(backup_path, identity, hint=False) if identity.kind != "new" else (
        f"{backup_path} is empty, not an evidence database")
    if reason:
        raise BackupError(f"not restored: {reason}")
    if db_path.exists() and not force:
        raise BackupError(f"{db_path} exists: `evidence restore {backup_path} --force` replaces"
                          " it (the current file is kept beside it)")
    db_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{db_path.name}.", suffix=".tmp",
                                    dir=db_path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        _copy(backup_path, tmp)
        counts, integrity, _ = _check(tmp)
        if integrity != "ok":
            raise BackupError(f"not restored: {backup_path} failed its integrity check "
                              f"({integrity})")
        if db_path.exists():  # the app's user must still be able to open it
            os.chmod(tmp, db_path.stat().st_mode & 0o777)
        replaced = _set_aside(db_path, when) if db_path.exists() else None
        os.replace(tmp, db_path)
        _sync_folder(db_path.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return RestoreResult(db_path, counts, replaced, identity.pending)


def _set_aside(db_path: Path, when: dt.datetime | None) -> Path:
    """Fold the database's WAL into it and move it beside itself; refused while in use.

    Switching a WAL database to ``journal_mode=DELETE`` needs the only connection to it, so
    it doubles as the test that no screening app or command has it open.
    """
    conn = sqlite3.connect(db_path, timeout=0.5)
    try:
        mode = conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0]
    except sqlite3.OperationalError as e:
        mode = str(e)
    finally:
        conn.close()
    if mode != "delete":
        raise BackupError(f"{db_path} is in use (is `evidence screen` or another command "
                          "running?): stop it, then restore")
    stamp = (when or dt.datetime.now(dt.UTC)).strftime(STAMP)
    aside = db_path.with_name(f"{db_path.name}.replaced-{stamp}")
    os.replace(db_path, aside)
    for suffix in ("-wal", "-shm"):
        db_path.with_name(db_path.name + suffix).unlink(missing_ok=True)
    return aside


__all__ = ["BackupError", "BackupResult", "RestoreResult", "backup", "restore"]
