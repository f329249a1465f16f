"""Crossref's REST API (``/works``): polite pool, limits, one page of a cursor, one DOI.

Limits as Crossref documents them (and announces in ``X-Rate-Limit-*`` headers, which the
client follows): the public pool allows 5 requests a second and one at a time, the polite
pool (``mailto=``, from ``EVIDENCE_MAILTO``) 10 a second and 3 at a time. A cursor is
forgotten after five idle minutes, so a resumed run does not reuse an older one.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from evidence.config import ServiceSettings
from evidence.harvest.cursors import CursorExpired, PageAnswer
from evidence.harvest.webapi import ApiError, PoliteClient

#: The fields a hit uses (``select=``): the answer stays small (no reference lists).
FIELDS = ("DOI", "title", "subtitle", "abstract", "author", "issued", "published",
          "published-print", "published-online", "created", "container-title",
          "short-container-title", "volume", "issue", "page", "article-number", "ISSN",
          "ISBN", "language", "type", "subject", "URL", "license")
MAX_ROWS = 1000
#: Seconds a saved cursor is trusted (Crossref forgets one after five idle minutes).
CURSOR_LIFETIME = 240.0


def client(services: ServiceSettings, **options: Any) -> PoliteClient:
    """A client in the polite pool when ``EVIDENCE_MAILTO`` is set, else the public one."""
    polite = bool(services.mailto)
    defaults = {"per_second": 10.0 if polite else 5.0, "concurrency": 3 if polite else 1}
    return PoliteClient(base_url=services.crossref_url, label="Crossref",
                        params={"mailto": services.mailto},
                        user_agent=f"evidence-tracker (mailto:{services.mailto})" if polite
                        else "evidence-tracker", **{**defaults, **options})


def filter_param(filters: dict[str, Any], start: str | None, end: str | None) -> str | None:
    """Crossref's ``filter=`` value: the search's filters (a list repeats the filter, which
    Crossref reads as "any of") and the slice's publication dates."""
    parts = []
    for name, value in filters.items():
        for one in value if isinstance(value, list) else [value]:
            parts.append(f"{name}:{one}")
    if start:
        parts.append(f"from-pub-date:{start}")
    if end:
        parts.append(f"until-pub-date:{end}")
    return ",".join(parts) or None


def works_page(api: PoliteClient, query: str, filters: dict[str, Any], rows: int,
               start: str | None, end: str | None, cursor: str) -> PageAnswer:
    """One page of ``/works`` for a query and date slice, from ``cursor``."""
    params = {"query.bibliographic": query or None, "filter": filter_param(filters, start, end),
              "rows": rows, "cursor": cursor, "select": ",".join(FIELDS)}
    try:
        message = _message(api.get("works", params))
    except ApiError as e:
        if e.status in (400, 404) and cursor != "*":
            raise CursorExpired(str(e)) from e
        raise
    return (list(message.get("items") or []), message.get("next-cursor"),
            message.get("total-results"))


def work(api: PoliteClient, doi: str) -> dict[str, Any] | None:
    """The work with this DOI, or None when Crossref does not know it."""
    try:
        return _message(api.get(f"works/{quote(doi, safe='/():;')}"))
    except ApiError as e:
        if e.status == 404:
            return None
        raise


def works_by_doi(api: PoliteClient, dois: list[str]) -> list[dict[str, Any]]:
    """The works Crossref knows among ``dois``: one ``filter=doi:A,doi:B`` request (Crossref
    reads a repeated filter as "any of"), then ``/works/{doi}`` for any it did not return
    (or for all, when the list request is refused)."""
    wanted = {d.lower(): d for d in dois}
    found: dict[str, dict[str, Any]] = {}
    if len(dois) > 1:
        params = {"filter": ",".join(f"doi:{d}" for d in dois), "rows": len(dois),
                  "select": ",".join(FIELDS)}
        try:
            items = _message(api.get("works", params)).get("items") or []
        except ApiError as e:
            if e.status is None or e.status >= 500:
                raise
            items = []
        found = {(i.get("DOI") or "").lower(): i for i in items
                 if (i.get("DOI") or "").lower() in wanted}
    for key, doi in wanted.items():
        if key not in found:
            one = work(api, doi)
            if one:
                found[key] = one
    return list(found.values())


def search(api: PoliteClient, text: str, rows: int = 5) -> list[dict[str, Any]]:
    """The best matches for a bibliographic reference (title, first author, year)."""
    params = {"query.bibliographic": text, "rows": rows, "select": ",".join(FIELDS)}
    return list(_message(api.get("works", params)).get("items") or [])


def _message(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or body.get("status") not in ("ok", None) or \
            not isinstance(body.get("message"), dict):
        raise ApiError(f"Crossref sent an answer that is not a works message: {str(body)[:200]}")
    return body["message"]
