"""A stand-in Crossref REST API (``/works``, ``/works/{doi}``) replaying recorded works.

The works are real ones recorded from Crossref (tests/fixtures/crossref/, from habanero's
cassettes); :meth:`CrossrefState.generated` adds copies re-keyed with a new DOI, a numbered
title and a date inside a window, for tests and the benchmark that need more. ``/works``
understands ``filter`` (``prefix``, ``from-pub-date``, ``until-pub-date``, ``doi``; others
are recorded and ignored), ``rows``, ``cursor`` (``*`` then the returned ``next-cursor``, which
Crossref keeps sending until a page comes back empty) and answers in Crossref's envelope.
Headers as recorded: public pool 5/s and one at a time, polite (``mailto``) 10/s and 3.
Faults and latency: tests/standins/jsonapi.py.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

from tests.standins.jsonapi import ITEMS, Answer, ApiState, Encoded, paged, serve, with_items

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "crossref"

__all__ = ["CrossrefState", "recorded_works", "serve", "work_like"]


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def recorded_works() -> list[dict[str, Any]]:
    """Every recorded work: the PeerJ page (JATS abstracts) and the member 98 cursor chain."""
    works = list(fixture("peerj_ecology.json")["message"]["items"])
    for n in range(1, 5):
        works += fixture(f"members98_cursor_{n}.json")["message"]["items"]
    return works


_RECORDED = recorded_works()


def work_like(n: int, day: dt.date, prefix: str = "10.18261", **fields: Any) -> dict[str, Any]:
    """Recorded work number ``n`` (cycled), re-keyed: DOI ``prefix/sample.n``, title
    ``... (part n)``, issued on ``day``; ``fields`` replace any others."""
    work = copy.deepcopy(_RECORDED[n % len(_RECORDED)])
    work["DOI"] = f"{prefix}/sample.{n}"
    work["URL"] = f"https://doi.org/{work['DOI']}"
    work["title"] = [f"{(work.get('title') or ['Untitled'])[0]} (part {n})"]
    for key in ("issued", "published", "published-online"):
        work[key] = {"date-parts": [[day.year, day.month, day.day]]}
    work.pop("published-print", None)
    work.update(fields)
    return work


def _date(work: dict[str, Any]) -> str:
    parts = work.get("issued", {}).get("date-parts", [[1900]])[0]
    parts = [*parts, 1, 1][:3]
    return dt.date(*[int(p) for p in parts]).isoformat()


class CrossrefState(ApiState):
    def __init__(self, works: list[dict[str, Any]] | None = None) -> None:
        super().__init__()
        self.works = works if works is not None else recorded_works()
        self.cursors: dict[str, int] = {}
        self.encoded = Encoded()

    @classmethod
    def generated(cls, n: int, start: dt.date = dt.date(2023, 10, 21),
                  end: dt.date = dt.date(2024, 10, 21)) -> CrossrefState:
        days = (end - start).days + 1
        return cls([work_like(i, start + dt.timedelta(days=i * days // n)) for i in range(n)])

    def _matches(self, work: dict[str, Any], filters: list[tuple[str, str]]) -> bool:
        dates = self.__dict__.setdefault("_dates", {})
        date = dates.get(id(work)) or dates.setdefault(id(work), _date(work))
        dois = [v.lower() for k, v in filters if k == "doi"]
        for key, value in filters:
            if key == "prefix" and not work["DOI"].startswith(value + "/"):
                return False
            if key == "from-pub-date" and date < value:
                return False
            if key == "until-pub-date" and date > value:
                return False
        return not dois or work["DOI"].lower() in dois

    def _title_words(self, work: dict[str, Any]) -> set[str]:
        cache = self.__dict__.setdefault("_titles", {})
        if work["DOI"] not in cache:
            cache[work["DOI"]] = set(" ".join(work.get("title") or []).lower().split())
        return cache[work["DOI"]]

    def route(self, path: str, params: dict[str, str]) -> Answer:
        pool = "polite" if params.get("mailto") else "public"
        headers = {"x-api-pool": pool, "x-rate-limit-interval": "1s",
                   "x-rate-limit-limit": "10" if pool == "polite" else "5",
                   "x-concurrency-limit": "3" if pool == "polite" else "1"}
        if path.startswith("/works/"):
            doi = path[len("/works/"):].lower()
            work = next((w for w in self.works if w["DOI"].lower() == doi), None)
            if work is None:
                return 404, headers, b"Resource not found."
            return 200, headers, {"status": "ok", "message-type": "work",
                                  "message-version": "1.0.0", "message": work}
        if path != "/works":
            return 404, headers, b"Resource not found."
        filters = [tuple(f.split(":", 1)) for f in params.get("filter", "").split(",") if f]
        works = self.works
        if any(k == "doi" for k, _ in filters):  # an index, as the real service has
            index = {w["DOI"].lower(): w for w in self.works}
            works = [index[v.lower()] for k, v in filters if k == "doi" and v.lower() in index]
        if works is self.works:
            found = self.matching(params.get("filter", ""), works,
                                  lambda w: self._matches(w, filters))
        else:
            found = [w for w in works if self._matches(w, filters)]
        query = params.get("query.bibliographic")
        rows = int(params.get("rows", 20))
        if "cursor" not in params:
            if query:  # a reference lookup: works sharing the most words with it first
                words = set(query.lower().split())
                found = sorted(found, key=lambda w: -len(words & self._title_words(w)))
            items, next_cursor = found[:rows], None
        elif params["cursor"] != "*" and params["cursor"] not in self.cursors:
            return 400, headers, {"status": "failed", "message-type": "validation-failure",
                                  "message": [{"type": "cursor-expired",
                                               "message": "Cursor has expired"}]}
        else:
            items, next_cursor = paged(found, self.cursors, params["cursor"], rows,
                                       lambda: "DnF1ZXJ5" + uuid.uuid4().hex)
        message = {"facets": {}, "total-results": len(found), "items": ITEMS,
                   "items-per-page": rows, "query": {"start-index": 0,
                                                     "search-terms": query}}
        if next_cursor:
            message["next-cursor"] = next_cursor
        return 200, headers, with_items({"status": "ok", "message-type": "work-list",
                                         "message-version": "1.0.0", "message": message},
                                        [self.encoded(w) for w in items])
