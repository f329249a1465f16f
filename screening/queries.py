"""All SQL of the screening app, as plain functions on a ``sqlite3.Connection``.

Views call them through ``db.execute_fn`` (reads) and ``db.execute_write_fn`` (writes), the
benchmark and tests call them directly. Decisions are append-only: the latest row per
(record, reviewer, stage) is that reviewer's current decision, and an undo appends a row that
restores the previous value (NULL when there was none).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from itertools import combinations
from typing import Any, TypeVar

from evidence.db.decisions import DECISIONS, SCREENING, previous_stage, save_decision
from evidence.db.values import json_list, now

T = TypeVar("T")

#: Milliseconds a write waits for another writer (a harvest, another server) to finish.

#: A fixed pseudo-random permutation of record ids, indexed by migration m150 (an index on
#: this exact expression). "random" order walks it from a per-reviewer starting point.
RANDOM_KEY = "((r.id * 1103515245 + 12345) % 2147483647)"
#: ORDER BY clauses per configured order, each served by an index (migration m150).
ORDERS = {
    "newest": "r.year DESC, r.id",
    "oldest": "r.year, r.id",
    "random": f"{RANDOM_KEY}, r.id",
}
RECORD_COLUMNS = ("id", "title", "abstract", "authors", "year", "journal", "volume", "issue",
                  "pages", "doi", "pmid", "pmcid", "url", "publication_types", "item_type",
                  "oa_url")

#: The current decision per record, reviewer and stage, with the history row's other fields.
#: ``current_decisions`` (migration m160, kept by triggers) holds only non-NULL decisions.
CURRENT = """SELECT d.* FROM current_decisions c JOIN decisions d ON d.id = c.decision_id"""

def seed_for(reviewer: str) -> int:
    """A stable per-reviewer seed, so 'random' order is the same on every page load."""
    return int.from_bytes(hashlib.sha256(reviewer.encode()).digest()[:4], "big") % 2147483647


# --- the queue ------------------------------------------------------------------------------

def next_record_id(conn: sqlite3.Connection, reviewer: str, *, needed: int = 1,
                   order: str = "newest", skip: Iterable[int] = ()) -> int | None:
    """The next record this reviewer has not decided and that still needs a vote.

    With one reviewer per record that is "not decided by anyone"; with two, each reviewer sees
    the records they have not decided (blind: nothing about the other's vote is read here).
    """
    return queue_state(conn, reviewer, needed=needed, order=order, skip=skip)[0]


def queue_counts(conn: sqlite3.Connection, reviewer: str, *, needed: int = 1,
                 stage: str = SCREENING) -> tuple[int, int]:
    """(left, total): records still waiting for this reviewer at ``stage``, and all of them."""
    _, left, total = queue_state(conn, reviewer, needed=needed, stage=stage, pick=False)
    return left, total


def included_sql(stage: str) -> str:
    """Record ids whose outcome at ``stage`` is include: a lead's resolution, else enough
    agreeing votes (``:needed``), as ``record_status`` reads it."""
    return f"""SELECT record_id FROM stage_votes WHERE stage = '{stage}'
      AND (resolution = 'include' OR (resolution IS NULL AND kinds = 1
           AND decision = 'include' AND votes >= :needed))"""


def queue_state(conn: sqlite3.Connection, reviewer: str, *, needed: int = 1,
                order: str = "newest", skip: Iterable[int] = (), stage: str = SCREENING,
                pick: bool = True, ranked: list[int] | None = None) -> tuple[int | None, int, int]:
    """(next record id, left, total) for this reviewer at ``stage``, in one statement.

    Title/abstract reads ``screening_open`` (the records nobody has finished, kept by the
    triggers of migration m160), so neither the next record nor the count depends on how
    many decisions are stored. Later stages start from the records included at the stage
    before, a set the size of the included records.
    """
    params: dict[str, Any] = {"me": reviewer, "needed": needed, "seed": seed_for(reviewer),
                              "stage": stage}
    skip_names = []
    for i, value in enumerate(list(skip)[:2000]):  # skipped records: bound parameters
        params[f"s{i}"] = int(value)
        skip_names.append(f":s{i}")
    skipped = f"AND {{id}} NOT IN ({', '.join(skip_names)})" if skip_names else ""
    if stage == SCREENING:
        first, counts = _first_stage_sql(order, needed, skipped)
        if ranked:  # relevance order: the best-ranked open record, else the fallback order
            params["ranked"] = json.dumps([int(i) for i in ranked])
            first = f"coalesce({_ranked_sql(needed, skipped)}, {first})"
    else:
        first, counts = _later_stage_sql(stage, order, skipped)
    next_id, left, total = conn.execute(
        f"SELECT {first if pick else 'NULL'}, {counts}", params).fetchone()
    return next_id, max(left, 0), total


#: This reviewer has a current vote on ``{id}`` at ``:stage``.
_MINE = """EXISTS (SELECT 1 FROM current_decisions c WHERE c.record_id = {id}
    AND c.stage = :stage AND c.reviewer = :me)"""


def _first_stage_sql(order: str, needed: int, skipped: str) -> tuple[str, str]:
    """(next record, "left, total") SQL for title/abstract, from ``screening_open``."""
    # one reviewer: an unvoted record is open, and the votes index serves the order directly
    votes = ("o.votes = 0" if needed == 1
             else f"o.votes < :needed AND NOT {_MINE.format(id='o.record_id')}")
    where = f"{votes} {skipped.format(id='o.record_id')}"
    keys = {"newest": "o.year DESC, o.record_id", "oldest": "o.year, o.record_id",
            "random": "o.shuffle, o.record_id"}
    if order == "search":  # records in the order of the first search that found them
        first = f"""(SELECT h.record_id FROM hits h JOIN screening_open o
          ON o.record_id = h.record_id WHERE NOT h.deleted AND {where}
          ORDER BY h.search_id, h.record_id LIMIT 1)"""
    elif order == "random":  # from this reviewer's starting point, wrapping round once
        part = f"""SELECT o.record_id AS id FROM screening_open o WHERE o.shuffle {{side}} :seed
          AND {where} ORDER BY {keys[order]} LIMIT 1"""
        first = f"""(SELECT id FROM (SELECT 0 AS part, id FROM ({part.format(side=">=")})
          UNION ALL SELECT 1, id FROM ({part.format(side="<")})) ORDER BY part LIMIT 1)"""
    else:
        first = f"""(SELECT o.record_id FROM screening_open o WHERE {where}
          ORDER BY {keys[order]} LIMIT 1)"""
    mine_open = (f"(SELECT count(*) FROM screening_open o WHERE o.votes < :needed"
                 f" AND {_MINE.format(id='o.record_id')})" if needed > 1 else "0")
    counts = f"""(SELECT count(*) FROM screening_open o WHERE o.votes < :needed)
      - {mine_open}, (SELECT count(*) FROM records)"""
    return first, counts


def _ranked_sql(needed: int, skipped: str) -> str:
    """The first record of ``:ranked`` (a JSON list of ids, best first) still open to me."""
    votes = ("o.votes = 0" if needed == 1
             else f"o.votes < :needed AND NOT {_MINE.format(id='o.record_id')}")
    return f"""(SELECT o.record_id FROM json_each(:ranked) j
      JOIN screening_open o ON o.record_id = j.value
      WHERE {votes} {skipped.format(id='o.record_id')} ORDER BY j.key LIMIT 1)"""


def _later_stage_sql(stage: str, order: str, skipped: str) -> tuple[str, str]:
    """(next record, "left, total") SQL for a stage after title/abstract: the records
    included at the stage before, not resolved, with fewer than ``:needed`` votes and none of
    this reviewer's."""
    previous = previous_stage(stage)
    keys = {"newest": "r.year DESC, r.id", "oldest": "r.year, r.id",
            "random": f"{RANDOM_KEY}, r.id", "search": "r.id"}
    reached = (f"SELECT r.* FROM ({included_sql(previous)}) i"
               " CROSS JOIN records r ON r.id = i.record_id")
    open_ = f"""NOT EXISTS (SELECT 1 FROM stage_votes v WHERE v.stage = :stage
        AND v.record_id = r.id AND (v.resolution IS NOT NULL OR v.votes >= :needed))
      AND NOT {_MINE.format(id="r.id")}"""
    first = f"""(SELECT r.id FROM ({reached}) r WHERE {open_} {skipped.format(id="r.id")}
      ORDER BY {keys[order]} LIMIT 1)"""
    counts = f"""(SELECT count(*) FROM ({reached}) r WHERE {open_}),
      (SELECT count(*) FROM ({included_sql(previous)}))"""
    return first, counts


def rate_per_hour(conn: sqlite3.Connection, reviewer: str) -> float | None:
    """Decisions per hour over this reviewer's last hour of work (None with fewer than 2)."""
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat(timespec="seconds")
    count, first, last = conn.execute(
        "SELECT count(*), min(created_at), max(created_at) FROM decisions"
        " WHERE reviewer = ? AND created_at >= ? AND undoes IS NULL",
        [reviewer, since]).fetchone()
    if count < 2:
        return None
    span = (dt.datetime.fromisoformat(last) - dt.datetime.fromisoformat(first)).total_seconds()
    return (count - 1) * 3600 / max(span, 60)


# --- one record -----------------------------------------------------------------------------

def record(conn: sqlite3.Connection, record_id: int) -> dict[str, Any] | None:
    """The record's fields with JSON lists decoded, plus the searches and sources that found it."""
    row = conn.execute(f"SELECT {', '.join(RECORD_COLUMNS)} FROM records WHERE id = ?",
                       [record_id]).fetchone()
    if row is None:
        return None
    item = dict(zip(RECORD_COLUMNS, row, strict=True))
    for key in ("authors", "publication_types"):
        item[key] = json_list(item[key])
    item["searches"] = [
        {"name": name, "source": source, "query": query or ""}
        for name, source, query in conn.execute(
            "SELECT DISTINCT s.name, h.source, s.query FROM hits h"
            " JOIN searches s ON s.id = h.search_id"
            " WHERE h.record_id = ? AND NOT h.deleted ORDER BY s.name", [record_id])]
    return item


def current_decision(conn: sqlite3.Connection, record_id: int, reviewer: str,
                     stage: str = "screening") -> dict[str, Any] | None:
    """This reviewer's current decision on the record (None when undecided or undone)."""
    row = conn.execute(
        "SELECT id, decision, reason, note, summary, themes, created_at FROM decisions"
        " WHERE record_id = ? AND reviewer = ? AND stage = ? ORDER BY id DESC LIMIT 1",
        [record_id, reviewer, stage]).fetchone()
    if row is None or row[1] is None:
        return None
    keys = ("id", "decision", "reason", "note", "summary", "themes", "created_at")
    item = dict(zip(keys, row, strict=True))
    item["themes"] = json_list(item["themes"])
    return item


def themes(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    keys = ("id", "slug", "name_nb", "name_en", "group_slug", "group_nb", "group_en")
    return [dict(zip(keys, row, strict=True)) for row in conn.execute(
        f"SELECT {', '.join(keys)} FROM themes ORDER BY position, id")]


def reasons(conn: sqlite3.Connection, stage: str = SCREENING) -> list[dict[str, Any]]:
    """The exclusion reasons offered at a reviewers' stage (``screening`` or ``full_text``)."""
    keys = ("slug", "name_nb", "name_en")
    return [dict(zip(keys, row, strict=True)) for row in conn.execute(
        "SELECT slug, name_nb, name_en FROM exclusion_reasons WHERE stage = ?"
        " ORDER BY position, id", [stage])]


def reaches_stage(conn: sqlite3.Connection, record_id: int, stage: str, *,
                  needed: int = 1) -> bool:
    """Whether the record is screened at ``stage``: every record at title/abstract, the
    ones included at the stage before at a later stage."""
    previous = previous_stage(stage)
    if previous is None:
        return True
    return conn.execute(f"SELECT 1 FROM ({included_sql(previous)}) WHERE record_id = :id",
                        {"needed": needed, "id": record_id}).fetchone() is not None


# --- writes ---------------------------------------------------------------------------------

def undo_last(conn: sqlite3.Connection, reviewer: str) -> int | None:
    """Revert this reviewer's latest decision not yet undone; returns its record id."""
    undone = undo_last_decision(conn, reviewer)
    return undone[0] if undone else None


def undo_last_decision(conn: sqlite3.Connection, reviewer: str) -> tuple[int, str] | None:
    """Revert this reviewer's latest decision not yet undone, at any stage; returns its
    (record id, stage).

    Appends a row with ``undoes`` set, carrying the value the reviewer held before (NULL if
    none), so the history keeps both the decision and its undo.
    """
    last = conn.execute(
        "SELECT id, record_id, stage FROM decisions WHERE reviewer = ? AND undoes IS NULL"
        " AND id NOT IN (SELECT undoes FROM decisions WHERE undoes IS NOT NULL)"
        " ORDER BY id DESC LIMIT 1", [reviewer]).fetchone()
    if last is None:
        return None
    last_id, record_id, stage = last
    before = conn.execute(
        "SELECT decision, reason, note, summary, themes FROM decisions WHERE record_id = ?"
        " AND reviewer = ? AND stage = ? AND id < ? ORDER BY id DESC LIMIT 1",
        [record_id, reviewer, stage, last_id]).fetchone() or (None,) * 5
    save_decision(conn, record_id, reviewer, before[0], stage=stage, reason=before[1],
                  note=before[2], summary=before[3], theme_slugs=json_list(before[4]),
                  undoes=last_id)
    return record_id, stage


# --- lists ----------------------------------------------------------------------------------

def my_decisions(conn: sqlite3.Connection, reviewer: str, *, q: str = "",
                 decision: str = "", reason: str = "", limit: int = 100,
                 offset: int = 0, stage: str = SCREENING) -> list[dict[str, Any]]:
    """This reviewer's current decisions at ``stage``, newest first, filtered."""
    where = ["d.decision IS NOT NULL"]
    params = {"me": reviewer, "limit": limit, "offset": offset, "stage": stage}
    if q:
        where.append("(r.title LIKE :q OR r.authors LIKE :q OR d.note LIKE :q"
                     " OR d.summary LIKE :q)")
        params["q"] = f"%{q}%"
    if decision:
        where.append("d.decision = :decision")
        params["decision"] = decision
    if reason:
        where.append("d.reason = :reason")
        params["reason"] = reason
    keys = ("id", "record_id", "title", "year", "decision", "reason", "themes", "note",
            "summary", "created_at")
    rows = conn.execute(f"""
      SELECT d.id, d.record_id, r.title, r.year, d.decision, d.reason, d.themes, d.note,
             d.summary, d.created_at
      FROM decisions d JOIN records r ON r.id = d.record_id
      WHERE d.id IN (SELECT decision_id FROM current_decisions WHERE reviewer = :me
                     AND stage = :stage) AND {' AND '.join(where)}
      ORDER BY d.id DESC LIMIT :limit OFFSET :offset""", params).fetchall()
    items = [dict(zip(keys, row, strict=True)) for row in rows]
    for item in items:
        item["themes"] = json_list(item["themes"])
    return items


def current_votes(conn: sqlite3.Connection,
                  stage: str = SCREENING) -> dict[int, dict[str, str]]:
    """{record_id: {reviewer: decision}} of all current decisions at ``stage``."""
    votes: dict[int, dict[str, str]] = defaultdict(dict)
    for record_id, reviewer, decision in conn.execute(
            "SELECT record_id, reviewer, decision FROM current_decisions WHERE stage = ?",
            [stage]):
        votes[record_id][reviewer] = decision
    return votes


def vote_allowed(conn: sqlite3.Connection, record_id: int, reviewer: str, needed: int,
                 stage: str = SCREENING) -> bool:
    """May ``reviewer`` vote on the record at ``stage``? Always to change their own vote;
    a new vote only while the others have fewer than ``needed`` (in dual screening a third
    reviewer once voted by posting the form directly). One reviewer per record allows a
    second vote, so two reviewers who disagree show up as a conflict for the lead."""
    if needed < 2:
        return True
    votes = dict(conn.execute(
        "SELECT reviewer = ?, count(*) FROM current_decisions WHERE record_id = ?"
        " AND stage = ? GROUP BY reviewer = ?", [reviewer, record_id, stage, reviewer]))
    return bool(votes.get(1)) or votes.get(0, 0) < needed


def conflicts(conn: sqlite3.Connection, stage: str = SCREENING) -> list[dict[str, Any]]:
    """Records whose reviewers disagree at ``stage`` and that no lead has resolved yet."""
    resolved = {row[0] for row in conn.execute(
        "SELECT record_id FROM stage_votes WHERE stage = ? AND resolution IS NOT NULL",
        [stage])}
    rows = conn.execute(f"""
      SELECT c.record_id, r.title, c.reviewer, c.decision, c.reason, c.themes, c.summary
      FROM ({CURRENT}) c JOIN records r ON r.id = c.record_id
      WHERE c.stage = ? AND c.record_id IN (SELECT record_id FROM stage_votes
                                           WHERE stage = ? AND kinds > 1)
      ORDER BY c.record_id, c.reviewer""", [stage, stage]).fetchall()
    grouped: dict[int, dict[str, Any]] = {}
    for record_id, title, reviewer, decision, reason, theme_json, summary in rows:
        item = grouped.setdefault(record_id, {"record_id": record_id, "title": title,
                                              "votes": []})
        item["votes"].append({"reviewer": reviewer, "decision": decision, "reason": reason,
                              "themes": json_list(theme_json), "summary": summary})
    return [item for record_id, item in grouped.items() if record_id not in resolved
            and len({v["decision"] for v in item["votes"]}) > 1]


def reviewer_counts(conn: sqlite3.Connection, stage: str = SCREENING) -> list[dict[str, Any]]:
    """Per reviewer: current include / exclude / maybe counts at ``stage``."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(DECISIONS, 0))
    for reviewer, decision, count in conn.execute(
            "SELECT reviewer, decision, count(*) FROM current_decisions WHERE stage = ?"
            " GROUP BY reviewer, decision", [stage]):
        counts[reviewer][decision] = count
    return [{"reviewer": r, **c, "total": sum(c.values())} for r, c in sorted(counts.items())]


def kappas(conn: sqlite3.Connection, stage: str = SCREENING) -> list[dict[str, Any]]:
    """Cohen's kappa for every pair of reviewers over the records both decided at ``stage``."""
    votes = current_votes(conn, stage)
    reviewers = sorted({r for v in votes.values() for r in v})
    result = []
    for a, b in combinations(reviewers, 2):
        pairs = [(v[a], v[b]) for v in votes.values() if a in v and b in v]
        if pairs:
            agree = sum(x == y for x, y in pairs) / len(pairs)
            result.append({"a": a, "b": b, "overlap": len(pairs), "agreement": agree,
                           "kappa": cohen_kappa(pairs)})
    return result


def cohen_kappa(pairs: list[tuple[str, str]]) -> float:
    """(observed - expected agreement) / (1 - expected); 1.0 when both always agree on one value."""
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    labels = {x for pair in pairs for x in pair}
    expected = sum((sum(a == k for a, _ in pairs) / n) * (sum(b == k for _, b in pairs) / n)
                   for k in labels)
    if expected == 1:
        return 1.0
    return (observed - expected) / (1 - expected)




# --- skipped records and each user's language (migration m180) ------------------------------

def skipped_records(conn: sqlite3.Connection, reviewer: str, stage: str = "screening"
                    ) -> list[int]:
    """The records this reviewer skipped at ``stage``, first skipped first."""
    return [row[0] for row in conn.execute(
        "SELECT record_id FROM screening_skips WHERE reviewer = ? AND stage = ?"
        " ORDER BY skipped_at, record_id", [reviewer, stage])]


def skip_record(conn: sqlite3.Connection, reviewer: str, record_id: int,
                stage: str = "screening") -> None:
    """Send the record to the end of this reviewer's queue (skipping again moves it last)."""
    conn.execute("INSERT INTO screening_skips (reviewer, stage, record_id, skipped_at)"
                 " VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET skipped_at = excluded.skipped_at",
                 [reviewer, stage, record_id, now()])
    conn.commit()


def clear_skips(conn: sqlite3.Connection, reviewer: str, stage: str = "screening") -> None:
    """The rest of the queue is done: the skipped records come back, in queue order."""
    conn.execute("DELETE FROM screening_skips WHERE reviewer = ? AND stage = ?",
                 [reviewer, stage])
    conn.commit()


def user_language(conn: sqlite3.Connection, username: str) -> str | None:
    row = conn.execute("SELECT language FROM users WHERE username = ?", [username]).fetchone()
    return row[0] if row else None


def save_user_language(conn: sqlite3.Connection, username: str, language: str) -> None:
    conn.execute("UPDATE users SET language = ? WHERE username = ?", [language, username])
    conn.commit()
