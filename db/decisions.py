"""The one writer of screening decisions: the screening app, the evidence-table import and the
demo all record decisions through :func:`save_decision` (or :func:`append_decision` inside a
transaction they already hold), so every decision follows the same rules:

- ``decisions`` is append-only: a change or an undo is a new row, the history stays;
- every reviewer's themes and summary stay on their own decision rows; ``record_themes``
  follows the record's final decision (db/outcomes.py): a lead's resolution, else the union
  of the includers' themes. Two includers who disagree are a theme conflict for the lead,
  never a silent overwrite.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from evidence.db.outcomes import refresh_record_themes
from evidence.db.values import now

T = TypeVar("T")

DECISIONS = ("include", "exclude", "maybe")
#: The stage of a title/abstract vote, and of a lead's resolution of a conflict (contract).
SCREENING, RESOLUTION = "screening", "resolution"
#: The stages of the optional second, full-text stage (``screening.stages`` in the config).
FULL_TEXT, FULL_TEXT_RESOLUTION = "full_text", "full_text_resolution"
#: Configured stage name -> (reviewers' stage, lead's stage) as stored in ``decisions.stage``.
STAGES = {"title_abstract": (SCREENING, RESOLUTION), "full_text": (FULL_TEXT, FULL_TEXT_RESOLUTION)}
#: Reviewers' stages in order: a record reaches a stage when included at the one before.
STAGE_ORDER = (SCREENING, FULL_TEXT)


def resolution_of(stage: str) -> str:
    """The lead's stage that settles a reviewers' stage (``screening`` -> ``resolution``)."""
    return RESOLUTION if stage == SCREENING else f"{stage}_resolution"


def reviewers_stage(stage: str) -> str:
    """The reviewers' stage a stage belongs to (``resolution`` -> ``screening``)."""
    if stage == RESOLUTION:
        return SCREENING
    return stage.removesuffix("_resolution")


def is_resolution(stage: str) -> bool:
    return stage == RESOLUTION or stage.endswith("_resolution")


def previous_stage(stage: str) -> str | None:
    """The reviewers' stage a record must be included at to reach ``stage`` (None: first)."""
    position = STAGE_ORDER.index(stage)
    return STAGE_ORDER[position - 1] if position else None


def with_retry(fn: Callable[[], T], attempts: int = 8) -> T:
    """Run ``fn``, retrying with growing waits while another process holds the write lock."""
    for attempt in range(attempts):
        try:
            return fn()
        except sqlite3.OperationalError as e:
            message = str(e).lower()
            if ("locked" not in message and "busy" not in message) or attempt == attempts - 1:
                raise
            time.sleep(0.05 * 2 ** attempt)
    raise AssertionError("unreachable")


def append_decision(conn: sqlite3.Connection, record_id: int, reviewer: str,
                    decision: str | None, *, stage: str = SCREENING, reason: str | None = None,
                    note: str | None = None, summary: str | None = None,
                    theme_slugs: Iterable[str] = (), undoes: int | None = None,
                    origin: str = "web") -> int:
    """Append one decision row and set ``record_themes`` to match, in the caller's transaction.

    ``decision`` None records an undo (the reviewer holds no decision). Returns the row id.
    """
    if decision is not None and decision not in DECISIONS:
        raise ValueError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    theme_slugs = list(dict.fromkeys(theme_slugs)) if decision == "include" else []
    cursor = conn.execute(
        "INSERT INTO decisions (record_id, reviewer, stage, decision, reason, note,"
        " summary, themes, undoes, origin, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [record_id, reviewer, stage, decision, reason or None, note or None,
         summary or None, json.dumps(theme_slugs) if theme_slugs else None, undoes,
         origin, now()])
    refresh_record_themes(conn, record_id, reviewer, now())
    return cursor.lastrowid


def save_decision(conn: sqlite3.Connection, record_id: int, reviewer: str, decision: str | None,
                  **fields) -> int:
    """:func:`append_decision` in a transaction of its own, retried while the database is busy
    (two reviewers saving at once both keep their decisions)."""

    def write() -> int:
        conn.execute("BEGIN IMMEDIATE")
        try:
            row_id = append_decision(conn, record_id, reviewer, decision, **fields)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        return row_id

    return with_retry(write)
