"""Zotero as a source: a library (web API or the desktop app's local API) read incrementally.

Zotero gives every library a version number that grows with each change. The first run of a
search reads everything it covers; its final checkpoint keeps the library version of its first
response, and later runs ask only for items changed ``since`` that version, plus ``/deleted``
since it. The checkpoint is saved in the same transaction as the last page, never before the
rows it covers, so an interrupted run simply reads the same changes again (an item stored twice
is refreshed, not duplicated).

Parts: :mod:`evidence.zotero_api` (pyzotero, retries, paging; shared with the push),
:mod:`.convert` (item -> hit),
:mod:`.sync` (what to read, pages), :mod:`.notes` (child notes counted on their parents).
A hit's ``external_id`` is the Zotero item key. See docs/zotero.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from evidence.harvest.sources import Checkpoint, Page, Setting, SettingError, Source
from evidence.harvest.zotero.convert import to_hit


def check(settings: dict[str, Any], config: Any) -> dict[str, Any]:
    """``library`` names one of zotero.libraries; it may be left out when there is only one."""
    names = [lib.name for lib in config.zotero_libraries]
    library = settings.get("library") or (names[0] if len(names) == 1 else None)
    if library not in names:
        raise SettingError("library", "must name one of zotero.libraries")
    return {**settings, "library": library}


def fetch(search: Any, services: Any, checkpoint: Checkpoint, **options: Any) -> Iterator[Page]:
    """Pages of items; pyzotero is imported here so config loading stays light."""
    from evidence.harvest.zotero.sync import fetch as fetch_pages

    yield from fetch_pages(search, services, checkpoint, **options)


def before_save(db: Any, search_id: int, page: Page, hits: list[dict[str, Any]]) -> None:
    """Keep child-note counts across item edits, and count notes seen in this run."""
    from evidence.harvest.zotero import notes

    notes.keep_note_keys(db, search_id, hits)
    if "notes" in page.extra:
        notes.count_notes(db, search_id, page.extra["notes"], page.deleted)


SOURCE = Source(
    name="zotero", label="Zotero", fetch=fetch, to_hit=to_hit, check=check,
    update_existing=True, before_save=before_save,
    settings={
        "library": Setting("str", help="name of one of zotero.libraries"),
        "tag": Setting("str", help="only items with this tag"),
        "item_type": Setting("str", help="only items of this type (journalArticle ...)"),
    },
)
