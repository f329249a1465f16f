"""Counts per screening stage, for ``evidence status`` and the published PRISMA table.

PRISMA 2020 names the full-text steps: *reports sought for retrieval* (the records included
at title/abstract), *reports not retrieved* (marked "full text not retrievable"), *reports
assessed for eligibility* (the others with a full-text decision), *reports excluded, with
reasons*, and the studies *included*. Everything is read from ``stage_status`` (migration
m170), so it follows the same rules as the screening app: a lead's resolution wins, else
enough agreeing reviewers.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from evidence.config import NOT_RETRIEVED
from evidence.db.decisions import FULL_TEXT, SCREENING


def configured_stages(conn: sqlite3.Connection) -> tuple[str, ...]:
    """``screening.stages`` as mirrored into ``sync_state`` (title/abstract only by default)."""
    row = conn.execute("SELECT value FROM sync_state WHERE key = 'screening_stages'").fetchone()
    return tuple(row[0].split(",")) if row and row[0] else ("title_abstract",)


def _outcomes(conn: sqlite3.Connection, stage: str, within: str = "") -> dict[str, int]:
    counts = dict(conn.execute(
        f"SELECT coalesce(decision, ''), count(*) FROM stage_status WHERE stage = ? {within}"
        " GROUP BY 1", [stage]).fetchall())
    conflicts = conn.execute(
        f"SELECT count(*) FROM stage_status WHERE stage = ? AND conflict = 1 {within}",
        [stage]).fetchone()[0]
    return {**counts, "conflicts": conflicts}


def _reasons(conn: sqlite3.Connection, stage: str, within: str = "",
             skip: str = "") -> list[tuple[str, int]]:
    return [tuple(row) for row in conn.execute(
        f"SELECT coalesce(reason, ''), count(*) FROM stage_status WHERE stage = ?"
        f" AND decision = 'exclude' AND coalesce(reason, '') != ? {within}"
        " GROUP BY 1 ORDER BY count(*) DESC, 1", [stage, skip])]


def stage_counts(conn: sqlite3.Connection) -> dict[str, Any]:
    """``{"stages": [...], "title_abstract": {...}, "full_text": {...} (when configured)}``.

    Title/abstract: ``records`` (to screen), ``screened`` (with an outcome), ``included``,
    ``excluded``, ``maybe``, ``awaiting`` (no outcome yet, or maybe), ``conflicts`` and
    ``reasons`` (``[(slug, count)]`` of the excluded). Full text: ``sought``,
    ``not_retrieved``, ``assessed``, ``included``, ``excluded``, ``maybe``, ``awaiting``,
    ``conflicts``, ``reasons`` (without "not retrievable").
    """
    stages = configured_stages(conn)
    records = conn.execute("SELECT count(*) FROM records WHERE id IN"
                           " (SELECT record_id FROM hits WHERE deleted = 0)").fetchone()[0]
    ta = _outcomes(conn, SCREENING)
    decided = ta.get("include", 0) + ta.get("exclude", 0)
    result: dict[str, Any] = {"stages": list(stages), "title_abstract": {
        "records": records, "screened": decided + ta.get("maybe", 0),
        "included": ta.get("include", 0), "excluded": ta.get("exclude", 0),
        "maybe": ta.get("maybe", 0), "awaiting": max(records - decided, 0),
        "conflicts": ta["conflicts"], "reasons": _reasons(conn, SCREENING)}}
    if "full_text" not in stages:
        return result
    within = ("AND record_id IN (SELECT record_id FROM stage_status WHERE stage = 'screening'"
              " AND decision = 'include')")
    ft = _outcomes(conn, FULL_TEXT, within)
    not_retrieved = conn.execute(
        f"SELECT count(*) FROM stage_status WHERE stage = ? AND decision = 'exclude'"
        f" AND reason = ? {within}", [FULL_TEXT, NOT_RETRIEVED]).fetchone()[0]
    excluded = ft.get("exclude", 0) - not_retrieved
    sought = ta.get("include", 0)
    result["full_text"] = {
        "sought": sought, "not_retrieved": not_retrieved,
        "assessed": ft.get("include", 0) + excluded, "included": ft.get("include", 0),
        "excluded": excluded, "maybe": ft.get("maybe", 0),
        "awaiting": max(sought - not_retrieved - ft.get("include", 0) - excluded, 0),
        "conflicts": ft["conflicts"],
        "reasons": _reasons(conn, FULL_TEXT, within, skip=NOT_RETRIEVED)}
    return result
