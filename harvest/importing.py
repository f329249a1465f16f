"""Import one exported file as one run: all of it, or (on any error) none of it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlite_utils
from evidence.dedupe import cluster as dedupe
from evidence.harvest import files, store

from evidence.config import Config, Search


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
                fmt: str | None = None, config: Config | None = None) -> ImportResult:
    """Read ``path`` and store its entries as hits of the search named ``source``.

    ``source`` defaults to the file's stem. When it names a configured search, the hits belong
    to that search. The whole file is one transaction: a bad entry anywhere leaves the
    database exactly as it was, and the error names the file and the entry.
    """
    path = Path(path)
    fmt = fmt or files.detect_format(path)
    if fmt == "xlsx":
        # An evidence table carries decisions and themes too: its own importer keeps them.
        from evidence.harvest.evidence_table import import_evidence_table

        return import_evidence_table(db, path, source=source, config=config)
    name = source or path.stem
    search = _configured(config, name) or Search(name=name, source="file")
    sha = store.file_sha256(str(path))
    with db.atomic():
        search_id = store.ensure_search(db, search)
        run_id = store.start_run(db, search_id, query=search.query or None,
                                 file_path=str(path), file_sha256=sha)
        entries = list(files.read_file(path, fmt))
        new, existing = store.save_hits(db, run_id, entries)
        store.finish_run(db, run_id, "complete", reported_count=len(entries))
        result = dedupe.dedupe(db, config.dedupe if config else None)
    return ImportResult(run_id, name, fmt, len(entries), new, existing, result)


def _configured(config: Config | None, name: str) -> Search | None:
    if config is None:
        return None
    return next((s for s in config.searches if s.name == name), None)
