"""SAFE's phases kept in the database: the start of the check with a second model, and a
lead's stop (table ``stopping_events``, migration m470).

SAFE (Boetje & van de Schoot 2024, Systematic Reviews 13:81) screens with active learning
until its stopping heuristic is met (models/stopping.py), then ranks the rest with a
*different* model and screens on until another run of exclusions; only then does it stop.
The moment the heuristic was first met is stored here, as the id of the last title/abstract
decision then: the check's run of exclusions counts from it, and the queue's model
(models/relevance.py) follows it. Recomputing it from the figures would flip back and
forth, since the figures move with every decision (an inclusion in the check resets the run,
a new import lowers the share screened).

A stop is who, when and the figures at that moment; ``evidence publish`` treats it as
``screening.stopping.stopped: true``. Who stopped stays in the working database.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from evidence.db.values import now

CHECK, STOP = "check_started", "stopped"


def _current(conn: sqlite3.Connection, kind: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT id, decision_id, actor, created_at, figures FROM stopping_events"
        " WHERE kind = ? AND undone_at IS NULL ORDER BY id DESC LIMIT 1", [kind]).fetchone()
    if row is None:
        return None
    return {"id": row[0], "decision_id": row[1] or 0, "actor": row[2], "at": row[3],
            "figures": json.loads(row[4] or "{}")}


def check_start(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The check phase's start (``decision_id``, ``at``, ``figures``), or None before it."""
    return _current(conn, CHECK)


def current_stop(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The stop in force (``actor``, ``at``, ``figures``), or None."""
    return _current(conn, STOP)


def _last_decision(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT coalesce(max(id), 0) FROM decisions WHERE stage = 'screening'"
                        ).fetchone()[0]


def _insert(conn: sqlite3.Connection, kind: str, actor: str | None,
            figures: dict[str, Any]) -> bool:
    """One event of ``kind`` unless one is already in force (a single statement, so two
    requests, or the app and ``evidence status``, cannot both start it)."""
    cursor = conn.execute(
        "INSERT INTO stopping_events (kind, decision_id, actor, created_at, figures)"
        " SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM stopping_events"
        " WHERE kind = ? AND undone_at IS NULL)",
        [kind, _last_decision(conn), actor, now(), json.dumps(figures), kind])
    conn.commit()
    return cursor.rowcount == 1


def _summary(figures: dict[str, Any]) -> dict[str, Any]:
    keys = ("total", "screened", "inclusions", "run", "estimated_remaining", "phase",
            "check_run", "check_needed")
    return {k: figures.get(k) for k in keys}


def start_check_if_met(conn: sqlite3.Connection, figures: dict[str, Any],
                       order: str) -> bool:
    """Store the start of the check when the heuristic is met for the first time (rule
    ``safe``, relevance order: with a fixed order there is no model to switch). True when
    it was stored now."""
    if order != "relevance" or figures.get("phase") != "active_learning" or not figures["met"]:
        return False
    return _insert(conn, CHECK, None, _summary(figures))


def stop_screening(conn: sqlite3.Connection, actor: str, figures: dict[str, Any]) -> bool:
    """A lead stops title/abstract screening now; False when it is stopped already."""
    return _insert(conn, STOP, actor, _summary(figures))


def undo_stop(conn: sqlite3.Connection, actor: str) -> bool:
    """Lift the stop in force (kept, marked undone); False when there is none."""
    cursor = conn.execute("UPDATE stopping_events SET undone_at = ?, undone_by = ?"
                          " WHERE kind = ? AND undone_at IS NULL", [now(), actor, STOP])
    conn.commit()
    return cursor.rowcount > 0
