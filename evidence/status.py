"""Counts for ``evidence status``: per search, per source, per run, and PRISMA totals."""

from __future__ import annotations

from typing import Any

import sqlite_utils

from evidence.config import Config, ScreeningSettings
from evidence.db.config_sync import save_screening_rule
from evidence.db.outcomes import theme_conflicts
from evidence.db.stages import stage_counts
from evidence.db.values import LOOKUP_SEARCHES

_PER_SEARCH = """
SELECT s.name AS search, s.source,
  (SELECT count(*) FROM hits h WHERE h.search_id = s.id AND h.deleted = 0) AS hits,
  (SELECT count(DISTINCT h.record_id) FROM hits h WHERE h.search_id = s.id AND h.deleted = 0)
    AS records,
  (SELECT count(DISTINCT h.record_id) FROM hits h JOIN stage_status ss
     ON ss.record_id = h.record_id AND ss.stage = 'screening' WHERE h.search_id = s.id
     AND h.deleted = 0 AND ss.decision IS NOT NULL) AS screened,
  (SELECT count(DISTINCT h.record_id) FROM hits h JOIN record_status rs
     ON rs.record_id = h.record_id WHERE h.search_id = s.id AND h.deleted = 0
     AND rs.decision = 'include') AS included,
  s.last_run_at
FROM searches s ORDER BY s.name
"""

_PER_SOURCE = """
SELECT h.source, count(*) AS hits, count(DISTINCT h.record_id) AS records,
  count(DISTINCT CASE WHEN ss.decision IS NOT NULL THEN h.record_id END) AS screened,
  count(DISTINCT CASE WHEN rs.decision = 'include' THEN h.record_id END) AS included
FROM hits h LEFT JOIN record_status rs ON rs.record_id = h.record_id
LEFT JOIN stage_status ss ON ss.record_id = h.record_id AND ss.stage = 'screening'
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

#: "screened" is the title/abstract count (the same as the stage line's); included, excluded
#: and maybe are final, over every configured stage; records included at title/abstract and
#: still waiting for their full-text decision are ``awaiting_full_text``, so the screened
#: add up: included + excluded + maybe + awaiting full text.
_TOTALS = """
SELECT
  (SELECT count(*) FROM hits WHERE deleted = 0 AND search_id NOT IN ({lookups}))
    AS identified,
  (SELECT count(*) FROM records WHERE id IN (SELECT record_id FROM hits WHERE deleted = 0))
    AS records,
  (SELECT count(*) FROM stage_status WHERE stage = 'screening' AND decision IS NOT NULL)
    AS screened,
  (SELECT count(*) FROM record_status WHERE decision = 'include') AS included,
  (SELECT count(*) FROM record_status WHERE decision = 'exclude') AS excluded,
  (SELECT count(*) FROM record_status WHERE decision = 'maybe') AS maybe,
  (SELECT count(*) FROM record_status WHERE stage = 'full_text' AND decision IS NULL)
    AS awaiting_full_text,
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
    found = next(db.query(_TOTALS.format(lookups=LOOKUP_SEARCHES)))
    stages = stage_counts(db.conn)
    totals = {"identified": found["identified"],
              "duplicates_removed": found["identified"] - found["records"],
              "records": found["records"], "screened": found["screened"],
              "unscreened": found["records"] - found["screened"],
              **{k: found[k] for k in ("included", "excluded", "maybe")}}
    if "full_text" in stages["stages"]:
        totals["awaiting_full_text"] = found["awaiting_full_text"]
    totals["conflicts"] = found["conflicts"]
    # includers who chose different themes or summaries, not resolved by a lead (db/outcomes.py)
    totals["theme_conflicts"] = len(theme_conflicts(db.conn))
    return {
        "rule": rule,
        "totals": totals,
        "stages": stages,
        "searches": list(db.query(_PER_SEARCH)),
        "sources": list(db.query(_PER_SOURCE)),
        "runs": list(db.query(_PER_RUN)),
        "stopping": _stopping(db, config),
    }


def _stopping(db: sqlite_utils.Database, config: Config | None) -> dict[str, Any]:
    """The stopping figures (models/stopping.py) with the configured rule, if any; SAFE's
    check is started here too when the heuristic is met (stored once, models/safe.py),
    so the command and the app always name the same phase."""
    from evidence.models import safe
    from evidence.models.stopping import stopping_figures

    settings = config.screening if config is not None else ScreeningSettings()

    def figures() -> dict[str, Any]:
        return stopping_figures(db.conn, rule=settings.stopping_rule,
                                min_share=settings.stopping_min_share,
                                run_needed=settings.stopping_run).as_dict()

    current = figures()
    if safe.start_check_if_met(db.conn, current, settings.order):
        current = figures()
    current["stopped_in_config"] = settings.stopping_applied
    current["min_share"], current["run_needed"] = (settings.stopping_min_share,
                                                   settings.stopping_run)
    return current


#: SAFE's criteria as a screener reads them (models/stopping.py ``safe_criteria``).
CRITERIA = {
    "min_share": "at least {min_share:.0%} of the records screened",
    "twice_estimate": "at least twice as many screened as the inclusions found and estimated",
    "run": "{run_needed} exclusions in a row",
}

_PHASES = {
    "active_learning": "SAFE: active learning; not met yet: {unmet}",
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
        values = {"min_share": 0.10, "run_needed": 50, **stopping}
        unmet = "; ".join(CRITERIA.get(k, k).format(**values)
                          for k, ok in stopping["criteria"].items() if not ok)
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
    "title_abstract": ("Title/abstract", {"records": "records", "screened": "screened",
                                          "awaiting": "awaiting (maybe included)"}),
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
