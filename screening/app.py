"""The one factory of the screening server, used by ``evidence screen``, the tests and the bench."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evidence.config import Config, load_config
from evidence.db.migrations import open_db
from evidence.harvest.store import sync_config

if TYPE_CHECKING:  # datasette.app imports the plugins, so not at import time
    from datasette.app import Datasette

PLUGIN = "evidence_screening"


def screening_metadata(db_path: str | Path, config_path: str | Path,
                       title: str = "") -> dict[str, Any]:
    """Instance rules: Datasette's own pages (tables, SQL) are for leads only, SQL for nobody.

    ``allow`` gates Datasette's pages, not plugin routes: every screening view checks the
    actor itself (see views.py).
    """
    return {
        "title": title,
        "allow": {"role": "lead"},
        "allow_sql": False,
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
    ds._evidence_config = config  # read by views.settings(); reloaded by the lead page
    return ds


def plugin_settings(datasette: Datasette) -> dict[str, Any] | None:
    """The plugin's config block, or None when this server is not a screening server."""
    return datasette.plugin_config(PLUGIN) or None


def evidence_config(datasette: Datasette, *, reload: bool = False) -> Config:
    """The loaded configuration, cached on the Datasette instance."""
    if reload or getattr(datasette, "_evidence_config", None) is None:
        datasette._evidence_config = load_config(plugin_settings(datasette)["config_path"])
    return datasette._evidence_config
