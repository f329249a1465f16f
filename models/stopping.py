"""When to stop screening: the figures a screener needs, and the SAFE stopping heuristic.

Figures (title/abstract stage, all reviewers, the records screened here: not those an
imported evidence table decided): records screened, inclusions found, the run of
consecutive exclusions at the end of the screening so far, and an estimate of the inclusions
still unscreened, "at the recent rate": the share of inclusions among the last
:data:`WINDOW` decisions times the records left. While relevance ranking works, the rate
falls as screening goes on, so this over-estimates: it is a conservative figure.

The rule (``screening.stopping.rule: safe``) is the SAFE procedure's stopping heuristic for
its active-learning phase (Boetje & van de Schoot 2024, Systematic Reviews 13:81,
doi:10.1186/s13643-024-02502-7): stop when (1) at least ``min_share`` of the records (10 %)
are screened, (2) at least twice the estimated number of inclusions are screened, and (3) the
last ``consecutive_exclusions`` (50) decisions were all exclusions. SAFE then asks for a check
with a different model before stopping for good: with relevance order the app does it
(models/safe.py keeps where it began, models/relevance.py switches the model), and the
rule is met once that check has its own run of ``consecutive_exclusions``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from evidence.models import safe

#: Recent decisions the rate of inclusions (and so the estimate) is taken from.
WINDOW = 100
#: The longest run of exclusions read back (a run longer than this shows as this many).
MAX_RUN = 5000


@dataclass(frozen=True)
class StoppingFigures:
    total: int
    screened: int
    inclusions: int
    run: int                      # consecutive exclusions at the end
    estimated_remaining: int      # inclusions still unscreened, at the recent rate
    rule: str                     # "none" or "safe"
    criteria: dict[str, bool]     # the rule's criteria, each met or not
    met: bool                     # every criterion of the heuristic met
    #: SAFE's phase (rule ``safe``): "active_learning", "checking" (a second model ranks the
    #: queue since the heuristic was first met) or "met" (the check's run reached too); ""
    #: without a rule.
    phase: str = ""
    check_run: int = 0            # exclusions in a row since the check began
    check_needed: int = 0
    #: Screening stopped in the app (models.safe.stop_screening): when, by whom, figures.
    stopped: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def estimate_remaining(recent: Sequence[str], left: int) -> int:
    """Inclusions still unscreened "at the recent rate": the share of non-exclusions among
    the latest :data:`WINDOW` of ``recent`` (newest first) times the ``left`` records."""
    window = list(recent[:WINDOW])
    rate = sum(d != "exclude" for d in window) / len(window) if window else 0.0
    return round(rate * max(left, 0))


def leading_exclusions(recent: Sequence[str]) -> int:
    """The run of exclusions at the start of ``recent`` (newest first)."""
    return next((i for i, d in enumerate(recent) if d != "exclude"), len(recent))


def safe_criteria(*, total: int, screened: int, inclusions: int, run: int, remaining: int,
                  min_share: float, run_needed: int) -> dict[str, bool]:
    """SAFE's stopping heuristic for the active-learning phase, criterion by criterion.
    Plain numbers in, so the app, ``evidence status`` and bench/safe_bench.py share it."""
    return {
        "min_share": total > 0 and screened >= min_share * total,
        "twice_estimate": screened >= 2 * (inclusions + remaining),
        "run": run >= run_needed,
    }


#: Records decided before this screening: an earlier year's evidence table read in
#: (harvest/files/evidence_table.py, origin ``import``). Their decisions train the ranking, but
#: counted here they would meet SAFE's minimum share and start a run of exclusions before a
#: single record of this year was screened. Undone decisions are left out of the run too.
_IMPORTED = ("SELECT record_id FROM decisions WHERE origin = 'import'"
             " AND stage = 'screening'")


def stopping_figures(conn: sqlite3.Connection, *, rule: str = "none", min_share: float = 0.10,
                     run_needed: int = 50) -> StoppingFigures:
    """The stopping figures now, whether the configured rule's criteria are met, and (rule
    ``safe``) SAFE's phase, read from the start of the check stored by :mod:`models.safe`."""
    # a count of all records is instant, a count of some is not: subtract the imported ones
    total = conn.execute(f"SELECT (SELECT count(*) FROM records)"
                         f" - (SELECT count(DISTINCT record_id) FROM ({_IMPORTED}))"
                         ).fetchone()[0]
    screened, inclusions = conn.execute(
        "SELECT count(*), coalesce(sum(decision = 'include'), 0) FROM stage_status"
        f" WHERE stage = 'screening' AND decision IS NOT NULL AND record_id NOT IN ({_IMPORTED})"
        ).fetchone()
    rows = conn.execute(
        "SELECT id, decision FROM decisions WHERE stage = 'screening' AND undoes IS NULL"
        " AND decision IS NOT NULL AND origin IS NOT 'import'"
        " AND id NOT IN (SELECT undoes FROM decisions WHERE undoes IS NOT NULL)"
        " ORDER BY id DESC LIMIT ?", [MAX_RUN]).fetchall()
    recent = [d for _, d in rows]
    run = leading_exclusions(recent)
    remaining = estimate_remaining(recent, total - screened)
    criteria: dict[str, bool] = {}
    phase, check_run, stop = "", 0, safe.current_stop(conn)
    if rule == "safe":
        criteria = safe_criteria(total=total, screened=screened, inclusions=inclusions,
                                 run=run, remaining=remaining, min_share=min_share,
                                 run_needed=run_needed)
        start = safe.check_start(conn)
        if start is None:
            phase = "active_learning"
        else:  # exclusions in a row since the check began (none of the first model's count)
            check_run = leading_exclusions([d for i, d in rows if i > start["decision_id"]])
            phase = "met" if check_run >= run_needed else "checking"
    return StoppingFigures(total=total, screened=screened, inclusions=inclusions, run=run,
                           estimated_remaining=remaining, rule=rule, criteria=criteria,
                           met=bool(criteria) and all(criteria.values()), phase=phase,
                           check_run=check_run, check_needed=run_needed if phase else 0,
                           stopped=stop)


_ORDER_TEXT = {
    "en": {"relevance": "Records were screened in order of predicted relevance (active learning:"
                        " TF-IDF of word 1-2-grams and a linear SVM, retrained as decisions"
                        " were made, as in ASReview LAB's default).",
           "other": "Records were screened in a fixed order ({order})."},
    "nb": {"relevance": "Postene ble vurdert i rekkefølge etter forventet relevans (aktiv læring:"
                        " TF-IDF av ord og ordpar og en lineær SVM, trent på nytt etter hvert"
                        " som beslutningene ble tatt, som standardmodellen i ASReview LAB).",
           "other": "Postene ble vurdert i fast rekkefølge ({order})."},
}
_CHECK_TEXT = {
    "en": (" Once the SAFE stopping heuristic was met, the remaining records were ranked by a"
           " second, different model (logistic regression on character 4-grams) to check for"
           " missed inclusions."),
    "nb": (" Da SAFE-kriteriene var nådd, ble de gjenstående postene rangert med en annen"
           " modell (logistisk regresjon på tegn-4-gram) for å fange opp inkluderte som var"
           " oversett."),
}
_RULE_TEXT = {
    "en": ("Screening stopped by the SAFE stopping heuristic (Boetje & van de Schoot 2024): at"
           " least {share:.0%} of the records screened, at least twice the estimated number of"
           " inclusions screened, and {run} exclusions in a row; {left} records were not"
           " screened."),
    "nb": ("Gjennomgangen ble stoppet etter SAFE-regelen (Boetje & van de Schoot 2024): minst"
           " {share:.0%} av postene vurdert, minst dobbelt så mange som anslått antall"
           " inkluderte, og {run} ekskluderte på rad; {left} poster ble ikke vurdert."),
}
_CHECKED_RULE_TEXT = {
    "en": (" The check with the second model ended after {run} exclusions in a row."),
    "nb": (" Kontrollen med den andre modellen ble avsluttet etter {run} ekskluderte på rad."),
}
_EARLY_TEXT = {
    "en": ("Screening was stopped before the stopping rule was met; {left} records were not"
           " screened."),
    "nb": ("Gjennomgangen ble stoppet før stoppregelen var oppfylt; {left} poster ble ikke"
           " vurdert."),
}


#: The fixed screening orders (``screening.order``) in words, for the method page.
_ORDER_WORDS = {
    "en": {"newest": "newest first", "oldest": "oldest first", "search": "search by search",
           "random": "random order"},
    "nb": {"newest": "nyeste først", "oldest": "eldste først", "search": "søk for søk",
           "random": "tilfeldig rekkefølge"},
}


def describe_method(settings: Any, language: str = "en", not_screened: int = 0, *,
                    stop: dict[str, Any] | None = None, checked: bool = False) -> str:
    """The screening order and stopping rule in one or two sentences, for the method page.

    Stopped means ``screening.stopping.stopped: true`` or a lead's stop in the app
    (``stop``, models/safe.py); a stop before SAFE's rule was met is said to be early.
    ``checked``: SAFE's check with a second model took place."""
    lang = language if language in _ORDER_TEXT else "en"
    texts = _ORDER_TEXT[lang]
    text = (texts["relevance"] if settings.order == "relevance"
            else texts["other"].format(
                order=_ORDER_WORDS[lang].get(settings.order, settings.order)))
    if checked and settings.order == "relevance" and settings.stopping_rule == "safe":
        text += _CHECK_TEXT[lang]
    if not (settings.stopping_applied or stop):
        return text
    rule_met = settings.stopping_applied or (stop or {}).get("figures", {}).get("phase") == "met"
    if settings.stopping_rule == "safe" and rule_met:
        text += " " + _RULE_TEXT[lang].format(
            share=settings.stopping_min_share, run=settings.stopping_run, left=not_screened)
        if checked:
            text += _CHECKED_RULE_TEXT[lang].format(run=settings.stopping_run)
    else:
        text += " " + _EARLY_TEXT[lang].format(left=not_screened)
    return text
