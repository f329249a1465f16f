"""A project on disk: its configuration file and its working database.

Only the commands that bring data in (``init``, ``import``, ``harvest``, ``demo``) create the
working database; every other command opens an existing one, so a command run in the wrong
folder says so instead of leaving an empty ``evidence.db`` behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from evidence.config import Config, load_config, starter_config_text
from evidence.errors import EvidenceError

if TYPE_CHECKING:  # sqlite_utils takes a second to import: not for `evidence --help`
    import sqlite_utils


class NoDatabaseError(EvidenceError):
    """The working database named by ``--db`` does not exist."""


def open_database(db_path: str | Path, *, create: bool = False) -> sqlite_utils.Database:
    """Open (and migrate) the working database; without ``create`` it must already exist."""
    from evidence.db.migrations import open_db

    path = Path(db_path)
    if not create and not path.exists():
        raise NoDatabaseError(
            f"no working database at {path}: run `evidence init` (or `evidence import FILE`, "
            "`evidence harvest`) to create one, or point --db / EVIDENCE_DB at an existing one")
    return open_db(path)


@dataclass
class InitResult:
    config_path: Path
    db_path: Path
    wrote_config: bool


def init_project(config_path: str | Path, db_path: str | Path, *,
                 force: bool = False) -> InitResult:
    """Write the starter configuration (unless one exists and not ``force``) and create the
    working database with the configuration's searches, themes and reasons."""
    from evidence.db.config_sync import sync_config

    config_path, db_path = Path(config_path), Path(db_path)
    wrote = force or not config_path.exists()
    if wrote:
        config_path.write_text(starter_config_text(), encoding="utf-8")
    sync_config(open_database(db_path, create=True), load_config(config_path))
    return InitResult(config_path, db_path, wrote)


def load_optional_config(config_path: str | Path) -> Config | None:
    """The configuration, or None when the file does not exist (imports work without one)."""
    return load_config(config_path) if Path(config_path).exists() else None
