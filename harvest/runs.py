"""The run lifecycle, written once for every source.

For one search: ensure its row, resume its unfinished run (sources that can) or start one,
hand the source a :class:`~evidence.harvest.sources.Checkpoint`, and store every page the
source yields in one transaction with the page's checkpoint (so kill -9 between pages loses
nothing and duplicates nothing). Ctrl-C marks the run ``interrupted``, an error ``failed``
with its message; a progress bar goes to stderr. :func:`harvest` runs the configured searches
and the deduplication: it is what `evidence harvest` calls.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from evidence.config import Config, ConfigError, Search, ServiceSettings
from evidence.db.config_sync import sync_config
from evidence.dedupe.cluster import Steps
from evidence.errors import EvidenceError
from evidence.harvest import FILE_SOURCE, get_source, store
from evidence.harvest.sources import Checkpoint, Page, Source


def harvest_search(db: sqlite_utils.Database, search: Search, config: Config | None,
                   services: ServiceSettings, *, since: dt.date | None = None,
                   progress: bool = False, today: dt.date | None = None,
                   idle: Callable[[], None] | None = None,
                   **options: Any) -> store.RunSummary:
    """Run one search (or resume its unfinished run) and store its hits.

    ``idle`` is called when the source would wait for the network, between pages (the
    harvest command deduplicates then). ``options`` go to the source's ``fetch`` (tests pass
    a client or a sleep function).
    """
    source = _source_of(search)
    search_id = store.ensure_search(db, search)
    checkpoint = _open_run(db, search_id, search, source, since, today)
    checkpoint.config = config
    if idle:
        checkpoint.idle = idle
    run_id, deleted, updated = checkpoint.run_id, 0, []
    try:
        with _progress(db, run_id, search, progress) as bar:
            for page in source.fetch(search, services, checkpoint, **options):
                stored, marked = save_page(db, source, search_id, run_id, page, updated)
                deleted += marked
                bar(page, stored)
    except KeyboardInterrupt:
        store.finish_run(db, run_id, "interrupted",
                         error="interrupted; the next `evidence harvest` resumes this run"
                         if source.resumable else "interrupted")
        raise
    except EvidenceError as e:
        store.finish_run(db, run_id, "failed", error=str(e))
        e.args = (f"{source.title} search {search.name!r} (run {run_id}): {e}",)
        raise
    except Exception as e:
        store.finish_run(db, run_id, "failed", error=f"{type(e).__name__}: {e}")
        raise
    store.finish_run(db, run_id, "complete")
    summary = _summary(db, search, run_id, checkpoint.resumed)
    extra = [f"{len(updated)} changed at the source (hits and records updated)"
             if updated else "", f"{deleted} deleted in {source.title}" if deleted else ""]
    summary.message = "; ".join(filter(None, [summary.message, *extra]))
    return summary


def _source_of(search: Search) -> Source:
    source = get_source(search.source)
    if source is None:
        raise ConfigError("", None, "", f"search {search.name!r}: {search.source} searches "
                          f"are not harvested (use `evidence import FILE --source "
                          f"{search.name}`)")
    return source


def _open_run(db: sqlite_utils.Database, search_id: int, search: Search, source: Source,
              since: dt.date | None, today: dt.date | None) -> Checkpoint:
    """The unfinished run to resume (resumable sources), else a new one, as a Checkpoint."""
    previous_run = next(db.query(
        "SELECT * FROM runs WHERE search_id = ? AND status = 'complete' ORDER BY id DESC"
        " LIMIT 1", [search_id]), None)
    checkpoint = Checkpoint(run_id=0, previous_run=previous_run, since=since, today=today,
                            previous=_json(previous_run["checkpoint"]) if previous_run else {})
    row = db.execute("SELECT id, checkpoint FROM runs WHERE search_id = ? AND status IN"
                     " ('running', 'interrupted') ORDER BY id DESC LIMIT 1",
                     [search_id]).fetchone() if source.resumable else None
    if row:
        db["runs"].update(row[0], {"status": "running", "error": None})
        checkpoint.run_id, checkpoint.position, checkpoint.resumed = row[0], _json(row[1]), True
    else:
        checkpoint.run_id = store.start_run(db, search_id, query=search.query,
                                            window_start=str(since) if since else None)
    return checkpoint


def _json(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def save_page(db: sqlite_utils.Database, source: Source, search_id: int, run_id: int,
              page: Page, updated: list[int] | None = None) -> tuple[int, int]:
    """A page's hits, deletions and checkpoint: one transaction.

    Returns (hits stored, hits newly flagged as deleted); ids of stored hits whose fields
    changed at the source go to ``updated``.
    """
    hits = page.hits if page.hits is not None else [source.to_hit(i) for i in page.items]
    columns = dict(page.run)
    if page.checkpoint is not None:
        columns["checkpoint"] = json.dumps(page.checkpoint)
    if page.reported is not None:
        columns["reported_count"] = page.reported
    with db.atomic():
        if source.before_save:
            source.before_save(db, search_id, page, hits)
        if hits:
            store.save_hits(db, run_id, hits, update_existing=source.update_existing,
                            updated=updated)
        marked = store.mark_deleted(db, search_id, page.deleted) if page.deleted else 0
        if columns:
            db["runs"].update(run_id, columns)
    return len(hits), marked


def _summary(db: sqlite_utils.Database, search: Search, run_id: int,
             resumed: bool) -> store.RunSummary:
    run = db["runs"].get(run_id)
    notes = list(_json(run["checkpoint"]).get("notes") or [])
    if resumed:
        notes.insert(0, f"resumed run {run_id}")
    return store.RunSummary(search=search.name, run_id=run_id,
                            reported=run["reported_count"] or 0, fetched=run["hit_count"],
                            new=run["new_hit_count"], status=run["status"],
                            message="; ".join(notes))


@contextlib.contextmanager
def _progress(db: sqlite_utils.Database, run_id: int, search: Search, enabled: bool):
    """A progress bar on stderr (none unless ``enabled``), as ``update(page, stored)``."""
    if not enabled:
        yield lambda page, stored: None
        return
    from tqdm import tqdm

    run = db["runs"].get(run_id)
    with tqdm(total=run["reported_count"], initial=run["hit_count"] or 0, unit=" records",
              desc=search.name, file=sys.stderr, leave=False) as bar:
        def update(page: Page, stored: int) -> None:
            if page.reported is not None and page.reported != bar.total:
                bar.total = page.reported
                bar.refresh()
            bar.update(stored)

        yield update


@dataclass
class HarvestResult:
    """What `evidence harvest` did: one summary per search, skipped searches, the dedupe."""

    runs: list[store.RunSummary] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (search, message)
    dedupe: Any = None


def harvest(db: sqlite_utils.Database, config: Config, services: ServiceSettings, *,
            names: Iterable[str] = (), since: dt.date | None = None, progress: bool = False,
            report: Callable[[str, bool], None] = lambda line, err: None) -> HarvestResult:
    """Run the configured searches (or those ``names``), then fold new hits into records.

    ``report(line, err)`` receives one line per search as it finishes (the CLI prints them;
    ``err`` marks advice rather than results).
    The deduplication overlaps the fetching: while a source waits for the network, the hits
    stored so far are folded into records (``dedupe.cluster.Steps``, at least 1,000 at a
    time); the rest follow at the end.
    """
    searches = [config.search(n) for n in names] if names else list(config.searches)
    sync_config(db, config)
    result = HarvestResult()
    deduper = Steps(db, config.dedupe, first=1000)
    for search in searches:
        if search.source == FILE_SOURCE or get_source(search.source) is None:
            result.skipped.append(search.name)
            report(f"{search.name}: {search.source} searches arrive as files; "
                   f"use `evidence import FILE --source {search.name}`", True)
            continue
        try:
            summary = harvest_search(db, search, config, services, since=since,
                                     progress=progress, idle=deduper.when_enough_wait)
        except Exception as e:  # noqa: BLE001 (Ctrl-C still stops the whole harvest)
            # One search failing (its run is stored as failed, with the message) must not keep
            # the others from running; the command says so at the end and exits non-zero.
            message = str(e) if isinstance(e, EvidenceError) else f"{type(e).__name__}: {e}"
            result.failed.append((search.name, message))
            report(f"{search.name}: failed: {message}", True)
            continue
        result.runs.append(summary)
        report(format_summary(summary), False)
    result.dedupe = deduper.finish()
    return result


def format_summary(summary: store.RunSummary) -> str:
    return (f"{summary.search}: {summary.status}, {summary.reported} reported, "
            f"{summary.fetched} fetched, {summary.new} new"
            + (f" ({summary.message})" if summary.message else ""))
