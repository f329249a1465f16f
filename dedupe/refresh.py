"""Edits flow through: when a source changes a stored hit, the records built from it follow.

A Zotero item edited in Zotero, or a re-import or re-harvest with corrected fields, updates
the hit (harvest.store). The record's fields are derived from its hits (best values, see
:func:`evidence.dedupe.cluster.best_fields`), so they are recomputed here, and the hit's stored
fingerprint is dropped so the next deduplication compares it by its new fields.
"""

from __future__ import annotations

import sqlite_utils

from evidence.dedupe.cluster import refresh_records

_CHUNK = 500


def hits_changed(db: sqlite_utils.Database, hit_ids: list[int]) -> list[int]:
    """Refresh the records of ``hit_ids`` and forget their fingerprints; returns record ids."""
    record_ids: set[int] = set()
    for start in range(0, len(hit_ids), _CHUNK):
        chunk = hit_ids[start:start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        record_ids.update(r for (r,) in db.execute(
            f"SELECT DISTINCT record_id FROM hits WHERE id IN ({marks})"
            " AND record_id IS NOT NULL", chunk))
        if "dedupe_keys" in db.table_names():
            db.execute(f"DELETE FROM dedupe_keys WHERE hit_id IN ({marks})", chunk)
    refresh_records(db, sorted(record_ids))
    return sorted(record_ids)
