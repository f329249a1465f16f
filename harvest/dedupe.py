"""Fold hits into records: one record per work.

Placeholder until the deduplication issue lands: every hit without a record becomes its own
record. The public entry point, :func:`dedupe`, keeps its signature when the real matcher
replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from evidence.config import DedupeSettings
from harvest.store import now

RECORD_FIELDS = (
    "title", "abstract", "authors", "year", "journal", "journal_abbrev", "volume", "issue",
    "pages", "doi", "pmid", "pmcid", "isbn", "issn", "pub_date", "language",
    "publication_types", "keywords", "mesh_terms", "item_type", "url",
)


@dataclass
class DedupeResult:
    hits: int = 0
    new_records: int = 0
    merged: int = 0
    uncertain: int = 0


def dedupe(db: sqlite_utils.Database, settings: DedupeSettings | None = None) -> DedupeResult:
    """Give every hit that has no record one (placeholder: a new record per hit)."""
    result = DedupeResult()
    columns = ", ".join(RECORD_FIELDS)
    with db.atomic():
        pending = db.execute(
            f"SELECT id, {columns} FROM hits WHERE record_id IS NULL ORDER BY id").fetchall()
        for hit_id, *values in pending:
            row = dict(zip(RECORD_FIELDS, values, strict=True))
            stamp = now()
            record_id = db["records"].insert({**row, "created_at": stamp,
                                              "updated_at": stamp}).last_pk
            db.execute("UPDATE hits SET record_id = ? WHERE id = ?", [record_id, hit_id])
            result.hits += 1
            result.new_records += 1
    return result
