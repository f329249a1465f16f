"""Write included records back to Zotero: one collection, theme tags, a decision tag.

A record that is already in the library (it came from Zotero, was pushed before, or has the
same DOI or PMID as an item there) is updated in place: tags and the collection are *added*
to the item's current version, nothing else is touched. Other records become new items.

Every write is a batch of at most 50 objects sent with ``If-Unmodified-Since-Version``. When
Zotero answers 412 (someone edited the library since we read it), the changed items are read
again and our additions are merged into their fresh versions before retrying, so a
researcher's newer edits are never overwritten. Created keys are kept in ``zotero_pushed``,
which, with the "nothing missing, nothing written" rule, makes a second push a no-op.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils
from pyzotero import zotero
from pyzotero import zotero_errors as ze

from evidence import normalise as n
from evidence.config import Config, ServiceSettings, ZoteroLibrary
from evidence.db.values import now
from evidence.errors import EvidenceError
from evidence.harvest.zotero.convert import item_ids
from evidence.zotero_api import (
    Sleep,
    ZoteroError,
    call,
    connect,
    fetch_pages,
    header_number,
)

BATCH = 50
ATTEMPTS = 5
DECISION_TAG = "evidence: include"
THEME_PREFIX = {"nb": "tema", "en": "theme"}
ZOTERO_TYPES = ("journalArticle", "book", "bookSection", "report", "thesis", "conferencePaper",
                "webpage", "preprint", "document", "magazineArticle", "newspaperArticle")
#: Fields each item type accepts (beyond title, creators, abstractNote, date, url, extra...).
TYPE_FIELDS = {
    "journalArticle": ("publicationTitle", "journalAbbreviation", "volume", "issue", "pages",
                       "DOI", "ISSN", "language"),
    "book": ("ISBN", "language", "volume"),
    "bookSection": ("bookTitle", "pages", "ISBN", "language", "volume"),
    "report": ("pages", "language"),
    "thesis": ("language",),
    "conferencePaper": ("proceedingsTitle", "pages", "DOI", "ISBN", "language", "volume"),
}


class PushError(EvidenceError):
    """A push that could not be completed; the message names the record or item."""


@dataclass
class PushResult:
    library: str
    collection: str
    collection_key: str | None = None
    collection_created: bool = False
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    conflicts: int = 0
    dry_run: bool = False
    actions: list[str] = field(default_factory=list)


@dataclass
class _Target:
    """One included record and what it should look like in Zotero."""

    record: dict[str, Any]
    tags: list[str]
    key: str | None = None  # the matched Zotero item, None to create one


def theme_tag(name: str, language: str) -> str:
    return f"{THEME_PREFIX.get(language, 'theme')}: {name}"


def included(db: sqlite_utils.Database, config: Config) -> list[_Target]:
    """Included records (record_status) with their wanted tags, oldest record first."""
    column = "name_en" if config.language == "en" else "name_nb"
    themes: dict[int, list[str]] = {}
    for record_id, name in db.execute(
            f"SELECT rt.record_id, coalesce(t.{column}, t.name) FROM record_themes rt "
            "JOIN themes t ON t.id = rt.theme_id ORDER BY t.position, t.name").fetchall():
        themes.setdefault(record_id, []).append(theme_tag(name, config.language))
    rows = db.execute(
        "SELECT r.* FROM records r JOIN record_status s ON s.record_id = r.id "
        "WHERE s.decision = 'include' ORDER BY r.id").fetchall()
    columns = [d[0] for d in db.execute("SELECT * FROM records LIMIT 0").description]
    targets = []
    for row in rows:
        record = dict(zip(columns, row, strict=True))
        tags = list(dict.fromkeys([*themes.get(record["id"], []), DECISION_TAG]))
        targets.append(_Target(record, tags))
    return targets


class _Library:
    """What the library holds now: items by key, DOI and PMID, and its version."""

    def __init__(self, zot: zotero.Zotero, sleep: Sleep):
        self.zot, self.sleep = zot, sleep
        self.items: dict[str, dict[str, Any]] = {}
        self.by_doi: dict[str, str] = {}
        self.by_pmid: dict[str, str] = {}
        self.version = 0
        self.read()

    def read(self, since: int | None = None) -> None:
        params = {"since": since} if since is not None else {}
        first = True
        for items, version, _ in fetch_pages(self.zot, params, top=True, sleep=self.sleep):
            if first:
                self.version, first = max(self.version, version), False
            for item in items:
                self.add(item["data"])

    def add(self, data: dict[str, Any]) -> None:
        self.items[data["key"]] = data
        ids = item_ids(data)
        doi, pmid = n.normalise_doi(ids["doi"]), n.normalise_pmid(ids["pmid"])
        if doi:
            self.by_doi.setdefault(doi, data["key"])
        if pmid:
            self.by_pmid.setdefault(pmid, data["key"])

    def refresh(self) -> None:
        """Read what changed since our version (after a 412 for the whole batch)."""
        self.read(since=self.version)

    def reread(self, keys: list[str]) -> None:
        """Read these items again (after a 412 for single objects in a batch)."""
        for start in range(0, len(keys), BATCH):
            chunk = ",".join(keys[start:start + BATCH])
            for items, _, _ in fetch_pages(self.zot, {"itemKey": chunk}, sleep=self.sleep):
                for item in items:
                    self.add(item["data"])


def push(db: sqlite_utils.Database, config: Config, services: ServiceSettings, *,
         library_name: str | None = None, collection: str | None = None,
         dry_run: bool = False, sleep: Sleep = time.sleep) -> PushResult:
    """Put every included record into ``collection`` of the library, with its tags."""
    library = _library(config, library_name)
    name = collection or config.title
    result = PushResult(library=library.name, collection=name, dry_run=dry_run)
    zot = connect(library, services)
    targets = included(db, config)
    index = _Library(zot, sleep)
    result.collection_key = _find_collection(zot, name, sleep)
    if result.collection_key is None:
        result.collection_created = True
        result.actions.append(f"create collection {name!r}")
        if not dry_run:
            result.collection_key = _create_collection(zot, name, index, sleep)
    for target in targets:
        target.key = _match(db, library, index, target.record)
    pending = [t for t in targets if _payload(t, index, result.collection_key) is not None]
    result.unchanged = len(targets) - len(pending)
    if dry_run:
        for target in pending:
            result.actions.append(_describe(target, index))
        result.created = sum(1 for t in pending if t.key is None)
        result.updated = len(pending) - result.created
        return result
    for start in range(0, len(pending), BATCH):
        _write_batch(db, zot, library, index, pending[start:start + BATCH], result, sleep)
    return result


def _library(config: Config, name: str | None) -> ZoteroLibrary:
    if name:
        try:
            return config.zotero_library(name)
        except KeyError as e:
            raise PushError(e.args[0]) from e
    if not config.zotero_libraries:
        raise PushError(f"{config.path}: no zotero.libraries configured; add one to push to")
    return config.zotero_libraries[0]


def _find_collection(zot: zotero.Zotero, name: str, sleep: Sleep) -> str | None:
    for items, _, _ in _collection_pages(zot, sleep):
        for c in items:
            if c["data"]["name"] == name:
                return c["key"]
    return None


def _collection_pages(zot: zotero.Zotero, sleep: Sleep):
    page = call(zot, lambda: zot.collections(limit=100), what="collections", sleep=sleep)
    yield page, 0, 0
    while zot.links and zot.links.get("next"):
        yield call(zot, zot.follow, what="collections", sleep=sleep) or [], 0, 0


def _create_collection(zot: zotero.Zotero, name: str, index: _Library, sleep: Sleep) -> str:
    answer = call(zot, lambda: zot.create_collections([{"name": name}]),
                  what=f"create collection {name!r}", sleep=sleep)
    key = (answer.get("success") or {}).get("0")
    if not key:
        raise PushError(f"Zotero did not create collection {name!r}: {answer.get('failed')}")
    index.version = max(index.version, header_number(zot, "Last-Modified-Version", 0))
    return key


def _match(db: sqlite_utils.Database, library: ZoteroLibrary, index: _Library,
           record: dict[str, Any]) -> str | None:
    """The library item this record already is: by Zotero key, then DOI, then PMID."""
    keys = [k for (k,) in db.execute(
        "SELECT h.external_id FROM hits h JOIN searches s ON s.id = h.search_id "
        "WHERE h.record_id = ? AND h.source = 'zotero' AND h.deleted = 0 "
        "AND json_extract(s.settings, '$.library') = ?", [record["id"], library.name])]
    keys += [k for (k,) in db.execute(
        "SELECT item_key FROM zotero_pushed WHERE record_id = ? AND library = ?",
        [record["id"], library.name])]
    for key in keys:
        if key in index.items:
            return key
    doi, pmid = n.normalise_doi(record.get("doi")), n.normalise_pmid(record.get("pmid"))
    if doi and doi in index.by_doi:
        return index.by_doi[doi]
    if pmid and pmid in index.by_pmid:
        return index.by_pmid[pmid]
    return None


def _payload(target: _Target, index: _Library, collection: str | None) -> dict | None:
    """What to send for this record, or None when the item already has everything."""
    if target.key is None:
        return new_item(target.record, target.tags, collection)
    data = index.items[target.key]
    have = {t.get("tag") for t in data.get("tags") or []}
    missing = [t for t in target.tags if t not in have]
    collections = list(data.get("collections") or [])
    if not missing and (collection is None or collection in collections):
        return None
    if collection and collection not in collections:
        collections.append(collection)
    return {"key": target.key, "version": data["version"],
            "tags": [*(data.get("tags") or []), *({"tag": t} for t in missing)],
            "collections": collections}


def _describe(target: _Target, index: _Library) -> str:
    title = (target.record.get("title") or "")[:80]
    if target.key is None:
        return f"create record {target.record['id']}: {title!r} with tags {target.tags}"
    have = {t.get("tag") for t in index.items[target.key].get("tags") or []}
    missing = [t for t in target.tags if t not in have]
    return (f"update {target.key} (record {target.record['id']}): {title!r}"
            + (f" add tags {missing}" if missing else "") + " and the collection")


def _write_batch(db: sqlite_utils.Database, zot: zotero.Zotero, library: ZoteroLibrary,
                 index: _Library, batch: list[_Target], result: PushResult,
                 sleep: Sleep) -> None:
    """Write one batch; on 412 re-read what changed, re-merge, and send the rest again."""
    remaining = batch
    for _ in range(ATTEMPTS):
        payloads, targets = [], []
        for target in remaining:
            payload = _payload(target, index, result.collection_key)
            if payload is None:
                result.unchanged += 1
                continue
            payloads.append(payload)
            targets.append(target)
        if not payloads:
            return
        try:
            answer = call(zot, lambda sent=payloads: zot.create_items(
                sent, last_modified=index.version), what="write items", sleep=sleep)
        except ze.PreConditionFailedError:
            result.conflicts += 1
            index.refresh()
            _rematch(db, library, index, remaining)
            continue
        version = header_number(zot, "Last-Modified-Version", index.version)
        retry = _apply(db, library, index, answer, targets, version, result)
        index.version = max(index.version, version)
        if not retry:
            return
        result.conflicts += 1
        index.reread([t.key for t in retry if t.key])
        remaining = retry
    raise PushError(f"Zotero kept reporting conflicts for {len(remaining)} item(s) after "
                    f"{ATTEMPTS} attempts (someone is editing them now?); run the push again")


def _rematch(db: sqlite_utils.Database, library: ZoteroLibrary, index: _Library,
             targets: list[_Target]) -> None:
    for target in targets:
        if target.key is None:
            target.key = _match(db, library, index, target.record)


def _apply(db: sqlite_utils.Database, library: ZoteroLibrary, index: _Library,
           answer: dict[str, Any], targets: list[_Target], version: int,
           result: PushResult) -> list[_Target]:
    """Record what Zotero accepted; return the targets that failed with 412 (to retry)."""
    retry: list[_Target] = []
    successful = answer.get("successful") or {}
    with db.atomic():
        for position, key in (answer.get("success") or {}).items():
            target = targets[int(position)]
            created = target.key is None
            data = (successful.get(position) or {}).get("data")
            if data:
                index.add(data)
            target.key = key
            if created:
                result.created += 1
            else:
                result.updated += 1
            db["zotero_pushed"].upsert({
                "record_id": target.record["id"], "library": library.name, "item_key": key,
                "version": version, "pushed_at": now()}, pk=("record_id", "library"))
        result.unchanged += len(answer.get("unchanged") or {})
        failures = []
        for position, failure in (answer.get("failed") or {}).items():
            target = targets[int(position)]
            if failure.get("code") == 412:
                retry.append(target)
            else:
                failures.append(f"record {target.record['id']}: {failure.get('message')}")
    if failures:
        raise PushError("Zotero refused item(s): " + "; ".join(failures[:5]))
    return retry


def new_item(record: dict[str, Any], tags: list[str], collection: str | None) -> dict[str, Any]:
    """A Zotero item (API JSON ``data``) of the right type for a record."""
    item_type = zotero_type(record.get("item_type"))
    allowed = TYPE_FIELDS.get(item_type, ())
    authors = json.loads(record.get("authors") or "[]")
    creators = []
    for name in authors:
        last, _, first = name.partition(",")
        creators.append({"creatorType": "author", "lastName": last.strip(),
                         "firstName": first.strip()} if first.strip()
                        else {"creatorType": "author", "name": name.strip()})
    values = {
        "publicationTitle": record.get("journal"), "bookTitle": record.get("journal"),
        "proceedingsTitle": record.get("journal"),
        "journalAbbreviation": record.get("journal_abbrev"), "volume": record.get("volume"),
        "issue": record.get("issue"), "pages": record.get("pages"), "DOI": record.get("doi"),
        "ISSN": record.get("issn"), "ISBN": record.get("isbn"),
        "language": record.get("language"),
    }
    item: dict[str, Any] = {
        "itemType": item_type, "title": record.get("title") or "", "creators": creators,
        "abstractNote": record.get("abstract") or "",
        "date": record.get("pub_date") or (str(record["year"]) if record.get("year") else ""),
        "url": record.get("url") or "",
        "tags": [{"tag": t} for t in tags], "collections": [collection] if collection else [],
    }
    item.update({k: v for k, v in values.items() if k in allowed and v})
    extra = []
    if record.get("doi") and "DOI" not in allowed:
        extra.append(f"DOI: {record['doi']}")
    if record.get("pmid"):
        extra.append(f"PMID: {record['pmid']}")
    if record.get("pmcid"):
        extra.append(f"PMCID: {record['pmcid']}")
    if extra:
        item["extra"] = "\n".join(extra)
    return item


def zotero_type(item_type: str | None) -> str:
    """Zotero's item type for a record's type (a Zotero type, RIS code or PubMed type)."""
    text = (item_type or "").strip()
    if text in ZOTERO_TYPES:
        return text
    lower = text.lower()
    for needles, zotero_name in (
        (("chap", "booksection", "book section", "incollection", "inbook"), "bookSection"),
        (("book",), "book"),
        (("rprt", "report", "techreport"), "report"),
        (("thes", "dissertation", "phdthesis"), "thesis"),
        (("conf", "proceedings", "inproceedings", "cpaper"), "conferencePaper"),
        (("preprint",), "preprint"),
        (("elec", "web"), "webpage"),
    ):
        if any(needle in lower for needle in needles):
            return zotero_name
    return "journalArticle"


__all__ = ["PushError", "PushResult", "ZoteroError", "push", "new_item", "zotero_type"]
