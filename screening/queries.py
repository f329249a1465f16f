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
import math
import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from itertools import combinations
from typing import Any, TypeVar

from evidence.citation import editors_of
from evidence.db.decisions import (
    DECISIONS,
    FULL_TEXT,
    SCREENING,
    is_resolution,
    previous_stage,
    resolution_of,
    save_decision,
)
from evidence.db.outcomes import outcomes, screening_rule, theme_conflicts
from evidence.db.values import json_list, now
from evidence.screening import finding
from evidence.terms import fold

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
                  "oa_url", "original_title", "creators")

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
                 stage: str = SCREENING, begun_only: bool = False) -> tuple[int, int]:
    """(left, total): records still waiting for this reviewer at ``stage``, and all of them."""
    _, left, total = queue_state(conn, reviewer, needed=needed, stage=stage, pick=False,
                                 begun_only=begun_only)
    return left, total


def included_sql(stage: str) -> str:
    """Record ids whose outcome at ``stage`` is include: a lead's resolution, else enough
    agreeing votes (``:needed``), as ``record_status`` reads it."""
    return f"""SELECT record_id FROM stage_votes WHERE stage = '{stage}'
      AND (resolution = 'include' OR (resolution IS NULL AND kinds = 1
           AND decision = 'include' AND votes >= :needed))"""


def queue_state(conn: sqlite3.Connection, reviewer: str, *, needed: int = 1,
                order: str = "newest", skip: Iterable[int] = (), stage: str = SCREENING,
                pick: bool = True, ranked: list[int] | None = None,
                begun_only: bool = False) -> tuple[int | None, int, int]:
    """(next record id, left, total) for this reviewer at ``stage``, in one statement.

    ``begun_only`` (title/abstract after a lead stopped screening): only the records another
    reviewer has begun and that still wait for this reviewer's vote.

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
        first, counts = _first_stage_sql(order, needed, skipped, begun_only)
        if ranked and not begun_only:  # relevance: the best-ranked open record, else the order
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


def _first_stage_sql(order: str, needed: int, skipped: str,
                     begun_only: bool = False) -> tuple[str, str]:
    """(next record, "left, total") SQL for title/abstract, from ``screening_open``."""
    # one reviewer: an unvoted record is open, and the votes index serves the order directly
    votes = ("o.votes = 0" if needed == 1
             else f"o.votes < :needed AND NOT {_MINE.format(id='o.record_id')}")
    if begun_only:
        votes = (f"o.votes > 0 AND o.votes < :needed AND NOT {_MINE.format(id='o.record_id')}"
                 if needed > 1 else "0")
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
    if begun_only:
        counts = f"""(SELECT count(*) FROM screening_open o WHERE {votes}),
          (SELECT count(*) FROM records)"""
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
    """The record's fields with JSON lists decoded, its ``editors`` (from ``creators``; they
    name a work without authors), plus the searches and sources that found it."""
    row = conn.execute(f"SELECT {', '.join(RECORD_COLUMNS)} FROM records WHERE id = ?",
                       [record_id]).fetchone()
    if row is None:
        return None
    item = dict(zip(RECORD_COLUMNS, row, strict=True))
    for key in ("authors", "publication_types"):
        item[key] = json_list(item[key])
    item["editors"] = editors_of(item)
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
    """This reviewer's current decisions at ``stage``, newest first, filtered.

    ``q`` is looked for as written (folded: case and accents aside, so ``økonomi`` finds
    *Økonomi*) in the title, the title in the work's own language, the authors, the editors,
    and the reviewer's note and summary (``screening.finding.searched_text``). Each item
    carries the work's ``authors`` and ``editors`` (lists): its byline on the page."""
    where = ["d.decision IS NOT NULL"]
    params = {"me": reviewer, "limit": limit, "offset": offset, "stage": stage}
    if q:
        finding.register_functions(conn)
        text = finding.joined("r.title", "r.original_title", "r.authors", "d.note",
                              "d.summary")
        where.append(f"instr(evidence_searched_text({text}, r.creators), :q) > 0")
        params["q"] = fold(q)
    if decision:
        where.append("d.decision = :decision")
        params["decision"] = decision
    if reason:
        where.append("d.reason = :reason")
        params["reason"] = reason
    keys = ("id", "record_id", "title", "year", "decision", "reason", "themes", "note",
            "summary", "created_at", "original_title", "authors", "creators")
    rows = conn.execute(f"""
      SELECT d.id, d.record_id, r.title, r.year, d.decision, d.reason, d.themes, d.note,
             d.summary, d.created_at, r.original_title, r.authors, r.creators
      FROM decisions d JOIN records r ON r.id = d.record_id
      WHERE d.id IN (SELECT decision_id FROM current_decisions WHERE reviewer = :me
                     AND stage = :stage) AND {' AND '.join(where)}
      ORDER BY d.id DESC LIMIT :limit OFFSET :offset""", params).fetchall()
    items = [dict(zip(keys, row, strict=True)) for row in rows]
    for item in items:  # named as on the record page: authors, or editors (creators)
        item["themes"] = json_list(item["themes"])
        _name_people(item)
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
    """Records the lead must settle at ``stage``: reviewers who disagree on the decision
    (``kind`` "decision"), then includers who chose different themes or summaries ("themes",
    db/outcomes.py), at the last configured stage only (an earlier stage's themes are chosen
    again at the next one)."""
    resolved = {row[0] for row in conn.execute(
        "SELECT record_id FROM stage_votes WHERE stage = ? AND resolution IS NOT NULL",
        [stage])}
    rows = conn.execute(f"""
      SELECT c.record_id, r.title, c.reviewer, c.decision, c.reason, c.themes, c.summary
      FROM ({CURRENT}) c JOIN records r ON r.id = c.record_id
      WHERE c.stage = ? AND c.record_id IN (SELECT record_id FROM stage_votes
                                           WHERE stage = ? AND kinds > 1)
      ORDER BY c.record_id, c.id""", [stage, stage]).fetchall()
    grouped: dict[int, dict[str, Any]] = {}
    for record_id, title, reviewer, decision, reason, theme_json, summary in rows:
        item = grouped.setdefault(record_id, {"record_id": record_id, "title": title,
                                              "votes": [], "kind": "decision"})
        item["votes"].append({"reviewer": reviewer, "decision": decision, "reason": reason,
                              "themes": json_list(theme_json), "summary": summary})
    found = [item for record_id, item in grouped.items() if record_id not in resolved
             and len({v["decision"] for v in item["votes"]}) > 1]
    _, full_text = screening_rule(conn)
    if stage == (FULL_TEXT if full_text else SCREENING):
        by_themes = theme_conflicts(conn, stage)
        titles = dict(conn.execute(
            "SELECT id, title FROM records WHERE id IN (SELECT value FROM json_each(?))",
            [json.dumps(sorted(by_themes))]).fetchall())
        for record_id, outcome in sorted(by_themes.items()):
            found.append({"record_id": record_id, "title": titles.get(record_id), "kind": "themes",
                          "votes": [{"reviewer": v["reviewer"], "decision": v["decision"],
                                     "reason": None, "themes": v["themes"],
                                     "summary": v["summary"]} for v in outcome.votes]})
    return found


def describe_resolution(resolution: dict[str, Any], votes: list[dict[str, Any]]) -> dict:
    """What a lead's resolution took from the votes: ``{"decision", "from", "name"}`` where
    ``from`` is "one" (the themes of reviewer ``name``), "both", "own" or "" (not include)."""
    if resolution["decision"] != "include":
        agreed = [v["reviewer"] for v in votes if v["decision"] == resolution["decision"]]
        return {"decision": resolution["decision"], "from": "one" if len(agreed) == 1 else "",
                "name": agreed[0] if len(agreed) == 1 else ""}
    chosen = set(resolution["themes"])
    same = [v["reviewer"] for v in votes if v["decision"] == "include"
            and set(v["themes"]) == chosen]
    union = {s for v in votes if v["decision"] == "include" for s in v["themes"]}
    if len(same) == 1:
        return {"decision": "include", "from": "one", "name": same[0]}
    if same or (chosen == union and len(votes) > 1):
        return {"decision": "include", "from": "both", "name": ""}
    return {"decision": "include", "from": "own", "name": ""}


def _name_people(item: dict[str, Any]) -> None:
    """The people a list names the work by: ``authors`` decoded and ``editors`` taken from
    ``creators`` (which is dropped), as :func:`record` has them."""
    item["authors"] = json_list(item["authors"])
    item["editors"] = editors_of({"creators": item.pop("creators")})


def resolution_text(t, described: dict) -> str:
    """"Included, themes of bo" in the interface language (``t``) from
    :func:`describe_resolution` (screening_resolution_text.html says the same in a page)."""
    text = t(f"decided_{described['decision']}")
    if described["decision"] == "include":
        part = {"one": t("themes_of", name=described["name"]), "both": t("themes_both")}
        return f"{text}, {part.get(described['from'], t('themes_own'))}"
    return f"{text}, {t('as_name', name=described['name'])}" if described["from"] else text


def resolutions(conn: sqlite3.Connection, stage: str = SCREENING, *, limit: int = 20,
                lead: str | None = None) -> list[dict[str, Any]]:
    """The latest current resolutions at ``stage`` (by ``lead`` when given), newest first,
    each with the votes it settled, :func:`describe_resolution`, and the work's
    ``original_title``, ``authors`` and ``editors`` (lists): its byline, as in
    :func:`my_decisions`."""
    params: list[Any] = [resolution_of(stage)]
    who = ""
    if lead:
        who, params = " AND c.reviewer = ?", [*params, lead]
    rows = conn.execute(f"""
      SELECT d.id, d.record_id, r.title, d.reviewer, d.decision, d.reason, d.themes,
             d.summary, d.created_at, r.original_title, r.authors, r.creators
      FROM current_decisions c JOIN decisions d ON d.id = c.decision_id
      JOIN records r ON r.id = d.record_id
      WHERE c.stage = ?{who} ORDER BY c.decision_id DESC LIMIT ?""",
                        [*params, limit]).fetchall()
    keys = ("id", "record_id", "title", "reviewer", "decision", "reason", "themes", "summary",
            "created_at", "original_title", "authors", "creators")
    items = [dict(zip(keys, row, strict=True)) for row in rows]
    found = outcomes(conn, [i["record_id"] for i in items], stage=stage)
    for item in items:
        item["themes"] = json_list(item["themes"])
        _name_people(item)
        item["votes"] = found[item["record_id"]].votes if item["record_id"] in found else []
        item["described"] = describe_resolution(item, item["votes"])
    return items


def undo_resolution(conn: sqlite3.Connection, record_id: int, stage: str,
                    lead: str) -> bool:
    """Take back the current resolution of the record at reviewers' stage ``stage``: a row
    restoring what its lead held before (NULL: none), with ``undoes`` set, so the history
    keeps the resolution and its undo; ``lead`` is named in the note when another lead made
    it. False when there is nothing to undo."""
    row = conn.execute(
        "SELECT decision_id, reviewer FROM current_decisions WHERE record_id = ? AND stage = ?"
        " ORDER BY decision_id DESC LIMIT 1", [record_id, resolution_of(stage)]).fetchone()
    if row is None:
        return False
    last_id, resolver = row
    before = conn.execute(
        "SELECT decision, reason, note, summary, themes FROM decisions WHERE record_id = ?"
        " AND reviewer = ? AND stage = ? AND id < ? ORDER BY id DESC LIMIT 1",
        [record_id, resolver, resolution_of(stage), last_id]).fetchone() or (None,) * 5
    note = before[2] if resolver == lead else f"undone by {lead}"
    save_decision(conn, record_id, resolver, before[0], stage=resolution_of(stage),
                  reason=before[1], note=note, summary=before[3],
                  theme_slugs=json_list(before[4]), undoes=last_id)
    return True


def record_state(conn: sqlite3.Connection, record_id: int, stage: str,
                 needed: int) -> dict[str, Any]:
    """Where the record stands at reviewers' stage ``stage``: ``state`` is "open" (no vote),
    "waiting" (fewer votes than needed), "conflict", "theme_conflict", "agreed" or "resolved",
    with the final decision, themes and summary (db/outcomes.py) and who gave them."""
    outcome = outcomes(conn, [record_id], needed=needed, stage=stage).get(record_id)
    if outcome is None:
        return {"state": "open", "votes": [], "decision": None}
    votes, resolution = outcome.votes, outcome.resolution
    state = {"votes": votes, "themes": outcome.themes, "summary": outcome.summary,
             "resolution": resolution, "decision": None}
    kinds = {v["decision"] for v in votes}
    if resolution is not None:
        return {**state, "state": "resolved", "decision": resolution["decision"]}
    if len(kinds) > 1:
        return {**state, "state": "conflict"}
    if len(votes) < needed:
        return {**state, "state": "waiting"}
    _, full_text = screening_rule(conn)
    last = stage == (FULL_TEXT if full_text else SCREENING)  # themes are chosen again later
    return {**state, "state": "theme_conflict" if outcome.conflict and last else "agreed",
            "decision": votes[0]["decision"] if votes else None}


def history(conn: sqlite3.Connection, record_id: int) -> list[dict[str, Any]]:
    """Every row of the record's decision history, oldest first: votes, changes, undos and
    resolutions at every stage (for the lead's view of a record)."""
    keys = ("id", "reviewer", "stage", "decision", "reason", "note", "summary", "themes",
            "undoes", "origin", "created_at")
    items = [dict(zip(keys, row, strict=True)) for row in conn.execute(
        f"SELECT {', '.join(keys)} FROM decisions WHERE record_id = ? ORDER BY id",
        [record_id])]
    for item in items:
        item["themes"] = json_list(item["themes"])
        item["resolution"] = is_resolution(item["stage"])
    return items


def reviewer_counts(conn: sqlite3.Connection, stage: str = SCREENING) -> list[dict[str, Any]]:
    """Per reviewer: current include / exclude / maybe counts at ``stage``."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(DECISIONS, 0))
    for reviewer, decision, count in conn.execute(
            "SELECT reviewer, decision, count(*) FROM current_decisions WHERE stage = ?"
            " GROUP BY reviewer, decision", [stage]):
        counts[reviewer][decision] = count
    return [{"reviewer": r, **c, "total": sum(c.values())} for r, c in sorted(counts.items())]


#: Fewer records screened by both reviewers than this give no kappa ("not enough records"):
#: with one shared record kappa is 0 or undefined, and with a handful its interval spans
#: almost everything.
MIN_KAPPA_RECORDS = 10


def kappas(conn: sqlite3.Connection, stage: str = SCREENING) -> list[dict[str, Any]]:
    """Cohen's kappa for every pair of reviewers over the records both decided at ``stage``,
    with its 95 % confidence interval; ``kappa`` is None below :data:`MIN_KAPPA_RECORDS`."""
    votes = current_votes(conn, stage)
    reviewers = sorted({r for v in votes.values() for r in v})
    result = []
    for a, b in combinations(reviewers, 2):
        pairs = [(v[a], v[b]) for v in votes.values() if a in v and b in v]
        if pairs:
            agree = sum(x == y for x, y in pairs) / len(pairs)
            enough = len(pairs) >= MIN_KAPPA_RECORDS
            kappa, low, high = kappa_interval(pairs) if enough else (None, None, None)
            result.append({"a": a, "b": b, "overlap": len(pairs), "agreement": agree,
                           "kappa": kappa, "low": low, "high": high,
                           "minimum": MIN_KAPPA_RECORDS})
    return result


def cohen_kappa(pairs: list[tuple[str, str]]) -> float:
    """(observed - expected agreement) / (1 - expected); 1.0 when both always agree on one value."""
    return kappa_interval(pairs)[0]


def kappa_interval(pairs: list[tuple[str, str]]) -> tuple[float, float, float]:
    """(kappa, low, high): Cohen's kappa and its 95 % interval from the large-sample standard
    error sqrt(po (1 - po) / (n (1 - pe)^2)) (Cohen 1960), clipped to [-1, 1]."""
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    labels = {x for pair in pairs for x in pair}
    expected = sum((sum(a == k for a, _ in pairs) / n) * (sum(b == k for _, b in pairs) / n)
                   for k in labels)
    if expected == 1:
        return 1.0, 1.0, 1.0
    kappa = (observed - expected) / (1 - expected)
    error = math.sqrt(observed * (1 - observed) / (n * (1 - expected) ** 2))
    return kappa, max(-1.0, kappa - 1.96 * error), min(1.0, kappa + 1.96 * error)


def team_progress(conn: sqlite3.Connection, stage: str, needed: int) -> dict[str, Any]:
    """Where a team stands at ``stage``: records reaching it, not screened yet, one vote
    waiting for the next (dual screening), open conflicts (decisions and themes) and done;
    and per reviewer their votes, those waiting for the other reviewer and those in open
    conflicts."""
    if stage == SCREENING:
        reaching = conn.execute("SELECT count(*) FROM records").fetchone()[0]
    else:
        reaching = conn.execute(f"SELECT count(*) FROM ({included_sql(previous_stage(stage))})",
                                {"needed": needed}).fetchone()[0]
    started, waiting, conflicted, decided = conn.execute(
        """SELECT count(*),
             coalesce(sum(resolution IS NULL AND kinds = 1 AND votes < ?), 0),
             coalesce(sum(resolution IS NULL AND kinds > 1), 0),
             coalesce(sum(resolution IS NOT NULL OR (kinds = 1 AND votes >= ?)), 0)
           FROM stage_votes WHERE stage = ? AND (votes > 0 OR resolution IS NOT NULL)""",
        [needed, needed, stage]).fetchone()
    _, full_text = screening_rule(conn)
    last = stage == (FULL_TEXT if full_text else SCREENING)
    by_themes = theme_conflicts(conn, stage) if last else {}
    people: dict[str, dict[str, int]] = defaultdict(
        lambda: {"votes": 0, "waiting": 0, "conflicts": 0})
    for reviewer, votes, waits, conflicts_ in conn.execute(
            """SELECT c.reviewer, count(*),
                 coalesce(sum(v.resolution IS NULL AND v.kinds = 1 AND v.votes < ?), 0),
                 coalesce(sum(v.resolution IS NULL AND v.kinds > 1), 0)
               FROM current_decisions c JOIN stage_votes v ON v.stage = c.stage
                 AND v.record_id = c.record_id
               WHERE c.stage = ? GROUP BY c.reviewer""", [needed, stage]):
        people[reviewer].update(votes=votes, waiting=waits, conflicts=conflicts_)
    for outcome in by_themes.values():
        for vote in outcome.votes:
            people[vote["reviewer"]]["conflicts"] += 1
    return {"reaching": reaching, "not_started": max(reaching - started, 0),
            "one_vote": waiting if needed > 1 else 0,
            "conflicts": conflicted + len(by_themes), "theme_conflicts": len(by_themes),
            "done": decided - len(by_themes),
            "reviewers": [{"reviewer": r, **c} for r, c in sorted(people.items())]}


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
