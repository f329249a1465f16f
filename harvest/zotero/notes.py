"""Child notes of Zotero items, counted on their parents' hits (``raw.child_notes``).

Notes are not hits; a note added or deleted in Zotero arrives without its parent on an
incremental sync, so the parent's stored hit is updated here, in the page's transaction.
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils


def keep_note_keys(db: sqlite_utils.Database, search_id: int, hits: list[dict]) -> None:
    """Carry the child-note keys of an already stored hit over to its updated version."""
    if not hits:
        return
    keys = [h["external_id"] for h in hits]
    rows = db.execute(
        "SELECT external_id, raw FROM hits WHERE search_id = ? AND external_id IN "
        f"({','.join('?' * len(keys))})", [search_id, *keys]).fetchall()
    old = {k: _raw(r).get("child_note_keys") or [] for k, r in rows}
    for hit in hits:
        note_keys = old.get(hit["external_id"])
        if note_keys:
            hit["raw"]["child_note_keys"] = note_keys
            hit["raw"]["child_notes"] = len(note_keys)


def count_notes(db: sqlite_utils.Database, search_id: int, notes: dict[str, set[str]],
                 deleted: list[str]) -> None:
    """Add newly seen child notes to their parents' raw, and drop deleted ones."""
    parents = dict.fromkeys(notes)
    for note_key in deleted:
        for (parent,) in db.execute(
                "SELECT external_id FROM hits WHERE search_id = ? AND instr(raw, ?) > 0",
                [search_id, f'"{note_key}"']).fetchall():
            parents[parent] = None
    gone = set(deleted)
    for parent in parents:
        row = db.execute("SELECT id, raw FROM hits WHERE search_id = ? AND external_id = ?",
                         [search_id, parent]).fetchone()
        if row is None:
            continue
        raw = _raw(row[1])
        keys = (set(raw.get("child_note_keys") or []) | notes.get(parent, set())) - gone
        raw["child_note_keys"] = sorted(keys)
        raw["child_notes"] = len(keys)
        db.execute("UPDATE hits SET raw = ? WHERE id = ?", [json.dumps(raw), row[0]])


def _raw(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
