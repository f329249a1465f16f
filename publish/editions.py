"""Editions of the published knowledge base: which works each yearly edition published.

A report comes out once a year from the same working database, and its readers ask what is
new since last year's. ``evidence publish --edition NAME`` (default ``project.edition``, else
the current year) records the edition in the working database (``editions``,
``edition_records``: migrations ``m510_editions``, ``m530_edition_records_first_published``).

Editions form a *series*, ordered by year: the year in the name (``2024``, ``2024-høst``),
for a name without one the year it was first published, then by when each was first
published (``2024-vår`` before ``2024-høst``). A work's *first edition* is the earliest
edition of the series that published it while no later edition of the series existed: each
edition remembers when it first published each work, so re-publishing last year's edition
after this year's (to correct it, or with ``project.edition`` left at last year) neither
takes this year's works from it nor counts works included since as new in last year's.
Such a work has no first edition yet (NULL) until the next edition publishes it. So the
order in which editions happen to be published decides nothing: "new in 2025" is what 2025
published that the editions before it in the series did not. Re-publishing an edition
replaces that edition's rows only.
"""

from __future__ import annotations

import datetime as dt
import json
import re
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


#: A year in an edition's name: four digits not part of a longer number.
_YEAR = re.compile(r"(?<!\d)((?:19|20|21)\d\d)(?!\d)")


def series_key(name: str, created_at: str | None) -> tuple[str, str, str]:
    """Where an edition stands in the series: its year (from the name, else the year it was
    first published), then when it was first published, then its name."""
    match = _YEAR.search(name)
    created = created_at or ""
    return (match.group(1) if match else created[:4], created, name)


def stored_editions(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Editions of the working database in series order (:func:`series_key`)."""
    rows = [
        dict(r)
        for r in db.query(
            "SELECT name, created_at, published_at, records, new_records, searches, prisma"
            " FROM editions"
        )
    ]
    return sorted(rows, key=lambda r: series_key(r["name"], r["created_at"]))


def first_editions(
    db: sqlite_utils.Database, edition: str, record_ids: Iterable[int]
) -> dict[int, str | None]:
    """``{record id: first edition}`` of the records about to be published in ``edition``
    (None: no edition has published it as the newest of the series; see the module).

    Other editions count as they were stored; ``edition`` itself counts with ``record_ids``
    (what it publishes now), each with the time it first published it (now, for a work it
    did not publish before).
    """
    stamp = now()
    created = {e["name"]: e["created_at"] for e in stored_editions(db)}
    created.setdefault(edition, stamp)
    order = sorted(created, key=lambda n: series_key(n, created[n]))
    rank = {name: i for i, name in enumerate(order)}
    # an edition's claims count until a later edition of the series first existed
    until: dict[str, str | None] = {}
    later: str | None = None
    for name in reversed(order):
        until[name] = later
        later = created[name] if later is None else min(later, created[name])

    def counts(name: str, at: str | None) -> bool:
        return until[name] is None or (at or created[name]) < until[name]

    first: dict[int, str] = {}
    for record_id, name, at in db.execute(
        "SELECT record_id, edition, first_published_at FROM edition_records"
        " WHERE edition != ?",
        [edition],
    ):
        if counts(name, at) and (record_id not in first or rank[name] < rank[first[record_id]]):
            first[record_id] = name
    before = _published_at(db, edition)
    result: dict[int, str | None] = {}
    for record_id in record_ids:
        known = first.get(record_id)
        mine = counts(edition, before.get(record_id, stamp))
        if mine and (known is None or rank[edition] < rank[known]):
            known = edition
        result[record_id] = known
    return result


def _published_at(db: sqlite_utils.Database, edition: str) -> dict[int, str | None]:
    """When ``edition`` first published each work it has published."""
    return dict(
        db.execute(
            "SELECT record_id, first_published_at FROM edition_records WHERE edition = ?",
            [edition],
        ).fetchall()
    )


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
        before = _published_at(db, edition)  # a work it published before keeps its time
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
            "INSERT INTO edition_records (edition, record_id, first_published_at)"
            " VALUES (?, ?, ?)",
            ((edition, rid, before.get(rid) or stamp) for rid in record_ids),
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
    rows.sort(key=lambda r: series_key(r["name"], r["created_at"]))
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
