"""OpenAlex as a source: a ``/works`` search, deep-paged by cursor.

OpenAlex is an open index of most of the scholarly literature, with abstracts, open-access
links and language: the open stand-in for Google Scholar's role in the report's method.
``query`` goes to ``search=``, ``filter`` is passed through as OpenAlex's filters, ``window``
sets ``from_publication_date``/``to_publication_date``. Paging, slices and resuming:
:mod:`evidence.harvest.cursors`; HTTP: :mod:`.client`; work -> hit (the abstract rebuilt from
its inverted index): :mod:`.convert`. A hit's ``external_id`` is the OpenAlex id (``W…``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from evidence.harvest.openalex.convert import to_hit
from evidence.harvest.sources import (
    Checkpoint,
    EnvVar,
    Page,
    Setting,
    SettingError,
    Source,
    refuse_window_filters,
)

WINDOW_FILTERS = ("from_publication_date", "to_publication_date", "publication_date",
                  "publication_year")


def check(settings: dict[str, Any], config: Any) -> dict[str, Any]:
    """Dates belong in ``window``; pages hold 1..200 works."""
    refuse_window_filters(settings, WINDOW_FILTERS)
    if not 1 <= settings["page_size"] <= 200:
        raise SettingError("page_size", "must be between 1 and 200 (OpenAlex's per-page)")
    return settings


def fetch(search: Any, services: Any, checkpoint: Checkpoint, *, client: Any = None,
          **options: Any) -> Iterator[Page]:
    from evidence.harvest import cursors
    from evidence.harvest.openalex import client as oa

    api = client or oa.client(services, **options)
    settings = SOURCE.options(search)
    plan = cursors.Plan(label="OpenAlex", slices=api.concurrency,
                        page_size=settings["page_size"])

    def page(start: str | None, end: str | None, cursor: str) -> cursors.PageAnswer:
        return oa.works_page(api, search.query, settings.get("filter") or {},
                             settings["page_size"], start, end, cursor)

    yield from cursors.fetch(search, checkpoint, plan, page)


SOURCE = Source(
    name="openalex", label="OpenAlex", fetch=fetch, to_hit=to_hit, check=check,
    resumable=True, narrowing=("filter",),
    settings={
        "filter": Setting("filters", default={}, help="OpenAlex filters, passed through "
                          "(language: \"no\", type: article ...)"),
        "page_size": Setting("int", default=200, help="works per request (per-page, at "
                             "most 200)"),
    },
    environment=(  # for `evidence doctor`
        EnvVar("OPENALEX_API_URL", "OpenAlex API address (default api.openalex.org)", url=True),
        EnvVar("EVIDENCE_MAILTO", "a contact address: the polite pool answers faster"),
        EnvVar("OPENALEX_API_KEY", "an OpenAlex API key (premium or higher daily limits)"),
    ),
)
