"""OpenAlex's API (``/works``): polite pool, key, limits, one page of a cursor, DOIs in batches.

OpenAlex documents 10 requests a second (and a daily budget); ``mailto=`` (from
``EVIDENCE_MAILTO``) puts requests in the polite pool, ``api_key=`` (``OPENALEX_API_KEY``)
raises the budget. A cursor is a position in a sorted list, not a server session, so a
resumed run reuses it. ``select=`` keeps answers to the fields a hit uses.
"""

from __future__ import annotations

from typing import Any

from evidence.config import ServiceSettings
from evidence.harvest.cursors import PageAnswer
from evidence.harvest.webapi import PoliteClient

FIELDS = ("id", "doi", "title", "display_name", "publication_year", "publication_date", "ids",
          "language", "primary_location", "type", "open_access", "authorships", "biblio",
          "keywords", "best_oa_location", "abstract_inverted_index")
MAX_PER_PAGE = 200
#: DOIs per ``filter=doi:A|B|…`` request (OpenAlex allows up to 100 values; 50 keeps the
#: URL short).
DOI_BATCH = 50


def client(services: ServiceSettings, **options: Any) -> PoliteClient:
    defaults = {"per_second": 10.0, "concurrency": 5}
    return PoliteClient(base_url=services.openalex_url, label="OpenAlex",
                        params={"mailto": services.mailto,
                                "api_key": services.openalex_api_key},
                        **{**defaults, **options})


def filter_param(filters: dict[str, Any], start: str | None, end: str | None) -> str | None:
    """OpenAlex's ``filter=`` value: the search's filters (a list is "any of", ``a|b``) and
    the slice's publication dates."""
    parts = [f"{name}:{'|'.join(value) if isinstance(value, list) else value}"
             for name, value in filters.items()]
    if start:
        parts.append(f"from_publication_date:{start}")
    if end:
        parts.append(f"to_publication_date:{end}")
    return ",".join(parts) or None


def works_page(api: PoliteClient, query: str, filters: dict[str, Any], per_page: int,
               start: str | None, end: str | None, cursor: str) -> PageAnswer:
    params = {"search": query or None, "filter": filter_param(filters, start, end),
              "per-page": per_page, "cursor": cursor, "select": ",".join(FIELDS)}
    body = api.get("works", params)
    meta = body.get("meta") or {}
    return list(body.get("results") or []), meta.get("next_cursor"), meta.get("count")


def works_by_doi(api: PoliteClient, dois: list[str]) -> list[dict[str, Any]]:
    """The works OpenAlex knows among ``dois`` (at most :data:`DOI_BATCH`), one request."""
    params = {"filter": "doi:" + "|".join(dois), "per-page": MAX_PER_PAGE,
              "select": ",".join(FIELDS)}
    return list(api.get("works", params).get("results") or [])


def search_title(api: PoliteClient, title: str, rows: int = 5) -> list[dict[str, Any]]:
    """The best matches for a title (OpenAlex's title search)."""
    cleaned = " ".join("".join(c if c.isalnum() else " " for c in title).split())
    params = {"filter": f"title.search:{cleaned}", "per-page": rows,
              "select": ",".join(FIELDS)}
    return list(api.get("works", params).get("results") or [])
