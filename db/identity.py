"""What a SQLite file is: an evidence working database (and of which schema version), a
published database, another program's database, or not SQLite at all.

One answer shared by ``open_db`` (which must not migrate someone else's file: it once added
``_sqlite_migrations`` to a published database and then crashed), ``evidence restore`` (which
must not put a foreign or newer file in place) and ``evidence doctor``. Reading only: the
questions are asked on a connection before anything is written.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from evidence.errors import EvidenceError

#: The migration set of the working database (``Migrations("evidence")`` in migrations.py).
MIGRATION_SET = "evidence"
#: Tables only ``evidence publish`` writes: the published database, not the working one.
PUBLISHED_MARKERS = {"site", "prisma"}


class NotEvidenceDatabase(EvidenceError):
    """A file that is not (or not yet, or no longer) a working database this version can use."""


@dataclass
class Identity:
    """``kind``: ``new`` (missing, empty, or SQLite without tables), ``evidence``,
    ``published``, ``foreign`` or ``not_sqlite``; for ``evidence``, the applied migrations,
    those this version has not applied yet (``pending``) and those it does not know
    (``unknown``: the file was written by a newer version)."""

    kind: str
    applied: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    detail: str = ""

    @property
    def newer(self) -> bool:
        return bool(self.unknown)


def known_migrations() -> list[str]:
    from evidence.db.migrations import migrations

    return [m.name for m in migrations._migrations]


def identify_connection(conn: sqlite3.Connection) -> Identity:
    """Identify the database behind ``conn`` without writing to it."""
    try:
        tables = [name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
            " AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    except sqlite3.DatabaseError as e:  # "file is not a database", "file is encrypted"
        return Identity("not_sqlite", detail=str(e))
    if not tables:
        return Identity("new")
    applied: list[str] = []
    if "_sqlite_migrations" in tables:
        try:
            applied = [name for (name,) in conn.execute(
                "SELECT name FROM _sqlite_migrations WHERE migration_set = ? ORDER BY rowid",
                [MIGRATION_SET])]
        except sqlite3.DatabaseError:
            applied = []
    if not applied:
        kind = "published" if PUBLISHED_MARKERS <= set(tables) else "foreign"
        return Identity(kind, tables=tables)
    known = known_migrations()
    done = set(applied)
    return Identity("evidence", applied=applied, tables=tables,
                    pending=[name for name in known if name not in done],
                    unknown=[name for name in applied if name not in set(known)])


def identify(path: str | Path) -> Identity:
    """Identify the file at ``path`` (read-only; a missing or empty file is ``new``)."""
    path = Path(path)
    if not path.exists() or (path.is_file() and path.stat().st_size == 0):
        return Identity("new")
    if not path.is_file():
        return Identity("not_sqlite", detail="not a file")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as e:
        return Identity("not_sqlite", detail=str(e))
    try:
        return identify_connection(conn)
    finally:
        conn.close()


def refusal(path: str | Path, identity: Identity, *, hint: bool = True) -> str | None:
    """Why ``path`` cannot be used as a working database by this version, or None;
    ``hint`` adds what to point ``--db`` at instead."""
    reason = _refusal(path, identity)
    if reason and not hint:
        return reason.split(": point --db", 1)[0].split("; nothing was changed", 1)[0]
    return reason


def _refusal(path: str | Path, identity: Identity) -> str | None:
    if identity.kind == "not_sqlite":
        return f"{path} is not an SQLite database ({identity.detail})"
    if identity.kind == "published":
        return (f"{path} is a published database (made by `evidence publish`), not the working "
                "database: point --db / EVIDENCE_DB at the working database (evidence.db)")
    if identity.kind == "foreign":
        shown = ", ".join(identity.tables[:5]) + (" ..." if len(identity.tables) > 5 else "")
        return (f"{path} is an SQLite database of another program (tables: {shown}), not an "
                "evidence working database; nothing was changed. Point --db at the working "
                "database, or at a new file name to start one")
    if identity.newer:
        return (f"{path} was written by a newer version of evidence-tracker (migrations "
                f"{', '.join(identity.unknown[:3])} are unknown here): upgrade this "
                "installation (pip install -U evidence-tracker) before using it")
    return None


def check_working(path: str | Path, identity: Identity) -> Identity:
    """``identity`` when the file can be used (and migrated), else :class:`NotEvidenceDatabase`."""
    reason = refusal(path, identity)
    if reason:
        raise NotEvidenceDatabase(reason)
    return identity
