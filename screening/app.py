"""The one factory of the screening server, used by ``evidence screen``, the tests and the bench."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evidence.config import Config, ConfigError, load_config
from evidence.db.config_sync import sync_config
from evidence.db.migrations import open_db

if TYPE_CHECKING:  # datasette.app imports the plugins, so not at import time
    from datasette.app import Datasette

PLUGIN = "evidence_screening"
#: Tables no role may read through Datasette's pages.
SECRET_TABLES = ("users",)


def screening_metadata(db_path: str | Path, config_path: str | Path,
                       title: str = "") -> dict[str, Any]:
    """Instance rules: Datasette's own pages (tables, SQL) are for leads only, SQL for nobody,
    and the tables holding secrets (password hashes) for nobody at all: accounts are listed
    by ``evidence users list``.

    ``allow`` gates Datasette's pages, not plugin routes: every screening view checks the
    actor itself (``login_required`` in pages.py).
    """
    return {
        "title": title,
        "allow": {"role": "lead"},
        "allow_sql": False,
        "databases": {Path(db_path).stem: {"tables": {
            table: {"allow": False, "hidden": True} for table in SECRET_TABLES}}},
        "plugins": {PLUGIN: {"enabled": True, "config_path": str(config_path),
                             "database": Path(db_path).stem}},
    }


def make_datasette(db_path: str | Path, config_path: str | Path, *, secret: str | None = None,
                   **kwargs: Any) -> Datasette:
    """Datasette on the working database with the screening plugin switched on.

    Migrates the database and mirrors the configuration (themes, reasons, reviewers per
    record) into it first, so the app never reads a list that is out of date.

    Example::

        ds = make_datasette("evidence.db", "evidence.yml", secret="s3cret")
        response = await ds.client.get("/-/login")
    """
    from datasette.app import Datasette

    config = load_config(config_path)
    db = open_db(db_path)
    try:
        sync_config(db, config)
    finally:
        db.close()
    ds = Datasette(files=[str(db_path)],
                   metadata=screening_metadata(db_path, config_path, config.title),
                   secret=secret or secrets.token_hex(32),
                   settings={"sql_time_limit_ms": 1000, **kwargs.pop("settings", {})},
                   **kwargs)
    ds._evidence_config = config  # re-read when the file changes (evidence_config)
    ds._evidence_config_stamp = _stamp(config_path)
    ds._evidence_synced = config  # mirrored by sync_config above (pages._current_rule)
    return ds


def plugin_settings(datasette: Datasette) -> dict[str, Any] | None:
    """The plugin's config block, or None when this server is not a screening server."""
    return datasette.plugin_config(PLUGIN) or None


def _stamp(path: str | Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def evidence_config(datasette: Datasette, *, reload: bool = False) -> Config:
    """The configuration as the file is now: re-read whenever the file has changed.

    A copy made when the server started would keep applying an old
    ``screening.reviewers_per_record`` after the lead switched single and dual screening.
    One ``stat`` per call is the price. A file that no longer validates keeps the last good
    configuration in use; the error is kept for the lead's Lists page.
    """
    path = plugin_settings(datasette)["config_path"]
    stamp = _stamp(path)
    cached = getattr(datasette, "_evidence_config", None)
    if reload or cached is None or stamp != getattr(datasette, "_evidence_config_stamp", None):
        try:
            datasette._evidence_config = load_config(path)
            datasette._evidence_config_error = None
        except ConfigError as e:
            if cached is None:
                raise
            datasette._evidence_config_error = str(e)
        datasette._evidence_config_stamp = stamp
    return datasette._evidence_config


def config_error(datasette: Datasette) -> str | None:
    """Why the configuration file could not be re-read (None when it is fine)."""
    return getattr(datasette, "_evidence_config_error", None)
