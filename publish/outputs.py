"""Guards on ``--out``: no command may write over the project's own files.

``evidence publish --out evidence.db`` once replaced the working database (decisions, users)
with the published one, ``export --out evidence.db`` made it unreadable and ``--out
evidence.yml`` overwrote the configuration. Every writer calls :func:`check_output` first:
publish may replace only an earlier published database; an export may replace a file of its
own kind, never a SQLite file, the configuration or a YAML file.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from evidence.errors import EvidenceError

SQLITE_HEADER = b"SQLite format 3\x00"
ZIP_HEADER = b"PK\x03\x04"
#: The working database's companions: overwriting one corrupts it just the same.
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


class OutputError(EvidenceError):
    """``--out`` names a file this command must not write."""


def database_file(conn: sqlite3.Connection) -> str | None:
    """The file behind the connection's main database (None in memory)."""
    for _seq, name, file in conn.execute("PRAGMA database_list").fetchall():
        if name == "main" and file:
            return file
    return None


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _head(path: Path, size: int = 16) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(size)
    except OSError:
        return b""


def _is_published(path: Path) -> bool:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table'"
                                " AND name = 'site'").fetchone() is not None
        finally:
            conn.close()
    except sqlite3.Error:
        return False


def check_output(out: str | Path, kind: str, *, protected: Iterable[str | Path | None] = ()
                 ) -> Path:
    """``out`` as a Path when ``kind`` (``published`` or an export format) may write it.

    ``protected`` are the working database and the configuration: never written, even when
    another name (a link) points at them. The folder must exist and be writable.
    """
    out = Path(out)
    for item in protected:
        if not item:
            continue
        for suffix in SQLITE_SUFFIXES:
            guarded = Path(f"{item}{suffix}")
            if out.absolute() == guarded.absolute() or _same(out, guarded):
                raise OutputError(f"--out {out}: that is the project's own {guarded.name}; "
                                  "choose another file name")
    folder = out.parent
    if not folder.is_dir():
        raise OutputError(f"--out {out}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"--out {out}: cannot write in folder {folder} (permission denied)")
    if out.is_dir():
        raise OutputError(f"--out {out}: is a folder")
    if out.exists():
        _check_existing(out, kind)
    return out


def _check_existing(out: Path, kind: str) -> None:
    head = _head(out)
    if kind == "published":
        if not (head.startswith(SQLITE_HEADER) and _is_published(out)):
            raise OutputError(f"--out {out}: exists and is not a published database; "
                              "publish replaces only an earlier `evidence publish` file")
        return
    if head.startswith(SQLITE_HEADER):
        raise OutputError(f"--out {out}: is a SQLite database; an export never replaces one")
    if out.suffix.lower() in (".yml", ".yaml"):
        raise OutputError(f"--out {out}: is a YAML file (a configuration?); choose another name")
    if (kind == "xlsx") != head.startswith(ZIP_HEADER) and out.stat().st_size:
        raise OutputError(f"--out {out}: exists and is not a {kind} file; choose another name")
    if not os.access(out, os.W_OK):
        raise OutputError(f"--out {out}: cannot write this file (permission denied)")
