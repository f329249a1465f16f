"""When to stop screening: the figures a screener needs, and the SAFE stopping heuristic.

Figures (title/abstract stage, all reviewers): records screened, inclusions found, the run of
consecutive exclusions at the end of the screening so far, and an estimate of the inclusions
still unscreened, "at the recent rate": the share of inclusions among the last
:data:`WINDOW` decisions times the records left. While relevance ranking works, the rate
falls as screening goes on, so this over-estimates: it is a conservative figure.

The rule (``screening.stopping.rule: safe``) is the SAFE procedure's stopping heuristic for
its active-learning phase (Boetje & van de Schoot 2024, Systematic Reviews 13:81,
doi:10.1186/s13643-024-02502-7): stop when (1) at least ``min_share`` of the records (10 %)
are screened, (2) at least twice the estimated number of inclusions are screened, and (3) the
last ``consecutive_exclusions`` (50) decisions were all exclusions. SAFE then asks for a check
with a different model before stopping for good; docs/ranking.md says how to do that here.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from typing import Any

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
    met: bool                     # every criterion met

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def stopping_figures(conn: sqlite3.Connection, *, rule: str = "none", min_share: float = 0.10,
                     run_needed: int = 50) -> StoppingFigures:
    """The stopping figures now, and whether the configured rule's criteria are met."""
    total = conn.execute("SELECT count(*) FROM records").fetchone()[0]
    screened, inclusions = conn.execute(
        "SELECT count(*), coalesce(sum(decision = 'include'), 0) FROM stage_status"
        " WHERE stage = 'screening' AND decision IS NOT NULL").fetchone()
    recent = [row[0] for row in conn.execute(
        "SELECT decision FROM decisions WHERE stage = 'screening' AND undoes IS NULL"
        " AND decision IS NOT NULL ORDER BY id DESC LIMIT ?", [MAX_RUN])]
    run = next((i for i, d in enumerate(recent) if d != "exclude"), len(recent))
    window = recent[:WINDOW]
    rate = sum(d != "exclude" for d in window) / len(window) if window else 0.0
    remaining = round(rate * max(total - screened, 0))
    criteria: dict[str, bool] = {}
    if rule == "safe":
        criteria = {
            "min_share": total > 0 and screened >= min_share * total,
            "twice_estimate": screened >= 2 * (inclusions + remaining),
            "run": run >= run_needed,
        }
    return StoppingFigures(total=total, screened=screened, inclusions=inclusions, run=run,
                           estimated_remaining=remaining, rule=rule, criteria=criteria,
                           met=bool(criteria) and all(criteria.values()))


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
_RULE_TEXT = {
    "en": ("Screening stopped by the SAFE stopping heuristic (Boetje & van de Schoot 2024): at"
           " least {share:.0%} of the records screened, at least twice the estimated number of"
           " inclusions screened, and {run} exclusions in a row; {left} records were not"
           " screened."),
    "nb": ("Gjennomgangen ble stoppet etter SAFE-regelen (Boetje & van de Schoot 2024): minst"
           " {share:.0%} av postene vurdert, minst dobbelt så mange som anslått antall"
           " inkluderte, og {run} ekskluderte på rad; {left} poster ble ikke vurdert."),
}


def describe_method(settings: Any, language: str = "en", not_screened: int = 0) -> str:
    """The screening order and stopping rule in one or two sentences, for the method page."""
    texts = _ORDER_TEXT.get(language, _ORDER_TEXT["en"])
    text = (texts["relevance"] if settings.order == "relevance"
            else texts["other"].format(order=settings.order))
    if settings.stopping_applied and settings.stopping_rule == "safe":
        text += " " + _RULE_TEXT.get(language, _RULE_TEXT["en"]).format(
            share=settings.stopping_min_share, run=settings.stopping_run, left=not_screened)
    return text
