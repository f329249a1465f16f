"""A stand-in OpenAlex API (``/works``) replaying recorded works.

The works are real ones recorded from OpenAlex (tests/fixtures/openalex/, from openalexPro's
fixtures); :meth:`OpenAlexState.generated` adds copies re-keyed with a new id and DOI, a
numbered title and a date inside a window. ``/works`` understands ``filter`` (``doi:a|b``,
``from_publication_date``, ``to_publication_date``, ``language``, ``title.search``; others are
recorded and ignored), ``per-page``, ``cursor`` (``*`` then ``meta.next_cursor``; as OpenAlex
does, the page after the last one comes back empty with ``next_cursor: null``), ``select``.
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

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "openalex"

__all__ = ["OpenAlexState", "recorded_works", "serve", "work_like"]


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def recorded_works() -> list[dict[str, Any]]:
    return (fixture("keypaper_page_1.json")["results"]
            + fixture("search_biodiversity_finance.json")["results"])


_RECORDED = recorded_works()


def work_like(n: int, day: dt.date, **fields: Any) -> dict[str, Any]:
    """Recorded work number ``n`` (cycled) re-keyed: id ``W9000000n``, DOI
    ``10.18261/sample.n``, title ``... (part n)``, published on ``day``."""
    work = copy.deepcopy(_RECORDED[n % len(_RECORDED)])
    work["id"] = f"https://openalex.org/W{9_000_000_000 + n}"
    work["doi"] = f"https://doi.org/10.18261/sample.{n}"
    work["ids"] = {"openalex": work["id"], "doi": work["doi"]}
    work["title"] = work["display_name"] = f"{work.get('title') or 'Untitled'} (part {n})"
    work["publication_date"], work["publication_year"] = day.isoformat(), day.year
    work.update(fields)
    return work


def _folded(text: str) -> set[str]:
    return set("".join(c if c.isalnum() else " " for c in text.lower()).split())


class OpenAlexState(ApiState):
    def __init__(self, works: list[dict[str, Any]] | None = None) -> None:
        super().__init__()
        self.works = works if works is not None else recorded_works()
        self.cursors: dict[str, int] = {}
        self.encoded = Encoded()

    @classmethod
    def generated(cls, n: int, start: dt.date = dt.date(2023, 10, 21),
                  end: dt.date = dt.date(2024, 10, 21)) -> OpenAlexState:
        days = (end - start).days + 1
        return cls([work_like(i, start + dt.timedelta(days=i * days // n)) for i in range(n)])

    def _matches(self, work: dict[str, Any], filters: list[tuple[str, str]]) -> bool:
        for key, value in filters:
            date = work.get("publication_date") or ""
            if key == "doi":
                continue  # answered from the index in route()
            elif key == "from_publication_date" and date < value:
                return False
            elif key == "to_publication_date" and date > value:
                return False
            elif key == "language" and work.get("language") not in value.split("|"):
                return False
            elif key == "title.search" and not _folded(value) <= self._title_words(work):
                return False
        return True

    def _doi_index(self) -> dict[str, dict[str, Any]]:
        if not hasattr(self, "_dois") or len(self._dois) != len(self.works):
            self._dois = {(w.get("doi") or "").lower().replace("https://doi.org/", ""): w
                          for w in self.works}
        return self._dois

    def _title_words(self, work: dict[str, Any]) -> set[str]:
        cache = self.__dict__.setdefault("_titles", {})
        key = (work.get("id"), work.get("title"))
        if key not in cache:
            cache[key] = _folded(work.get("title") or "")
        return cache[key]

    def route(self, path: str, params: dict[str, str]) -> Answer:
        if path != "/works":
            return 404, {}, {"error": "Not found", "message": f"{path} is not a route"}
        filters = [tuple(f.split(":", 1)) for f in params.get("filter", "").split(",") if f]
        works = self.works
        dois = [v for k, v in filters if k == "doi"]
        if dois:  # an index, as the real service has: a batch of 50 must not scan everything
            index = self._doi_index()
            works = [index[d] for d in dict.fromkeys(
                d.lower().replace("https://doi.org/", "") for d in dois[0].split("|"))
                if d in index]
        if works is self.works:
            found = self.matching(params.get("filter", ""), works,
                                  lambda w: self._matches(w, filters))
        else:
            found = [w for w in works if self._matches(w, filters)]
        size = int(params.get("per-page", params.get("per_page", 25)))
        next_cursor = None
        if "cursor" in params:
            items, next_cursor = paged(found, self.cursors, params["cursor"], size,
                                       lambda: "Ils" + uuid.uuid4().hex)
            if not items:
                next_cursor = None
        else:
            items = found[:size]
        meta = {"count": len(found), "db_response_time_ms": 12, "page": None if "cursor" in
                params else 1, "per_page": size, "next_cursor": next_cursor,
                "groups_count": None}
        select = params.get("select", "")
        return 200, {}, with_items({"meta": meta, "results": ITEMS, "group_by": []},
                                   [self.encoded(w, select) for w in items])
