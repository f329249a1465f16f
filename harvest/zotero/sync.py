"""What one Zotero run reads: the items changed since the last complete run, page by page."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from evidence.config import Config, Search, ServiceSettings, ZoteroLibrary
from evidence.harvest.sources import Checkpoint, Page
from evidence.zotero_api import Sleep, ZoteroError, call, connect, fetch_pages

SKIPPED_TYPES = ("note", "attachment", "annotation")


def fetch(search: Search, services: ServiceSettings, checkpoint: Checkpoint, *,
          sleep: Sleep = time.sleep) -> Iterator[Page]:
    """Pages of the items to store, then a last page with deletions, notes and the version.

    ``--since`` (``checkpoint.since``) reads the whole library again and keeps items modified
    on or after that day; without it, the version kept by the last complete run of this search
    (on the same library) drives an incremental read.
    """
    library = _library(search, checkpoint.config)
    zot = connect(library, services)
    previous = checkpoint.previous
    last_version = (previous.get("version") if checkpoint.since is None
                    and previous.get("library") == library.name else None)
    params = _params(search, last_version)
    reading = _Reading(str(checkpoint.since) if checkpoint.since else None)
    reported, pages, first_version = 0, 0, None
    for collection in _collections(zot, library, sleep):
        counted = False
        for items, version, total in fetch_pages(zot, params, collection=collection,
                                                 sleep=sleep):
            first_version = version if first_version is None else min(first_version, version)
            if not counted:
                reported, counted = reported + total, True
            pages += 1
            yield Page(items=reading.keep(items), reported=reported, checkpoint={
                "pages": pages, "collection": collection, "items": len(reading.seen)})
    deleted = list(reading.trashed)
    if last_version is not None:
        gone = call(zot, lambda: zot.deleted(since=last_version), what="deleted items",
                    sleep=sleep)
        deleted += list((gone or {}).get("items") or [])
    version = first_version if first_version is not None else last_version
    yield Page(deleted=deleted, extra={"notes": reading.notes}, reported=reported,
               checkpoint={"library": library.name, "version": version})


def _library(search: Search, config: Config | None) -> ZoteroLibrary:
    name = (search.settings or {}).get("library")
    if not name or config is None:
        where = config.path if config else "the configuration"
        raise ZoteroError(f"{where}: search {search.name!r}: set `library:` to the name "
                          f"of one of zotero.libraries")
    try:
        return config.zotero_library(name)
    except KeyError as e:
        raise ZoteroError(f"search {search.name!r}: {e.args[0]}") from e


def _params(search: Search, last_version: int | None) -> dict[str, Any]:
    settings = search.settings or {}
    params: dict[str, Any] = {"includeTrashed": 1}  # trashed items come back as deletions
    if search.query:
        params.update(q=search.query, qmode="everything")
    if settings.get("tag"):
        params["tag"] = settings["tag"]
    if settings.get("item_type"):
        params["itemType"] = settings["item_type"]
    if last_version is not None:
        params["since"] = last_version
    return params


def _collections(zot: Any, library: ZoteroLibrary, sleep: Sleep) -> list[str | None]:
    """The configured collection and its sub-collections, or [None] for the whole library."""
    if not library.collection:
        return [None]
    found = call(zot, lambda: zot.all_collections(library.collection), sleep=sleep,
                 what=f"collection {library.collection} of library {library.name!r}")
    return [c["key"] for c in found]


class _Reading:
    """Sorts the items of a run: hits to store, trashed items, child notes by parent."""

    def __init__(self, since: str | None):
        self.since = since
        self.seen: set[str] = set()
        self.notes: dict[str, set[str]] = {}
        self.trashed: list[str] = []

    def keep(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        kept = []
        for item in items:
            data = item.get("data", item)
            if data.get("itemType") == "note" and data.get("parentItem"):
                self.notes.setdefault(data["parentItem"], set()).add(data["key"])
            if data.get("itemType") in SKIPPED_TYPES or data["key"] in self.seen:
                continue
            self.seen.add(data["key"])
            if data.get("deleted"):
                self.trashed.append(data["key"])
            elif not self.since or (data.get("dateModified") or "")[:10] >= self.since:
                kept.append(item)
        return kept
