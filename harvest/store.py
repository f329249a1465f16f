"""Savers: runs and hits into the working database.

Sources hand over plain hit dicts (see :data:`HIT_FIELDS`); this module normalises them and
writes them. A hit is keyed by (search, external id), so saving the same page twice is
harmless: that is what makes an interrupted harvest resumable and a re-import a no-op.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from evidence import normalise as n
from evidence.db.config_sync import ensure_search  # noqa: F401  (harvest and imports ask store for the search row)
from evidence.db.values import now
from evidence.errors import EvidenceError

#: Fields a source's ``to_hit()`` may fill. ``external_id`` is required; the rest are optional.
HIT_FIELDS = (
    "external_id", "title", "abstract", "authors", "year", "journal", "journal_abbrev",
    "volume", "issue", "pages", "doi", "pmid", "pmcid", "isbn", "issn", "pub_date",
    "language", "publication_types", "keywords", "mesh_terms", "item_type", "url", "raw",
    "original_title", "creators", "oa_url",
)
_HIT_FIELDS = frozenset(HIT_FIELDS)
LIST_FIELDS = ("authors", "publication_types", "keywords", "mesh_terms")


#: Longest value stored, in characters: the longest real abstracts are about 30,000 and
#: titles 1,000; a 100 MB title would be stored and shown on every page that lists it.
MAX_CHARS = {"abstract": 200_000, "title": 10_000, "original_title": 10_000}
MAX_FIELD = 20_000
MAX_LIST = 500_000  # a list in all (a physics paper's 3,000 authors are about 100,000)


class HitError(EvidenceError):
    """A hit dict that cannot be stored (no external id, unknown field)."""


def normalise_hit(hit: dict[str, Any]) -> dict[str, Any]:
    """The canonical form of one hit dict, ready to store (lists as JSON text)."""
    unknown = hit.keys() - _HIT_FIELDS
    if unknown:
        raise HitError(f"unknown hit field(s): {', '.join(sorted(unknown))}")
    for key, value in hit.items():
        # an import normalises every entry of a file: the common case is decided in one test
        if isinstance(value, str):
            if len(value) <= _SHORTEST_LIMIT or key == "raw":
                continue
            size = len(value)
        elif isinstance(value, list) and key != "raw":
            size = sum(len(v) if isinstance(v, str) else len(str(v)) for v in value)
        else:
            continue
        limit = MAX_CHARS.get(key, MAX_LIST if isinstance(value, list) else MAX_FIELD)
        if size > limit:
            raise HitError(f"{key} is {size:,} characters long, more than the {limit:,} a "
                           "reference may hold (the entry is broken or is not a reference)")
    external_id = n.clean_text(hit.get("external_id"))
    if not external_id:
        raise HitError("hit has no external_id")
    get = hit.get
    row: dict[str, Any] = {
        "external_id": external_id,
        "title": n.clean_text(get("title")),
        "abstract": _clean_abstract(get("abstract")),
        "year": n.normalise_year(get("year") or get("pub_date")),
        "doi": n.normalise_doi(get("doi")),
        "pmid": n.normalise_pmid(get("pmid")),
        "pmcid": n.normalise_pmcid(get("pmcid")),
        "pages": n.normalise_pages(get("pages")),
    }
    for key in _TEXT_FIELDS:
        row[key] = n.clean_text(get(key))
    row["authors"] = _as_json_array(n.normalise_authors(get("authors")))
    for key in ("publication_types", "keywords", "mesh_terms"):
        row[key] = _as_json_array(n.normalise_list(get(key)))
    row["original_title"] = n.clean_text(get("original_title"))
    row["creators"] = _creators(get("creators"))
    raw = get("raw")
    row["raw"] = raw if isinstance(raw, str) or raw is None else _raw_json(raw)
    return row


#: Text fields stored cleaned (white space collapsed), in the order of the stored row.
_TEXT_FIELDS = ("journal", "journal_abbrev", "volume", "issue", "isbn", "issn", "pub_date",
                "language", "item_type", "url", "oa_url")
#: A text this short is within every limit of :data:`MAX_CHARS` and :data:`MAX_FIELD`.
_SHORTEST_LIMIT = min(*MAX_CHARS.values(), MAX_FIELD)


#: ``json.dumps(value, ensure_ascii=False)`` without building an encoder per call (an
#: import encodes three values per hit).
_json = json.JSONEncoder(ensure_ascii=False).encode
_raw_json = json.JSONEncoder(ensure_ascii=False, default=str).encode


def _as_json_array(items: list[str]) -> str:
    """A list as stored (JSON text); most hits have some of their lists empty."""
    return _json(items) if items else "[]"


def _creators(value: Any) -> str:
    """Creators other than authors, with their role (``[{"role": "editor", "name": ...}]``),
    as JSON text: a book's editors, a film's director. Entries without a name are dropped."""
    if not value:  # most hits have none
        return "[]"
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else []
    kept = [{"role": n.clean_text(c.get("role")) or "contributor", "name": name}
            for c in value or [] if isinstance(c, dict) and (name := n.clean_text(c.get("name")))]
    return _json(kept) if kept else "[]"


def _clean_abstract(value: Any) -> str | None:
    """Keep paragraph breaks (structured abstracts put one section per paragraph)."""
    if value is None:
        return None
    paragraphs = [n.clean_text(p) for p in str(value).split("\n\n")]
    text = "\n\n".join(p for p in paragraphs if p)
    return text or None


def start_run(db: sqlite_utils.Database, search_id: int, **fields: Any) -> int:
    """Record the start of a run; ``fields`` fill other ``runs`` columns (query, window...)."""
    source = db["searches"].get(search_id)["source"]
    row = {"search_id": search_id, "source": source, "started_at": now(),
           "status": "running", "hit_count": 0, "new_hit_count": 0, **fields}
    return db["runs"].insert(row).last_pk


def finish_run(db: sqlite_utils.Database, run_id: int, status: str = "complete",
               **fields: Any) -> None:
    """Mark a run finished (``complete``, ``failed``, ``interrupted``) and update its counts."""
    db["runs"].update(run_id, {"status": status, "finished_at": now(), **fields})
    if status == "complete":
        search_id = db["runs"].get(run_id)["search_id"]
        db["searches"].update(search_id, {"last_run_at": now()})


def save_hits(db: sqlite_utils.Database, run_id: int, hits: Iterable[dict[str, Any]],
              *, update_existing: bool = False, updated: list[int] | None = None,
              normalised: bool = False,
              inserted: list[tuple[int, dict[str, Any]]] | None = None) -> tuple[int, int]:
    """Store hits for a run; returns (new, already stored).

    A hit already stored for the same search and external id is refreshed when the source
    brings different values: with ``update_existing`` the source is authoritative (a Zotero
    item edited since the last sync) and every field is replaced; otherwise (a re-import, a
    re-harvest) only the fields the new hit carries replace stored ones, so a poorer export
    never blanks a field. Records built from a changed hit get their fields recomputed in
    the same transaction; the ids of changed hits are appended to ``updated`` when given.
    ``normalised``: the hits are :func:`normalise_hit`'s output already (an import normalises
    in its reading process, harvest/files/importing.py). ``inserted`` gets ``(hit id, row)`` of
    every new hit stored exactly as its row (not changed again by a later row of ``hits``).
    Runs in the caller's transaction if there is one. Hits are written in batches with
    ``executemany`` (one lookup of stored ids per batch), which keeps a 50,000-entry import
    at thousands of hits per second.
    """
    run = db["runs"].get(run_id)
    new = existing = 0
    created = now()
    extra = {"run_id": run_id, "search_id": run["search_id"], "source": run["source"],
             "created_at": created, "deleted": 0}
    changed: list[int] = []
    with db.atomic():
        for batch in batches(hits, _BATCH):
            rows = [{**(hit if normalised else normalise_hit(hit)), **extra} for hit in batch]
            fresh, stale = _split_stored(db, run["search_id"], rows)
            wanted = inserted is not None and fresh
            if wanted:
                first_id = (db.execute("SELECT max(id) FROM hits").fetchone()[0] or 0) + 1
            _insert_rows(db, fresh)
            new += len(fresh)
            existing += len(stale)
            if wanted:
                inserted.extend(_with_ids(db, run["search_id"], fresh, stale, first_id))
            if stale:
                changed += _update_changed(db, run["search_id"], stale, update_existing)
        db.execute("UPDATE runs SET hit_count = hit_count + ?, new_hit_count = new_hit_count + ?"
                   " WHERE id = ?", [new + existing, new, run_id])
        if changed:
            from evidence.dedupe.refresh import hits_changed

            hits_changed(db, changed)
    if updated is not None:
        updated.extend(changed)
    return new, existing


_BATCH = 500
_HIT_COLUMNS = (*HIT_FIELDS, "run_id", "search_id", "source", "created_at", "deleted")
_UPDATE_COLUMNS = tuple(c for c in _HIT_COLUMNS if c not in ("external_id", "run_id",
                                                               "created_at", "search_id"))


def batches(items: Iterable[Any], size: int, *, first: int | None = None
            ) -> Iterator[list[Any]]:
    """``items`` in lists of ``size`` (the last one shorter); with ``first``, the lists start
    at that size and double up to ``size`` (a consumer waiting for the first list gets it
    sooner)."""
    batch: list[Any] = []
    limit = min(first or size, size)
    for item in items:
        batch.append(item)
        if len(batch) >= limit:
            yield batch
            batch, limit = [], min(limit * 2, size)
    if batch:
        yield batch


def _split_stored(db: sqlite_utils.Database, search_id: int,
                  rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict]]:
    """(rows to insert, rows whose external id is stored already or earlier in ``rows``)."""
    ids = [row["external_id"] for row in rows]
    marks = ", ".join("?" * len(ids))
    stored = {eid for (eid,) in db.execute(
        f"SELECT external_id FROM hits WHERE search_id = ? AND external_id IN ({marks})",
        [search_id, *ids])}
    fresh, stale = [], []
    for row in rows:
        (stale if row["external_id"] in stored else fresh).append(row)
        stored.add(row["external_id"])
    return fresh, stale


def _insert_rows(db: sqlite_utils.Database, rows: list[dict[str, Any]]) -> None:
    if rows:
        db.conn.executemany(
            f"INSERT INTO hits ({', '.join(_HIT_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(_HIT_COLUMNS))})",
            [[row.get(c) for c in _HIT_COLUMNS] for row in rows])


def _with_ids(db: sqlite_utils.Database, search_id: int, fresh: list[dict[str, Any]],
              stale: list[dict[str, Any]], first_id: int) -> list[tuple[int, dict[str, Any]]]:
    """``(hit id, row)`` of the rows just inserted, less those a later row will update.

    SQLite gives inserted rows the ids after the largest one (``first_id`` on); when the
    ids say otherwise (the largest possible id was taken), they are looked up.
    """
    again = {row["external_id"] for row in stale}
    last = db.execute("SELECT max(id) FROM hits").fetchone()[0]
    if last == first_id + len(fresh) - 1:
        return [(hit_id, row) for hit_id, row in enumerate(fresh, first_id)
                if row["external_id"] not in again]
    rows = {row["external_id"]: row for row in fresh if row["external_id"] not in again}
    if not rows:
        return []
    marks = ", ".join("?" * len(rows))
    return [(hit_id, rows[external_id]) for hit_id, external_id in db.execute(
        f"SELECT id, external_id FROM hits WHERE search_id = ? AND external_id IN ({marks})",
        [search_id, *rows])]


def _update_changed(db: sqlite_utils.Database, search_id: int, rows: list[dict[str, Any]],
                    replace: bool) -> list[int]:
    """Write the fields of ``rows`` that differ from the stored hits; returns the ids of hits
    whose bibliographic fields changed (not only ``raw`` or ``deleted``)."""
    ids = sorted({row["external_id"] for row in rows})
    columns = _UPDATE_COLUMNS
    stored = {r["external_id"]: r for r in _query(
        db, f"SELECT id, external_id, {', '.join(columns)} FROM hits WHERE search_id = ?"
            f" AND external_id IN ({', '.join('?' * len(ids))})", [search_id, *ids])}
    changed: list[int] = []
    for row in rows:
        old = stored[row["external_id"]]
        values = {c: row.get(c) for c in columns
                  if row.get(c) != old[c] and (replace or _present(row.get(c)))
                  and (replace or c not in ("source", "deleted"))}
        if not values:
            continue
        db.execute(f"UPDATE hits SET {', '.join(f'{c} = ?' for c in values)} WHERE id = ?",
                   [*values.values(), old["id"]])
        old.update(values)
        if set(values) - {"raw", "deleted", "source"}:
            changed.append(old["id"])
    return changed


def _present(value: Any) -> bool:
    return value not in (None, "", "[]")


def _query(db: sqlite_utils.Database, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = db.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def mark_deleted(db: sqlite_utils.Database, search_id: int, external_ids: list[str]) -> int:
    """Flag the hits of items deleted at the source; the rows stay for the history."""
    marked = 0
    for start in range(0, len(external_ids), _BATCH):
        chunk = external_ids[start:start + _BATCH]
        cursor = db.execute(
            f"UPDATE hits SET deleted = 1 WHERE search_id = ? AND deleted = 0 AND external_id "
            f"IN ({','.join('?' * len(chunk))})", [search_id, *chunk])
        marked += cursor.rowcount
    return marked


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class RunSummary:
    """What one harvest run did, for the CLI to report."""

    search: str
    run_id: int | None = None
    reported: int = 0
    fetched: int = 0
    new: int = 0
    status: str = "complete"
    message: str = ""
