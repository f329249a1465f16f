"""Import one exported file as one run: all of it, or (on any error) none of it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from evidence.config import Config, Search
from evidence.db.migrations import bulk_writes
from evidence.dedupe import cluster as dedupe
from evidence.dedupe.keys import key_values, store_keys
from evidence.errors import EvidenceError
from evidence.harvest import files, store
from evidence.harvest.files import reading, tabular


@dataclass
class ImportResult:
    run_id: int
    search: str
    format: str
    entries: int
    new_hits: int
    already_stored: int
    dedupe: dedupe.DedupeResult


def import_file(db: sqlite_utils.Database, path: str | Path, *, source: str | None = None,
                fmt: str | None = None, config: Config | None = None,
                query: str | None = None) -> ImportResult:
    """Read ``path`` and store its entries as hits of the search named ``source``.

    ``source`` defaults to the file's stem. When it names a configured search (or one stored
    by an earlier import), the hits belong to that search; otherwise a file search of that
    name is made, with ``query`` as the search string it was run with. The whole file is one
    transaction: a bad entry anywhere leaves the database exactly as it was, and the error
    names the file and the entry.
    """
    path = Path(path)
    fmt = fmt or files.detect_format(path)
    if fmt == "xlsx" and not tabular.is_xlsx_export(path):
        # An evidence table carries decisions and themes too: its own importer keeps them.
        from evidence.harvest.files.evidence_table import import_evidence_table

        return import_evidence_table(db, path, source=source, config=config)
    name = source or path.stem
    search = (_configured(config, name) or _stored(db, name)
              or Search(name=name, source="file", query=query or ""))
    # the file's hash is computed beside the reading (hashlib and file reads free the GIL)
    with ThreadPoolExecutor(1) as hashing, bulk_writes(db), db.atomic():
        sha = hashing.submit(store.file_sha256, str(path))
        search_id = store.ensure_search(db, search)
        run_id = store.start_run(db, search_id, query=search.query or None,
                                 file_path=str(path))
        entries = new = existing = 0
        steps = dedupe.Steps(db, config.dedupe if config else None)
        # parsed, normalised and fingerprinted in a second process while this one stores
        # and deduplicates what it has (harvest/files/reading.py)
        for batch in reading.read_normalised(path, fmt, annotate=_fingerprint,
                                             idle=steps.idle):
            inserted: list[tuple[int, dict]] = []
            added, stored = store.save_hits(db, run_id, batch, normalised=True,
                                            inserted=inserted)
            store_keys(db, [(hit_id, row[_KEYS]) for hit_id, row in inserted])
            entries += len(batch)
            new += added
            existing += stored
            steps.added(added)
        store.finish_run(db, run_id, "complete", reported_count=entries,
                         file_sha256=sha.result())
        result = steps.finish()
    return ImportResult(run_id, name, fmt, entries, new, existing, result)


#: The row key that carries a hit's deduplication keys from the reading process.
_KEYS = "_dedupe_keys"


def _fingerprint(row: dict) -> None:
    row[_KEYS] = key_values(row)


class UnknownSearchError(EvidenceError):
    """``--source`` names no configured or stored search (a typo would start a new one)."""


def check_source(db: sqlite_utils.Database, config: Config | None, name: str, *,
                 new_search: bool = False) -> None:
    """Refuse a ``--source`` that is neither configured nor stored, unless ``new_search``.

    A misspelt search name would otherwise quietly become a new search, splitting a year's
    hits and counts between two names.
    """
    if new_search or _configured(config, name) or _stored(db, name):
        return
    known = {s.name for s in config.searches} if config else set()
    if db["searches"].exists():
        known |= {row["name"] for row in db["searches"].rows}
    listed = ", ".join(sorted(known)) if known else "none yet"
    raise UnknownSearchError(
        f"--source {name!r} is not a configured search (known: {listed}); "
        f"fix the name, or add --new-search to start a search called {name!r}")


def _stored(db: sqlite_utils.Database, name: str) -> Search | None:
    """A search stored by an earlier import, as it was stored (its query is kept)."""
    if not db["searches"].exists():
        return None
    row = next(db["searches"].rows_where("name = ?", [name]), None)
    if row is None:
        return None
    return Search(name=row["name"], source=row["source"] or "file", query=row["query"] or "",
                  description=row["description"] or "")


def _configured(config: Config | None, name: str) -> Search | None:
    if config is None:
        return None
    return next((s for s in config.searches if s.name == name), None)
