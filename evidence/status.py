"""Counts for ``evidence status``: per search, per source, per run, and PRISMA totals."""

from __future__ import annotations

from typing import Any

import sqlite_utils

from evidence.config import Config, ScreeningSettings
from evidence.db.config_sync import save_screening_rule
from evidence.db.stages import stage_counts

_PER_SEARCH = """
SELECT s.name AS search, s.source,
  (SELECT count(*) FROM hits h WHERE h.search_id = s.id AND h.deleted = 0) AS hits,
  (SELECT count(DISTINCT h.record_id) FROM hits h WHERE h.search_id = s.id AND h.deleted = 0)
    AS records,
  (SELECT count(DISTINCT h.record_id) FROM hits h JOIN record_status rs
     ON rs.record_id = h.record_id WHERE h.search_id = s.id AND h.deleted = 0
     AND rs.decision IS NOT NULL) AS screened,
  (SELECT count(DISTINCT h.record_id) FROM hits h JOIN record_status rs
     ON rs.record_id = h.record_id WHERE h.search_id = s.id AND h.deleted = 0
     AND rs.decision = 'include') AS included,
  s.last_run_at
FROM searches s ORDER BY s.name
"""

_PER_SOURCE = """
SELECT h.source, count(*) AS hits, count(DISTINCT h.record_id) AS records,
  count(DISTINCT CASE WHEN rs.decision IS NOT NULL THEN h.record_id END) AS screened,
  count(DISTINCT CASE WHEN rs.decision = 'include' THEN h.record_id END) AS included
FROM hits h LEFT JOIN record_status rs ON rs.record_id = h.record_id
WHERE h.deleted = 0 GROUP BY h.source ORDER BY h.source
"""

_PER_RUN = """
SELECT r.id AS run, s.name AS search, r.source, r.status, r.started_at, r.finished_at,
  r.reported_count AS reported, r.hit_count AS hits, r.new_hit_count AS new_hits,
  (SELECT count(DISTINCT h.record_id) FROM hits h WHERE h.run_id = r.id) AS records,
  (SELECT count(DISTINCT h.record_id) FROM hits h JOIN record_status rs
     ON rs.record_id = h.record_id WHERE h.run_id = r.id AND rs.decision IS NOT NULL
     AND rs.decided_at < r.started_at) AS already_screened
FROM runs r JOIN searches s ON s.id = r.search_id ORDER BY r.id
"""

_TOTALS = """
SELECT
  (SELECT count(*) FROM hits WHERE deleted = 0) AS identified,
  (SELECT count(*) FROM records WHERE id IN (SELECT record_id FROM hits WHERE deleted = 0))
    AS records,
  (SELECT count(*) FROM record_status WHERE decision IS NOT NULL) AS screened,
  (SELECT count(*) FROM record_status WHERE decision = 'include') AS included,
  (SELECT count(*) FROM record_status WHERE decision = 'exclude') AS excluded,
  (SELECT count(*) FROM record_status WHERE decision = 'maybe') AS maybe,
  (SELECT count(*) FROM record_status WHERE conflict = 1) AS conflicts
"""


def collect_status(db: sqlite_utils.Database, config: Config | None = None) -> dict[str, Any]:
    """Every count ``evidence status`` shows, as plain data (also its ``--json`` output).

    With a configuration, its ``screening.reviewers_per_record`` is stored first, so the
    counts follow the file as it is now; without one, the rule last stored is used and named.
    """
    if config is not None:
        save_screening_rule(db, config.screening.reviewers_per_record, config.screening.stages)
        rule = {"reviewers_per_record": config.screening.reviewers_per_record,
                "text": config.screening.rule,
                "from": f"screening.reviewers_per_record in {config.path}"}
    else:
        stored = db.execute("SELECT value FROM sync_state WHERE key = 'reviewers_per_record'"
                            ).fetchone()
        needed = int(stored[0]) if stored else 1
        rule = {"reviewers_per_record": needed,
                "text": ScreeningSettings(reviewers_per_record=needed).rule,
                "from": "no configuration file: the rule stored by the last command"}
    totals = next(db.query(_TOTALS))
    totals["duplicates_removed"] = totals["identified"] - totals["records"]
    totals["unscreened"] = totals["records"] - totals["screened"]
    return {
        "rule": rule,
        "totals": totals,
        "stages": stage_counts(db.conn),
        "searches": list(db.query(_PER_SEARCH)),
        "sources": list(db.query(_PER_SOURCE)),
        "runs": list(db.query(_PER_RUN)),
        "stopping": _stopping(db, config),
    }


def _stopping(db: sqlite_utils.Database, config: Config | None) -> dict[str, Any]:
    """The stopping figures (screening/stopping.py) with the configured rule, if any; SAFE's
    check is started here too when the heuristic is met (stored once, screening/safe.py),
    so the command and the app always name the same phase."""
    from evidence.screening import safe
    from evidence.screening.stopping import stopping_figures

    settings = config.screening if config is not None else ScreeningSettings()

    def figures() -> dict[str, Any]:
        return stopping_figures(db.conn, rule=settings.stopping_rule,
                                min_share=settings.stopping_min_share,
                                run_needed=settings.stopping_run).as_dict()

    current = figures()
    if safe.start_check_if_met(db.conn, current, settings.order):
        current = figures()
    current["stopped_in_config"] = settings.stopping_applied
    return current


_PHASES = {
    "active_learning": "SAFE: active learning; not met yet ({unmet})",
    "checking": ("SAFE: checking with a second model: {check_run} of {check_needed}"
                 " exclusions in a row"),
    "met": "SAFE: rule met: you may stop",
}


def format_stopping(stopping: dict[str, Any]) -> str:
    """One line for a screener deciding when to stop, SAFE's phase, and any stop."""
    line = (f"{stopping['screened']} of {stopping['total']} screened | "
            f"{stopping['inclusions']} inclusions found | {stopping['run']} exclusions in a row"
            f" | about {stopping['estimated_remaining']} inclusions left (estimate)")
    if stopping["rule"] == "safe":
        unmet = ", ".join(k for k, ok in stopping["criteria"].items() if not ok)
        if stopping["phase"] == "active_learning" and stopping["met"]:
            line += "\nSAFE: criteria met; check with a second model before stopping"
        else:
            line += "\n" + _PHASES[stopping["phase"]].format(unmet=unmet, **stopping)
    stop = stopping.get("stopped")
    if stop:
        line += (f"\nScreening stopped {stop['at'][:16].replace('T', ' ')} by {stop['actor']}"
                 f" ({stop['figures'].get('screened')} of {stop['figures'].get('total')}"
                 " screened); publish counts the rest as not screened: stopping rule")
    elif stopping.get("stopped_in_config"):
        line += "\nScreening stopped (screening.stopping.stopped in the configuration)"
    return line


def format_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A plain aligned text table (no colour, so it pastes into a report)."""
    if not rows:
        return "(none)"
    cells = [[("" if row[c] is None else str(row[c])) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


#: Labels of the per-stage counts, in PRISMA 2020's words.
STAGE_LABELS = {
    "title_abstract": ("Title/abstract", {"records": "records", "screened": "screened"}),
    "full_text": ("Full text", {"sought": "reports sought", "not_retrieved": "not retrieved",
                                "assessed": "assessed for eligibility"}),
}


def format_stages(stages: dict[str, Any]) -> str:
    """One line of counts per screening stage, then its exclusion reasons indented."""
    lines = []
    for stage in stages["stages"]:
        title, labels = STAGE_LABELS[stage]
        counts = stages[stage]
        lines.append(f"{title}: " + " | ".join(
            f"{labels.get(k, k.replace('_', ' '))}: {v}" for k, v in counts.items()
            if k != "reasons"))
        lines += [f"  excluded, {reason or '(no reason)'}: {n}" for reason, n in counts["reasons"]]
    return "\n".join(lines)
