"""The PubMed fetch: date window, slices of fewer than 10,000 records, batches in flight.

One run covers a date window. ESearch answers at most 9,999 records per query, so a window
that reports more is halved by days until every slice fits (a single day that still does not
fit is fetched up to the cap and the run's message says so). The slice plan and the position
inside it are the run's checkpoint, saved by the run lifecycle in the same transaction as each
EFetch batch's hits, so a run killed at any point is resumed without duplicates.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

from evidence.config import Search, ServiceSettings
from evidence.harvest.pubmed.client import (
    EUtils,
    History,
    HistoryExpired,
    PubMedError,
    _Transient,
    parse_articles,
)
from evidence.harvest.pubmed.convert import to_hit
from evidence.harvest.sources import Checkpoint, Page

#: ESearch/EFetch cannot page past this many records of one query (retstart <= 9,998).
MAX_RESULTS = 9_999
BATCH_SIZE = 500
EARLIEST = dt.date(1800, 1, 1)


def fetch(search: Search, services: ServiceSettings, checkpoint: Checkpoint, *,
          client: EUtils | None = None, batch_size: int = BATCH_SIZE) -> Iterator[Page]:
    """Plan the run's slices (a new run), then yield one page per EFetch batch, in order."""
    client = client or EUtils.from_services(services)
    date_field = (search.settings or {}).get("date_field") or "pdat"
    position = checkpoint.position
    if position.get("slices") is None:
        start, end = default_window(search, checkpoint)
        notes: list[str] = []
        slices = plan_slices(client, search.query, date_field, start, end, notes)
        position.clear()
        position.update(slices=slices, slice=0, retstart=0, notes=notes)
        yield Page(checkpoint=position, reported=_reported(position),
                   run={"window_start": start.isoformat(), "window_end": end.isoformat()})
    with _Pipeline(client, batch_size, depth(client), checkpoint.idle) as pipeline:
        for index in range(position["slice"], len(position["slices"])):
            if index != position["slice"]:
                position.update(slice=index, retstart=0)
            for hits in pipeline.slice_batches(search.query, date_field, position):
                yield Page(hits=hits, checkpoint=position, reported=_reported(position))
    position.update(slice=len(position["slices"]), retstart=0)
    yield Page(checkpoint=position)
    if position.get("missing"):
        reported = _reported(position)
        raise PubMedError(
            f"ESearch reported {reported} records but EFetch returned "
            f"{max(reported - position['missing'], 0)}; the run is not complete (the records "
            "fetched are kept). Run `evidence harvest` again; if it persists, PubMed's index is "
            "out of step with its records")


def depth(client: EUtils) -> int:
    """How many EFetch batches to keep in flight.

    An answer of 500 records takes NCBI about 2 s (150 ms + 4 ms per record), so one batch at
    a time uses a fraction of the request budget: with an API key (10 requests/s) eight in
    flight still stay far below it (the rate limiter enforces it anyway), without one three.
    Against an unlimited local server the parsers are the limit, and three suffice.
    """
    per_second = client.rate()
    if per_second <= 0:
        return 3
    return max(3, min(8, int(per_second) - 2))


def _reported(position: dict[str, Any]) -> int:
    return sum(s[2] for s in position["slices"])


def default_window(search: Search, checkpoint: Checkpoint) -> tuple[dt.date, dt.date]:
    """Since the last complete run (or ``--since``), else the configured window, up to its end."""
    start, end = checkpoint.window(search)
    start = start or EARLIEST
    if start > end:
        raise PubMedError(f"search {search.name!r}: window starts {start} after it ends {end};"
                          " use an earlier --since or a later window.to/cutoff")
    return start, end


def plan_slices(client: EUtils, query: str, date_field: str, start: dt.date, end: dt.date,
                notes: list[str]) -> list[list[Any]]:
    """Date slices ``[start, end, count]`` that each report fewer than 10,000 records."""
    history = client.esearch(query, date_field, start, end)
    if history.count <= MAX_RESULTS or start >= end:
        if history.count > MAX_RESULTS:
            notes.append(f"{start} alone has {history.count} records; only the first "
                         f"{MAX_RESULTS} are fetched (narrow the query)")
        return [[start.isoformat(), end.isoformat(), history.count]] if history.count else []
    middle = start + dt.timedelta(days=(end - start).days // 2)
    return (plan_slices(client, query, date_field, start, middle, notes)
            + plan_slices(client, query, date_field, middle + dt.timedelta(days=1), end, notes))


def _hits_from_xml(body: bytes) -> list[dict[str, Any]]:
    """Parse one EFetch answer into hit dicts (runs in a parser process).

    ``raw`` leaves as JSON text (what store.normalise_hit would make of it): a string is cheaper
    to send back than nested dicts, and the storing thread is the one that cannot be parallel.
    """
    try:
        hits = [to_hit(a) for a in parse_articles(body)]
    except _Transient as e:
        raise PubMedError(str(e)) from None
    for hit in hits:
        hit["raw"] = json.dumps(hit["raw"], ensure_ascii=False)
    return hits


def _watch_parent(parent: int) -> None:
    """In a parser process: exit when the harvester is gone (kill -9 leaves no orphans).

    A forked worker inherits the write end of its own task pipe, so it never sees EOF when
    the parent dies; it would wait for work forever.
    """
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="watch-parent").start()


class _Pipeline:
    """Downloads, parses and stores EFetch batches at the same time, in order.

    ``depth`` batches are in flight (see :func:`depth`): each is downloaded by a thread
    (retries and rate limit as usual) and parsed by one of two processes (Bio.Entrez's parser
    is pure Python, so threads would queue on the GIL), while the main thread stores the
    batch before them. When the main thread would wait for the network it calls ``idle``
    (the harvest command deduplicates the hits stored so far then).
    """

    def __init__(self, client: EUtils, batch_size: int, depth: int = 3,
                 idle: Callable[[], None] | None = None):
        self.client, self.batch_size, self.depth = client, batch_size, depth
        self.idle = idle
        self.threads = ThreadPoolExecutor(max_workers=depth)
        self.processes: ProcessPoolExecutor | None = None

    def __enter__(self) -> _Pipeline:
        # Start the parser processes now, from this thread, before any download thread runs:
        # forking while another thread holds a lock (as requests' can) may hang the child.
        self.processes = ProcessPoolExecutor(max_workers=min(2, os.cpu_count() or 1),
                                             initializer=_watch_parent, initargs=(os.getpid(),))
        self.processes.submit(os.getpid).result()
        return self

    def __exit__(self, *exc: object) -> None:
        self.threads.shutdown(wait=True, cancel_futures=True)
        if self.processes:
            self.processes.shutdown(wait=True, cancel_futures=True)

    def _parse(self, body: bytes) -> list[dict[str, Any]]:
        assert self.processes is not None, "use the pipeline as a context manager"
        return self.processes.submit(_hits_from_xml, body).result()

    def _batch(self, history: History, retstart: int, retmax: int) -> list[dict[str, Any]]:
        return self._parse(self.client.efetch_xml(history, retstart, retmax))

    def slice_batches(self, query: str, date_field: str,
                      checkpoint: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Hit batches of the checkpoint's current slice from its retstart; advances it."""
        start, end, _count = checkpoint["slices"][checkpoint["slice"]]
        start, end = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
        renewals = 0
        retstart = checkpoint["retstart"]
        while True:
            history = self.client.esearch(query, date_field, start, end)
            if history.count != checkpoint["slices"][checkpoint["slice"]][2]:
                # PubMed changed under a resumed or renewed slice: positions may have moved, so
                # fetch the slice again from the top (hits already stored are not stored twice).
                checkpoint["slices"][checkpoint["slice"]][2] = history.count
                retstart = 0
            limit = min(history.count, MAX_RESULTS)
            starts = iter(range(retstart, limit, self.batch_size))
            pending: deque[tuple[int, Future]] = deque()
            try:
                while True:
                    while len(pending) < self.depth:
                        at = next(starts, None)
                        if at is None:
                            break
                        size = min(self.batch_size, limit - at)
                        pending.append((at, self.threads.submit(self._batch, history, at, size)))
                    if not pending:
                        return
                    at, future = pending.popleft()
                    if self.idle and not future.done():
                        self.idle()
                    hits = future.result()
                    # Records the count promised but EFetch did not give (an empty answer ends
                    # the slice: the rest of it is missing too), so the run is not complete.
                    short = (min(self.batch_size, limit - at) if hits else limit - at) - len(hits)
                    if short > 0:
                        checkpoint["missing"] = checkpoint.get("missing", 0) + short
                    retstart = at + self.batch_size
                    checkpoint["retstart"] = retstart
                    yield hits
                    if not hits:
                        return
            except HistoryExpired:
                renewals += 1
                if renewals > 3:
                    raise
            finally:
                for _at, future in pending:
                    future.cancel()
