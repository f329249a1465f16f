"""Crossref as a source: a ``/works`` search, deep-paged by cursor (Idunn is one of these).

Idunn's journals deposit their metadata with Crossref under DOI prefix 10.18261, so Idunn's
search is a Crossref search with ``filter: {prefix: "10.18261"}``. ``query`` goes to
``query.bibliographic``, ``filter`` is passed through as Crossref's filters, ``window`` sets
``from-pub-date``/``until-pub-date``. Paging, slices and resuming: :mod:`evidence.harvest.
cursors`; HTTP: :mod:`.client`; item -> hit: :mod:`.convert` (JATS abstracts as text).
A hit's ``external_id`` is the DOI. See docs/sources.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from evidence.harvest.crossref.convert import to_hit
from evidence.harvest.sources import (
    Checkpoint,
    EnvVar,
    Page,
    Setting,
    SettingError,
    Source,
    refuse_window_filters,
)

WINDOW_FILTERS = ("from-pub-date", "until-pub-date")


def check(settings: dict[str, Any], config: Any) -> dict[str, Any]:
    """Dates belong in ``window`` (it also decides what a re-run asks for); rows in 1..1000."""
    refuse_window_filters(settings, WINDOW_FILTERS)
    if not 1 <= settings["page_size"] <= 1000:
        raise SettingError("page_size", "must be between 1 and 1000 (Crossref's rows)")
    return settings


def fetch(search: Any, services: Any, checkpoint: Checkpoint, *, client: Any = None,
          **options: Any) -> Iterator[Page]:
    """Pages of works; the HTTP client is imported here so config loading stays light."""
    from evidence.harvest import cursors
    from evidence.harvest.crossref import client as cr

    api = client or cr.client(services, **options)
    settings = SOURCE.options(search)
    # one slice per request allowed at a time: each slice's thread sends its next request as
    # soon as an answer arrives, so the slots stay busy while pages are stored (a slice more
    # would wait for a slot its neighbours keep taking, then run alone at the end)
    plan = cursors.Plan(label="Crossref", slices=api.concurrency,
                        cursor_lifetime=cr.CURSOR_LIFETIME, page_size=settings["page_size"])

    def page(start: str | None, end: str | None, cursor: str) -> cursors.PageAnswer:
        return cr.works_page(api, search.query, settings.get("filter") or {},
                             settings["page_size"], start, end, cursor)

    yield from cursors.fetch(search, checkpoint, plan, page)


SOURCE = Source(
    name="crossref", label="Crossref", fetch=fetch, to_hit=to_hit, check=check,
    query_required=False, resumable=True, narrowing=("filter",),
    settings={
        "filter": Setting("filters", default={}, help="Crossref filters, passed through "
                          "(prefix: \"10.18261\" is Idunn)"),
        "page_size": Setting("int", default=500, help="works per request (rows, at most 1000)"),
    },
    environment=(  # for `evidence doctor`
        EnvVar("CROSSREF_API_URL", "Crossref API address (default api.crossref.org)", url=True),
        EnvVar("EVIDENCE_MAILTO", "a contact address: the polite pool answers faster"),
    ),
)
