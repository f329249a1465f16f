"""What each record's final decision says beyond include/exclude: its themes and public
summary, and whether the reviewers who included it disagree on them (a *theme conflict*).

Every reviewer's themes and summary stay in ``decisions`` (one row per vote, append-only);
this module reads the current ones (``current_decisions``, kept by triggers) and derives:

- a lead's resolution wins: its themes and summary are the record's;
- else the includers' votes at the record's last stage with votes: the union of their themes
  (nothing a reviewer chose is dropped) and the first summary written;
- with two reviewers per record, includers who chose different themes or wrote different
  summaries make a theme conflict for the lead, until a resolution settles it. With one
  reviewer per record there is never a theme conflict.

``record_themes`` is rewritten from :func:`outcomes` on every decision (db/decisions.py), and
``evidence publish`` reads :func:`outcomes` directly, so the published themes are always the
final decision's.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from evidence.db.values import json_list

#: Reviewers' stages in order (db/decisions.py's STAGE_ORDER; repeated to avoid the cycle).
_STAGES = ("screening", "full_text")


def _resolution_of(stage: str) -> str:
    return "resolution" if stage == "screening" else f"{stage}_resolution"


@dataclass
class Outcome:
    """One record's final themes and summary, and whose votes they come from."""

    stage: str
    themes: list[str] = field(default_factory=list)
    summary: str | None = None
    #: Includers disagree on themes or summary and no lead has resolved it.
    conflict: bool = False
    #: The current votes at ``stage`` (reviewer, decision, themes, summary), first first.
    votes: list[dict[str, Any]] = field(default_factory=list)
    #: The lead's resolution at ``stage``, if any (same keys plus ``id``).
    resolution: dict[str, Any] | None = None
    #: The resolution includes, or (without one) some reviewer included at ``stage``.
    included: bool = False


def screening_rule(conn: sqlite3.Connection) -> tuple[int, bool]:
    """(reviewers per record, full-text stage on) as last stored from the configuration."""
    stored = dict(conn.execute(
        "SELECT key, value FROM sync_state WHERE key IN"
        " ('reviewers_per_record', 'screening_stages')").fetchall())
    needed = int(stored.get("reviewers_per_record") or 1)
    return needed, "full_text" in (stored.get("screening_stages") or "")


def outcomes(conn: sqlite3.Connection, record_ids: Iterable[int] | None = None, *,
             needed: int | None = None, full_text: bool | None = None,
             stage: str | None = None) -> dict[int, Outcome]:
    """The :class:`Outcome` of every record with a current decision (or of ``record_ids``).

    ``needed``/``full_text`` default to the stored rule; ``stage`` asks for the outcome at one
    reviewers' stage instead of the record's last one.
    """
    stored_needed, stored_full_text = screening_rule(conn)
    needed = stored_needed if needed is None else needed
    full_text = stored_full_text if full_text is None else full_text
    sql = ("SELECT c.record_id, c.stage, c.reviewer, c.decision, d.themes, d.summary, d.id,"
           " d.created_at FROM current_decisions c JOIN decisions d ON d.id = c.decision_id")
    params: list[Any] = []
    if record_ids is not None:
        ids = sorted({int(i) for i in record_ids})
        if not ids:
            return {}
        sql += " WHERE c.record_id IN (SELECT value FROM json_each(?))"
        params.append(json.dumps(ids))
    rows: dict[int, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for record_id, stage_, reviewer, decision, themes, summary, row_id, at in conn.execute(
            sql + " ORDER BY c.decision_id", params):
        rows[record_id][stage_].append({
            "id": row_id, "reviewer": reviewer, "decision": decision, "created_at": at,
            "themes": json_list(themes), "summary": (summary or "").strip() or None})
    stages = _STAGES if full_text else _STAGES[:1]
    if stage is not None:
        stages = (stage,)
    return {record_id: _outcome(by_stage, stages, needed)
            for record_id, by_stage in rows.items()}


def _outcome(by_stage: dict[str, list[dict]], stages: tuple[str, ...], needed: int) -> Outcome:
    found: Outcome | None = None
    for stage in reversed(stages):
        votes, resolutions = by_stage.get(stage, []), by_stage.get(_resolution_of(stage), [])
        if not votes and not resolutions:
            continue
        if found is None:
            found = _at_stage(stage, votes, resolutions[-1] if resolutions else None, needed)
            if found.summary or not found.included:
                return found
        else:  # a later stage included without a summary: the earlier stage's one stands
            earlier = _at_stage(stage, votes, resolutions[-1] if resolutions else None, needed)
            found.summary = earlier.summary
            return found
    return found or Outcome(stage=stages[0])


def _at_stage(stage: str, votes: list[dict], resolution: dict | None, needed: int) -> Outcome:
    outcome = Outcome(stage=stage, votes=votes, resolution=resolution)
    if resolution is not None:
        if resolution["decision"] == "include":
            outcome.included = True
            outcome.themes, outcome.summary = resolution["themes"], resolution["summary"]
        return outcome
    includers = [v for v in votes if v["decision"] == "include"]
    outcome.included = bool(includers)
    outcome.themes = list(dict.fromkeys(s for v in includers for s in v["themes"]))
    summaries = list(dict.fromkeys(v["summary"] for v in includers if v["summary"]))
    outcome.summary = summaries[0] if summaries else None
    outcome.conflict = (needed >= 2 and len(votes) >= needed and len(includers) == len(votes)
                        and (len({frozenset(v["themes"]) for v in includers}) > 1
                             or len(summaries) > 1))
    return outcome


def theme_conflicts(conn: sqlite3.Connection, stage: str | None = None) -> dict[int, Outcome]:
    """The unresolved theme conflicts at ``stage`` (None: the last configured stage, where the
    published themes are chosen; an earlier stage's themes are chosen again at the next).

    Only records every reviewer included can have one, so ``stage_votes`` narrows the search
    to those before any history is read.
    """
    needed, full_text = screening_rule(conn)
    if needed < 2:
        return {}
    stage = stage or (_STAGES[1] if full_text else _STAGES[0])
    candidates = [row[0] for row in conn.execute(
        "SELECT record_id FROM stage_votes WHERE stage = ? AND resolution IS NULL"
        " AND kinds = 1 AND decision = 'include' AND votes >= ?", [stage, needed])]
    found = outcomes(conn, candidates, needed=needed, full_text=full_text, stage=stage)
    return {rid: o for rid, o in found.items() if o.conflict}


def refresh_record_themes(conn: sqlite3.Connection, record_id: int, reviewer: str,
                          created_at: str) -> None:
    """Set ``record_themes`` of one record to its outcome's themes (in the caller's
    transaction); ``reviewer`` is kept on the links that are new."""
    outcome = outcomes(conn, [record_id]).get(record_id)
    slugs = outcome.themes if outcome else []
    keep = conn.execute(
        "SELECT t.slug, rt.reviewer, rt.created_at FROM record_themes rt"
        " JOIN themes t ON t.id = rt.theme_id WHERE rt.record_id = ?", [record_id]).fetchall()
    before = {slug: (who, at) for slug, who, at in keep}
    if set(before) == set(slugs):
        return
    conn.execute("DELETE FROM record_themes WHERE record_id = ?", [record_id])
    conn.executemany(
        "INSERT OR IGNORE INTO record_themes (record_id, theme_id, reviewer, created_at)"
        " SELECT ?, id, ?, ? FROM themes WHERE slug = ?",
        [(record_id, *before.get(slug, (reviewer, created_at)), slug) for slug in slugs])
