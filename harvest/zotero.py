"""Read a Zotero library (web API or the desktop app's local API) into hits, incrementally.

Zotero gives every library a version number that grows with each change. The first run of a
search reads everything it covers and remembers the version of its first response; later runs
ask only for items changed ``since`` that version, plus ``/deleted`` since it. The version is
saved in the same transaction as the last page, never before the rows it covers, so an
interrupted run simply reads the same changes again (saving a hit twice is harmless).

A hit's ``external_id`` is the Zotero item key. Notes and attachments are not hits; child
notes are counted on their parent (``raw.child_notes``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import sqlite_utils
from pyzotero import zotero
from pyzotero import zotero_errors as ze

from evidence.config import Config, Search, ServiceSettings, ZoteroLibrary
from evidence.db.values import now
from evidence.errors import EvidenceError
from evidence.harvest import store

PAGE_SIZE = 100
RETRIES = 5
DEFAULT_URL = "https://api.zotero.org"
SKIPPED_TYPES = ("note", "attachment", "annotation")

_EXTRA_FIELD = re.compile(r"^\s*(PMID|PMCID|DOI)\s*:\s*(\S+)", re.I | re.M)
_DOI_IN_TEXT = re.compile(r"\b10\.\d{4,9}/[^\s\"<>]+", re.I)

Sleep = Callable[[float], None]


class ZoteroError(EvidenceError):
    """Zotero refused or failed a request; the message says which and what to do."""


def version_key(library: ZoteroLibrary | str, search: Search | str) -> str:
    """The sync_state key holding the library version a search has read up to."""
    lib = library if isinstance(library, str) else library.name
    name = search if isinstance(search, str) else search.name
    return f"zotero:{lib}:{name}:version"


def connect(library: ZoteroLibrary, services: ServiceSettings) -> zotero.Zotero:
    """A pyzotero client for ``library``; ZOTERO_API_URL replaces the endpoint when set.

    The local desktop API (``local: true``) keeps pyzotero's loopback address unless
    ZOTERO_API_URL names another one.
    """
    zot = zotero.Zotero(library.library_id, library.library_type,
                        services.zotero_api_key, local=library.local)
    url = (services.zotero_url or DEFAULT_URL).rstrip("/")
    if not library.local or url != DEFAULT_URL:
        zot.endpoint = url
    return zot


def call(zot: zotero.Zotero, fn: Callable[[], Any], *, what: str,
         sleep: Sleep = time.sleep, attempts: int = RETRIES) -> Any:
    """Run one pyzotero call, retrying rate limits (429), 5xx and network failures.

    pyzotero already waits out ``Backoff``/``Retry-After`` on reads, but gives up on a 429
    without a delay, does not retry 5xx, and hands a 429 body back from writes; this wrapper
    covers those with the server's delay when it sends one, else exponential backoff.
    ``sleep`` is injectable so tests do not wait.
    """
    for attempt in range(attempts):
        try:
            result = fn()
        except (ze.TooManyRetriesError, ze.TooManyRequestsError) as e:
            failure: Exception = e
        except ze.PreConditionFailedError:
            raise
        except ze.UserNotAuthorisedError as e:
            raise ZoteroError(
                f"Zotero {what}: not authorised; set ZOTERO_API_KEY to a key with access to "
                f"this library (zotero.org/settings/keys)") from e
        except ze.ResourceNotFoundError as e:
            raise ZoteroError(
                f"Zotero {what}: not found ({_short(e)}); check the library's type, id and "
                f"collection key in the configuration") from e
        except ze.PyZoteroError as e:
            status = zot.request.status_code if zot.request is not None else 0
            if status < 500:
                raise ZoteroError(f"Zotero {what}: {_short(e)}") from e
            failure = e
        except httpx2.TransportError as e:
            failure = e
        else:
            response = zot.request
            if response is None or response.status_code != 429:
                return result
            failure = ZoteroError("429 Too Many Requests")
        if attempt == attempts - 1:
            raise ZoteroError(f"Zotero {what}: still failing after {attempts} attempts "
                              f"({_short(failure)}); try again later") from failure
        sleep(_delay(zot, attempt))
    raise AssertionError("unreachable")


def _delay(zot: zotero.Zotero, attempt: int) -> float:
    headers = zot.request.headers if zot.request is not None else {}
    for name in ("Retry-After", "Backoff"):
        value = headers.get(name)
        if value:
            try:
                return float(value)
            except ValueError:
                continue
    return min(2.0 ** attempt, 60.0)


def _short(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text[:300]


def fetch_pages(zot: zotero.Zotero, params: dict[str, Any], *, collection: str | None = None,
                top: bool = False, sleep: Sleep = time.sleep
                ) -> Iterator[tuple[list[dict], int, int]]:
    """Yield (items, library version, total results) per page of 100, following Link headers.

    ``top`` asks for top-level items only (no notes or attachments).
    """
    params = {**params, "limit": PAGE_SIZE}
    if top:
        page = call(zot, lambda: zot.top(**params), what="top-level items", sleep=sleep)
    elif collection:
        page = call(zot, lambda: zot.collection_items(collection, **params),
                    what=f"collection {collection} items", sleep=sleep)
    else:
        page = call(zot, lambda: zot.items(**params), what="items", sleep=sleep)
    version = int(zot.request.headers.get("Last-Modified-Version", 0))
    total = int(zot.request.headers.get("Total-Results", len(page)))
    yield page, version, total
    while zot.links and zot.links.get("next"):
        page = call(zot, zot.follow, what="next page of items", sleep=sleep)
        yield page or [], version, total


def to_hit(item: dict[str, Any]) -> dict[str, Any]:
    """A store hit dict from one Zotero item (the API's JSON, with ``data`` and ``meta``)."""
    data = item.get("data", item)
    extra = data.get("extra") or ""
    from_extra = {m.group(1).upper(): m.group(2) for m in _EXTRA_FIELD.finditer(extra)}
    doi = data.get("DOI") or from_extra.get("DOI") or _doi_in(extra) or _doi_in(data.get("url"))
    date = data.get("date") or ""
    meta = item.get("meta") or {}
    return {
        "external_id": data.get("key") or item.get("key"),
        "title": data.get("title") or data.get("caseName") or data.get("nameOfAct"),
        "abstract": data.get("abstractNote"),
        "authors": authors(data.get("creators") or []),
        "year": meta.get("parsedDate") or date,
        "pub_date": meta.get("parsedDate") or date or None,
        "journal": (data.get("publicationTitle") or data.get("bookTitle")
                    or data.get("proceedingsTitle") or data.get("websiteTitle")),
        "journal_abbrev": data.get("journalAbbreviation"),
        "volume": data.get("volume"), "issue": data.get("issue"), "pages": data.get("pages"),
        "doi": doi, "pmid": from_extra.get("PMID"), "pmcid": from_extra.get("PMCID"),
        "isbn": data.get("ISBN"), "issn": data.get("ISSN"), "language": data.get("language"),
        "item_type": data.get("itemType"), "url": data.get("url"),
        "keywords": [t["tag"] for t in data.get("tags") or [] if t.get("tag")],
        "raw": {
            "key": data.get("key"), "version": data.get("version") or item.get("version"),
            "collections": data.get("collections") or [], "extra": extra or None,
            "num_children": meta.get("numChildren", 0), "child_notes": 0,
            "child_note_keys": [],
        },
    }


def authors(creators: list[dict[str, Any]]) -> list[str]:
    """Authors only (not editors or contributors), "Last, First" or the single-field name."""
    names = []
    for creator in creators:
        if creator.get("creatorType", "author") != "author":
            continue
        if creator.get("name"):
            names.append(creator["name"])
        elif creator.get("lastName"):
            first = creator.get("firstName") or ""
            names.append(f"{creator['lastName']}, {first}" if first else creator["lastName"])
    return names


def _doi_in(text: str | None) -> str | None:
    match = _DOI_IN_TEXT.search(text or "")
    return match.group(0) if match else None


def harvest_search(db: sqlite_utils.Database, search: Search, config: Config,
                   services: ServiceSettings, *, since: Any = None, progress: bool = False,
                   sleep: Sleep = time.sleep) -> store.RunSummary:
    """Read what is new in the search's Zotero library (or collection) since the last run.

    ``since`` (a date, from ``--since``) reads the whole library again and keeps items modified
    on or after that day; without it, the stored library version drives an incremental read.
    """
    if not search.library:
        raise ZoteroError(f"{config.path}: search {search.name!r}: set `library:` to the name "
                          f"of one of zotero.libraries")
    try:
        library = config.zotero_library(search.library)
    except KeyError as e:
        raise ZoteroError(f"search {search.name!r}: {e.args[0]}") from e
    zot = connect(library, services)
    search_id = store.ensure_search(db, search)
    key = version_key(library, search)
    stored = db.execute("SELECT value FROM sync_state WHERE key = ?", [key]).fetchone()
    last_version = int(stored[0]) if stored and since is None else None
    run_id = store.start_run(db, search_id, query=search.query,
                             window_start=str(since) if since else None)
    summary = store.RunSummary(search=search.name, run_id=run_id)
    try:
        _harvest(db, zot, search, library, run_id, search_id, key, last_version, since,
                 summary, progress, sleep)
    except BaseException as e:
        status = "interrupted" if isinstance(e, KeyboardInterrupt) else "failed"
        store.finish_run(db, run_id, status, error=_short(e))
        raise
    store.finish_run(db, run_id, "complete", reported_count=summary.reported)
    return summary


def _harvest(db: sqlite_utils.Database, zot: zotero.Zotero, search: Search,
             library: ZoteroLibrary, run_id: int, search_id: int, key: str,
             last_version: int | None, since: Any, summary: store.RunSummary, progress: bool,
             sleep: Sleep) -> None:
    params: dict[str, Any] = {"includeTrashed": 1}  # trashed items come back as deletions
    if search.query:
        params.update(q=search.query, qmode="everything")
    if search.tag:
        params["tag"] = search.tag
    if search.item_type:
        params["itemType"] = search.item_type
    if last_version is not None:
        params["since"] = last_version
    collections: list[str | None] = [None]
    if library.collection:
        found = call(zot, lambda: zot.all_collections(library.collection), sleep=sleep,
                     what=f"collection {library.collection} of library {library.name!r}")
        collections = [c["key"] for c in found]
    since_text = str(since) if since else None
    seen: set[str] = set()
    notes: dict[str, set[str]] = {}
    trashed: list[str] = []
    first_version: int | None = None
    bar = None
    pages = 0
    counted: Any = object()
    for collection in collections:
        for items, version, total in fetch_pages(zot, params, collection=collection,
                                                 sleep=sleep):
            if first_version is None or version < first_version:
                first_version = version
            if collection != counted:
                counted = collection
                summary.reported += total
            if progress and bar is None:
                from tqdm import tqdm

                bar = tqdm(total=total, desc=search.name, unit="item", leave=False)
            pages += 1
            hits = []
            for item in items:
                data = item.get("data", item)
                if data.get("itemType") == "note" and data.get("parentItem"):
                    notes.setdefault(data["parentItem"], set()).add(data["key"])
                if data.get("itemType") in SKIPPED_TYPES or data["key"] in seen:
                    continue
                seen.add(data["key"])
                if data.get("deleted"):
                    trashed.append(data["key"])
                    continue
                if since_text and (data.get("dateModified") or "")[:10] < since_text:
                    continue
                hits.append(to_hit(item))
            _keep_note_keys(db, search_id, hits)
            with db.atomic():
                new, _ = store.save_hits(db, run_id, hits, update_existing=True)
                db["runs"].update(run_id, {"checkpoint": json.dumps(
                    {"pages": pages, "collection": collection, "items": len(seen)})})
            summary.fetched += len(hits)
            summary.new += new
            if bar is not None:
                bar.update(len(items))
    if bar is not None:
        bar.close()
    deleted: list[str] = list(trashed)
    if last_version is not None:
        gone = call(zot, lambda: zot.deleted(since=last_version), what="deleted items",
                    sleep=sleep)
        deleted += list((gone or {}).get("items") or [])
    with db.atomic():
        marked = _mark_deleted(db, search_id, deleted)
        _count_notes(db, search_id, notes, deleted)
        if first_version is not None:
            db["sync_state"].upsert({"key": key, "value": str(first_version),
                                     "updated_at": now()}, pk="key")
    if marked:
        summary.message = f"{marked} deleted in Zotero"


def _keep_note_keys(db: sqlite_utils.Database, search_id: int, hits: list[dict]) -> None:
    """Carry the child-note keys of an already stored hit over to its updated version."""
    if not hits:
        return
    keys = [h["external_id"] for h in hits]
    rows = db.execute(
        "SELECT external_id, raw FROM hits WHERE search_id = ? AND external_id IN "
        f"({','.join('?' * len(keys))})", [search_id, *keys]).fetchall()
    old = {k: _raw(r).get("child_note_keys") or [] for k, r in rows}
    for hit in hits:
        note_keys = old.get(hit["external_id"])
        if note_keys:
            hit["raw"]["child_note_keys"] = note_keys
            hit["raw"]["child_notes"] = len(note_keys)


def _count_notes(db: sqlite_utils.Database, search_id: int, notes: dict[str, set[str]],
                 deleted: list[str]) -> None:
    """Add newly seen child notes to their parents' raw, and drop deleted ones."""
    parents = dict.fromkeys(notes)
    for note_key in deleted:
        for (parent,) in db.execute(
                "SELECT external_id FROM hits WHERE search_id = ? AND instr(raw, ?) > 0",
                [search_id, f'"{note_key}"']).fetchall():
            parents[parent] = None
    gone = set(deleted)
    for parent in parents:
        row = db.execute("SELECT id, raw FROM hits WHERE search_id = ? AND external_id = ?",
                         [search_id, parent]).fetchone()
        if row is None:
            continue
        raw = _raw(row[1])
        keys = (set(raw.get("child_note_keys") or []) | notes.get(parent, set())) - gone
        raw["child_note_keys"] = sorted(keys)
        raw["child_notes"] = len(keys)
        db.execute("UPDATE hits SET raw = ? WHERE id = ?", [json.dumps(raw), row[0]])


def _mark_deleted(db: sqlite_utils.Database, search_id: int, keys: list[str]) -> int:
    """Flag hits of deleted (or trashed) items; the rows stay for the history."""
    marked = 0
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        cursor = db.execute(
            f"UPDATE hits SET deleted = 1 WHERE search_id = ? AND deleted = 0 AND external_id "
            f"IN ({','.join('?' * len(chunk))})", [search_id, *chunk])
        marked += cursor.rowcount
    return marked


def _raw(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
