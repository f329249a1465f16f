"""The configuration mirrored into the working database: searches, themes, exclusion reasons and
the screening rule.

Every command that reads evidence.yml and then works on the database calls :func:`sync_config`
(or :func:`save_screening_rule`), so the database always holds the file's current values. It
lives in the database layer because harvest, the screening app, status and publish all need it.
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from evidence.config import NOT_RETRIEVED, Config, Reason, Search
from evidence.db.values import now


def ensure_search(db: sqlite_utils.Database, search: Search | str, source: str = "file") -> int:
    """The id of the search row for ``search`` (a configured Search, or a bare name)."""
    if isinstance(search, str):
        search = Search(name=search, source=source)
    row = {
        "name": search.name, "source": search.source, "query": search.query,
        "description": search.description, "date_field": search.settings.get("date_field"),
        "settings": json.dumps(_search_settings(search), default=str),
    }
    existing = next(db["searches"].rows_where("name = ?", [search.name]), None)
    if existing:
        db["searches"].update(existing["id"], row)
        return existing["id"]
    return db["searches"].insert({**row, "created_at": now()}).last_pk


def _search_settings(search: Search) -> dict[str, Any]:
    """The window and the source's own settings, as the searches table keeps them."""
    window = search.window
    return {"window": window.__dict__ if window else None, **search.settings}


def save_screening_rule(db: sqlite_utils.Database, reviewers_per_record: int,
                        stages: tuple[str, ...] | None = None) -> None:
    """Store ``screening.reviewers_per_record`` (and ``screening.stages`` when given) where
    the ``record_status`` and ``stage_status`` views read them.

    Every command that counts final decisions (``status``, ``publish``, ``export``, the
    screening app) calls this with the configuration it has just read, so the rule applied is
    always the file's, never a copy left by an earlier command.
    """
    with db.atomic():
        db.execute("INSERT INTO sync_state (key, value, updated_at)"
                   " VALUES ('reviewers_per_record', ?, ?) ON CONFLICT(key) DO UPDATE SET"
                   " value = excluded.value, updated_at = excluded.updated_at"
                   " WHERE value IS NOT excluded.value", [str(reviewers_per_record), now()])
        if stages is not None:
            db.execute("INSERT INTO sync_state (key, value, updated_at)"
                       " VALUES ('screening_stages', ?, ?) ON CONFLICT(key) DO UPDATE SET"
                       " value = excluded.value, updated_at = excluded.updated_at"
                       " WHERE value IS NOT excluded.value", [",".join(stages), now()])


def sync_config(db: sqlite_utils.Database, config: Config) -> None:
    """Mirror the configuration's searches, themes and exclusion reasons into the database."""
    with db.atomic():
        save_screening_rule(db, config.screening.reviewers_per_record, config.screening.stages)
        for search in config.searches:
            ensure_search(db, search)
        for position, theme in enumerate(config.themes):
            group = next(g for g in config.theme_groups if g.id == theme.group)
            db.execute(
                "INSERT INTO themes (slug, name, name_nb, name_en, group_slug, group_nb, group_en,"
                " position) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(slug) DO UPDATE SET"
                " name=excluded.name, name_nb=excluded.name_nb, name_en=excluded.name_en,"
                " group_slug=excluded.group_slug, group_nb=excluded.group_nb,"
                " group_en=excluded.group_en, position=excluded.position",
                [theme.id, theme.label(config.language), theme.nb, theme.en, group.id,
                 group.nb, group.en, position],
            )
        for stage, reasons in stage_reasons(config).items():
            for position, reason in enumerate(reasons):
                db.execute(
                    "INSERT INTO exclusion_reasons (stage, slug, name_nb, name_en, position)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT(stage, slug) DO UPDATE SET"
                    " name_nb=excluded.name_nb, name_en=excluded.name_en,"
                    " position=excluded.position",
                    [stage, reason.id, reason.nb, reason.en, position],
                )


def stage_reasons(config: Config) -> dict[str, tuple[Reason, ...]]:
    """Exclusion reasons per reviewers' stage (``decisions.stage``); the full-text stage always
    offers "full text not retrievable" last."""
    reasons = {"screening": config.exclusion_reasons}
    if config.screening.full_text:
        reasons["full_text"] = (*config.full_text_exclusion_reasons, Reason(
            id=NOT_RETRIEVED, nb="Fulltekst ikke tilgjengelig", en="Full text not retrievable"))
    return reasons
