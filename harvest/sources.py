"""The source contract: what one harvestable source (PubMed, Zotero, ...) provides.

A source is one module that defines ``SOURCE = Source(...)`` and is named by one line in
``SOURCES`` (``harvest/__init__.py``). Everything a run needs around it (the search row, the
run row, resuming, Ctrl-C, the checkpoint saved with its hits, the progress bar, the summary)
lives once in :mod:`evidence.harvest.runs`; see docs/sources.md for a worked example.

This module is imported when the configuration is validated, so it and a source's own module
stay light: heavy clients (HTTP libraries, parsers) are imported inside ``fetch``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from evidence.errors import EvidenceError

if TYPE_CHECKING:
    import sqlite_utils

    from evidence.config import Config, Search


class SettingError(EvidenceError):
    """A source rejected one of its settings; the configuration adds file, line and search."""

    def __init__(self, key: str, message: str):
        self.key, self.message = key, message
        super().__init__(f"{key}: {message}")


@dataclass(frozen=True)
class Setting:
    """One source-specific key under a search in evidence.yml.

    ``kind`` is a configuration kind: "str", "int", "bool", "float", "date",
    ("enum", choices) or ("list", kind).
    """

    kind: Any
    default: Any = None
    required: bool = False
    help: str = ""


@dataclass(frozen=True)
class EnvVar:
    """An environment variable a source reads; ``evidence doctor`` lists what is missing.

    ``needed``: runs fail without it (True), or a function of the search's settings and the
    configuration deciding that (Zotero's key is needed for the web API, not the desktop
    app); otherwise a missing value is advice (an API key that raises a rate limit).
    ``url``: the value is a service address and must be an http(s) URL.
    """

    name: str
    help: str = ""
    needed: bool | Callable[[dict[str, Any], Config], bool] = False
    url: bool = False

    def is_needed(self, settings: dict[str, Any], config: Config) -> bool:
        return self.needed(settings, config) if callable(self.needed) else bool(self.needed)


@dataclass
class Page:
    """One unit of work a source's ``fetch`` yields; stored in one transaction with its
    ``checkpoint``, so a run killed between pages resumes after the last one stored.

    - ``items``: raw items, each turned into a hit by the source's ``to_hit``, or
    - ``hits``: hit dicts already converted (PubMed converts in parser processes);
    - ``checkpoint``: where the run stands after this page (the source's own JSON shape);
    - ``reported``: how many results the source reports for the whole run so far;
    - ``deleted``: external ids the source says are gone (their hits are flagged, not dropped);
    - ``run``: other ``runs`` columns to set (a PubMed run's window);
    - ``extra``: source-specific data for the source's ``before_save`` hook.
    """

    items: list[Any] = field(default_factory=list)
    hits: list[dict[str, Any]] | None = None
    checkpoint: dict[str, Any] | None = None
    reported: int | None = None
    deleted: list[str] = field(default_factory=list)
    run: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Checkpoint:
    """What ``fetch`` knows about the run it serves.

    ``position`` is the saved checkpoint of the run being resumed (``resumed`` is then True),
    else ``{}``; ``previous`` is the final checkpoint of the search's last complete run and
    ``previous_run`` that run's row (``window_end`` ...), for sources that read only what is
    new; ``since`` is ``--since``; ``config`` is the whole configuration, for sources whose
    searches refer to another section (Zotero's libraries). A source that waits for the
    network may call ``idle()`` first: the harvest command uses that time to deduplicate the
    hits stored so far.
    """

    run_id: int
    position: dict[str, Any] = field(default_factory=dict)
    resumed: bool = False
    previous: dict[str, Any] = field(default_factory=dict)
    previous_run: dict[str, Any] | None = None
    since: dt.date | None = None
    today: dt.date | None = None
    config: Config | None = None
    idle: Callable[[], None] = field(default=lambda: None)

    def window(self, search: Search) -> tuple[dt.date | None, dt.date]:
        """The dates a new run of ``search`` asks for: from the last complete run's window end
        (or ``--since``), else the configured window's start (None when it has none), up to the
        configured end (today when open). Sources that read only what is new start here."""
        today = self.today or dt.date.today()
        start, end = search.window.resolve(today) if search.window else (None, None)
        last_end = (self.previous_run or {}).get("window_end")
        if self.since:
            start = self.since
        elif last_end:
            start = dt.date.fromisoformat(last_end)
        return start, end or today


Fetch = Callable[..., Iterator[Page]]
BeforeSave = Callable[["sqlite_utils.Database", int, Page, list[dict[str, Any]]], None]


@dataclass(frozen=True)
class Source:
    """A harvestable source: its settings, how to fetch pages, how to make a hit.

    - ``name``: the ``source:`` value in evidence.yml; ``label`` names it in messages.
    - ``settings``: the keys this source allows under a search, beyond the common ones
      (name, source, query, description, window); validated with file and line.
    - ``fetch(search, services, checkpoint, **options)`` yields :class:`Page` objects;
      ``options`` are keyword arguments for tests (a client, a sleep function).
    - ``to_hit(item)`` turns one raw item into a hit dict (see ``store.HIT_FIELDS``).
    - ``check(settings, config)``: cross-checks settings against the rest of the configuration
      and fills defaults that depend on it; raises :class:`SettingError`.
    - ``query_required``: a search of this source must have a ``query``.
    - ``narrowing``: settings that narrow a search as a query does (Crossref's and
      OpenAlex's ``filter``): a search with neither a query nor one of them is refused, since
      it would page through the service's whole index (:func:`unnarrowed`).
    - ``resumable``: an unfinished run is resumed from its checkpoint (else a new run starts).
    - ``update_existing``: items fetched again refresh their stored hits (edited at the source).
    - ``before_save(db, search_id, page, hits)``: source-specific writes in the page's
      transaction, before its hits are stored.
    - ``environment``: the environment variables it reads (:class:`EnvVar`), for
      ``evidence doctor``.
    """

    name: str
    fetch: Fetch
    to_hit: Callable[[Any], dict[str, Any]]
    label: str = ""
    settings: Mapping[str, Setting] = field(default_factory=dict)
    check: Callable[[dict[str, Any], Config], dict[str, Any]] | None = None
    query_required: bool = False
    narrowing: tuple[str, ...] = ()
    resumable: bool = False
    update_existing: bool = False
    before_save: BeforeSave | None = None
    environment: tuple[EnvVar, ...] = ()

    def options(self, search: Search) -> dict[str, Any]:
        """The search's settings for this source, defaults filled in (also for a Search made
        in code rather than read from evidence.yml)."""
        defaults = {key: setting.default for key, setting in self.settings.items()}
        return {**defaults, **(search.settings or {})}

    @property
    def title(self) -> str:
        return self.label or self.name


__all__ = ["Checkpoint", "EnvVar", "Page", "Setting", "SettingError", "Source"]


def refuse_window_filters(settings: dict[str, Any], names: tuple[str, ...]) -> None:
    """A date filter of the API (``from-pub-date``, ``from_publication_date`` ...) under
    ``filter`` is refused: dates belong in ``window``, which also decides what a re-run asks."""
    for name in settings.get("filter") or {}:
        if name in names:
            raise SettingError(f"filter.{name}", "set publication dates with window: "
                               "{from: ..., to: ...} instead (a re-run then asks only for "
                               "what is new)")


def unnarrowed(source: Source, name: str, query: str | None,
               settings: dict[str, Any]) -> str | None:
    """Why a search may not run as configured, or None: with neither ``query`` nor any of the
    source's ``narrowing`` settings, a Crossref or OpenAlex search asks for every work the
    service holds (a window alone still means millions), which no screening team wants and
    which would keep a harvest busy for days."""
    if not source.narrowing or (query or "").strip() or any(settings.get(k)
                                                               for k in source.narrowing):
        return None
    keys = " nor ".join(["query", *source.narrowing])
    return (f"search {name!r} has neither {keys}: without one it would ask {source.title} for "
            "every work it holds (a window alone still means millions a year); add a query, "
            f"a {' or '.join(source.narrowing)}, or both")
