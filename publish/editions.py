"""Editions of the published knowledge base: which works each yearly edition published.

A report comes out once a year from the same working database, and its readers ask what is
new since last year's. ``evidence publish --edition NAME`` (default ``project.edition``, else
the current year) records the edition in the working database (``editions``,
``edition_records``: migration ``m510_editions``); a work's *first edition* is the earliest
edition, in the order editions were first published, that published it. Re-publishing an
edition replaces that edition's rows only, and keeps its place in that order.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

import sqlite_utils

from evidence.config import EDITION_MAX, EDITION_NAME, EDITION_RULE
from evidence.db.values import now
from evidence.errors import EvidenceError

#: Columns of the published ``editions`` table (the method page and the home page read it).
PUBLISHED_COLUMNS = {
    "name": str,
    "position": int,
    "created_at": str,
    "published_at": str,
    "records": int,
    "new_records": int,
    "searches": str,
    "prisma": str,
}


class EditionError(EvidenceError):
    """An edition name that cannot be used (empty, too long, odd characters)."""


def edition_name(option: str | None, configured: str = "", today: dt.date | None = None) -> str:
    """The edition to publish: ``--edition``, else ``project.edition``, else the year."""
    name = (option or "").strip() or (configured or "").strip()
    source = "--edition" if (option or "").strip() else "project.edition"
    if not name:
        return str((today or dt.date.today()).year)
    if len(name) > EDITION_MAX or not EDITION_NAME.match(name):
        raise EditionError(
            f"{source}: {name[:EDITION_MAX]!r} is not a usable edition name: {EDITION_RULE}"
        )
    return name


def stored_editions(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Editions of the working database, oldest first (by when each was first published)."""
    return [
        dict(r)
        for r in db.query(
            "SELECT name, created_at, published_at, records, new_records, searches, prisma"
            " FROM editions ORDER BY created_at, name"
        )
    ]


def first_editions(
    db: sqlite_utils.Database, edition: str, record_ids: Iterable[int]
) -> dict[int, str]:
    """``{record id: first edition}`` of the records about to be published in ``edition``.

    Earlier editions count as they were stored; ``edition`` itself counts with ``record_ids``
    (what it publishes now), not with what it published last time.
    """
    order = [e["name"] for e in stored_editions(db)]
    if edition not in order:
        order.append(edition)
    rank = {name: i for i, name in enumerate(order)}
    first: dict[int, str] = {}
    for record_id, name in db.execute(
        "SELECT record_id, edition FROM edition_records WHERE edition != ?", [edition]
    ):
        if record_id not in first or rank[name] < rank[first[record_id]]:
            first[record_id] = name
    result = {}
    for record_id in record_ids:
        known = first.get(record_id)
        result[record_id] = known if known is not None and rank[known] < rank[edition] else edition
    return result


def save_edition(
    db: sqlite_utils.Database,
    edition: str,
    record_ids: list[int],
    new_records: int,
    searches: list[dict],
    prisma: list[dict],
) -> None:
    """Store (or replace) ``edition`` with the records it published, in one transaction."""
    stamp = now()
    with db.atomic():
        row = db.execute("SELECT created_at FROM editions WHERE name = ?", [edition]).fetchone()
        db.execute("DELETE FROM edition_records WHERE edition = ?", [edition])
        db["editions"].upsert(
            {
                "name": edition,
                "created_at": row[0] if row else stamp,
                "published_at": stamp,
                "records": len(record_ids),
                "new_records": new_records,
                "searches": json.dumps(_search_summary(searches), ensure_ascii=False),
                "prisma": json.dumps(_prisma_summary(prisma), ensure_ascii=False),
            },
            pk="name",
        )
        db.conn.executemany(
            "INSERT INTO edition_records (edition, record_id) VALUES (?, ?)",
            ((edition, rid) for rid in record_ids),
        )


def published_rows(
    db: sqlite_utils.Database,
    edition: str,
    records: int,
    new_records: int,
    searches: list[dict],
    prisma: list[dict],
) -> list[dict[str, Any]]:
    """The published ``editions`` table: every stored edition, ``edition`` as it is now."""
    stamp = now()
    rows, current = [], None
    for stored in stored_editions(db):
        if stored["name"] == edition:
            current = stored
            continue
        rows.append(stored)
    rows.append(
        {
            "name": edition,
            "created_at": current["created_at"] if current else stamp,
            "published_at": stamp,
            "records": records,
            "new_records": new_records,
            "searches": json.dumps(_search_summary(searches), ensure_ascii=False),
            "prisma": json.dumps(_prisma_summary(prisma), ensure_ascii=False),
        }
    )
    rows.sort(key=lambda r: (r["created_at"], r["name"]))
    return [{**r, "position": i} for i, r in enumerate(rows)]


def _search_summary(searches: list[dict]) -> list[dict[str, Any]]:
    """What an edition's method section needs of each search (no private settings)."""
    keep = (
        "name",
        "source",
        "query",
        "window_start",
        "window_end",
        "last_run_at",
        "runs",
        "hits",
        "records",
        "included",
    )
    return [{k: s.get(k) for k in keep} for s in searches if s.get("runs")]


def _prisma_summary(prisma: list[dict]) -> dict[str, int]:
    """The main PRISMA counts of an edition (steps summed; per-search and per-reason rows
    fold into their totals)."""
    counts: dict[str, int] = {}
    for row in prisma:
        if row["step"] in ("identified", "excluded_reason", "full_text_excluded_reason"):
            continue
        counts[row["step"]] = row["count"]
    return counts
