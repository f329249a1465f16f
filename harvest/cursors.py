"""Deep paging with cursors, several date slices at once: the fetch Crossref and OpenAlex share.

Both services page a query with ``cursor=*`` and then the cursor each answer returns; a
cursor is sequential, so one query is one request at a time. A run's window is therefore cut
into ``slices`` date ranges (publication dates never overlap, and a hit is keyed by the
source's id anyway), each paged by its own cursor, ``slices`` requests in flight in all
(within the service's limits: the client's rate limiter and semaphore enforce them), while
the main thread stores the page before. The checkpoint, saved by the run lifecycle with each
page, holds every slice's last stored cursor: a run killed at any moment resumes each slice
after its last stored page, and nothing is stored twice.

Which window: the configured one, or, once a run of the search is complete, from the last
run's window end (``--since`` overrides): the same rule as PubMed, so next year's run asks
only for what was published since.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from evidence.config import Search
from evidence.harvest.sources import Checkpoint, Page
from evidence.harvest.webapi import ApiError

#: One page: (items, next cursor or None, total the service reports for the slice).
PageAnswer = tuple[list[Any], str | None, int | None]
#: ``fetch_page(start, end, cursor)`` -> PageAnswer; start/end are ISO dates or None.
FetchPage = Callable[[str | None, str | None, str], PageAnswer]


class CursorExpired(Exception):
    """The service no longer knows a saved cursor: its slice is paged again from ``*``."""


@dataclass
class Plan:
    """How a source pages: its label, slices in flight, and how old a saved cursor may be."""

    label: str
    slices: int = 3
    #: A cursor saved longer ago than this is not reused (Crossref forgets one after five
    #: minutes idle): the slice starts again from ``*``; pages already stored are not
    #: stored twice.
    cursor_lifetime: float | None = None


def split(start: dt.date | None, end: dt.date, parts: int) -> list[tuple[str | None, str]]:
    """``parts`` consecutive date ranges covering start..end (one open range without start)."""
    if start is None or parts <= 1 or (end - start).days + 1 < parts:
        return [(start.isoformat() if start else None, end.isoformat())]
    days = (end - start).days + 1
    edges = [start + dt.timedelta(days=days * i // parts) for i in range(parts + 1)]
    return [(edges[i].isoformat(), (edges[i + 1] - dt.timedelta(days=1)).isoformat())
            for i in range(parts)]


def fetch(search: Search, checkpoint: Checkpoint, plan: Plan,
          fetch_page: FetchPage) -> Iterator[Page]:
    """Pages of raw items for one run, as the run lifecycle stores them (see module doc)."""
    position = checkpoint.position
    if position.get("slices") is None:
        start, end = checkpoint.window(search)
        position.clear()
        position["notes"] = []
        if start and start > end:
            position["slices"] = []
            position["notes"].append(f"nothing new to ask for: the window ends {end}, "
                                     f"harvested up to {start}")
        else:
            position["slices"] = [{"from": a, "to": b, "cursor": "*", "done": False,
                                   "total": None, "at": None} for a, b in split(start, end,
                                                                               plan.slices)]
        yield Page(checkpoint=position, run={
            "window_start": start.isoformat() if start else None,
            "window_end": end.isoformat()})
    _expire_cursors(position, plan)
    yield from _pages(position, fetch_page, checkpoint.idle)


def _expire_cursors(position: dict[str, Any], plan: Plan) -> None:
    if plan.cursor_lifetime is None:
        return
    now = time.time()
    restarted = 0
    for part in position["slices"]:
        if not part["done"] and part["cursor"] != "*" and \
                now - (part.get("at") or 0) > plan.cursor_lifetime:
            part["cursor"] = "*"
            restarted += 1
    if restarted:
        position["notes"].append(
            f"{restarted} slice(s) paged again from the start ({plan.label} forgets a cursor"
            " after a few idle minutes); hits already stored were not stored twice")


def _reported(position: dict[str, Any]) -> int:
    return sum(part["total"] or 0 for part in position["slices"])


def _pages(position: dict[str, Any], fetch_page: FetchPage,
           idle: Callable[[], None]) -> Iterator[Page]:
    """One request in flight per unfinished slice; pages yielded as they arrive."""
    slices = position["slices"]
    open_slices = [i for i, part in enumerate(slices) if not part["done"]]
    if not open_slices:
        return
    # not a `with`: on Ctrl-C or an error the run is marked at once, without waiting for
    # the requests still in flight (they end within their timeout)
    pool = ThreadPoolExecutor(max_workers=len(open_slices), thread_name_prefix="cursor")

    def submit(i: int) -> Future:
        part = slices[i]
        return pool.submit(fetch_page, part["from"], part["to"], part["cursor"])

    pending = {submit(i): i for i in open_slices}
    try:
        while pending:
            if not any(f.done() for f in pending):
                idle()
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                i = pending.pop(future)
                part = slices[i]
                try:
                    items, next_cursor, total = future.result()
                except CursorExpired as e:
                    part["restarts"] = part.get("restarts", 0) + 1
                    if part["cursor"] == "*" or part["restarts"] > 3:
                        raise ApiError(f"the service keeps refusing its own cursors: {e}") \
                            from e
                    part["cursor"] = "*"
                    position["notes"].append(
                        "a slice was paged again from the start (the service had "
                        "forgotten its cursor); hits already stored were not stored twice")
                    pending[submit(i)] = i
                    continue
                if total is not None:
                    part["total"] = total
                finished = not items or not next_cursor or next_cursor == part["cursor"]
                if not finished:
                    # ask for the next page before storing this one
                    part_next = dict(part, cursor=next_cursor)
                    pending[pool.submit(fetch_page, part_next["from"], part_next["to"],
                                        next_cursor)] = i
                part.update(cursor=next_cursor or part["cursor"], done=finished,
                            at=time.time())
                yield Page(items=items, checkpoint=position, reported=_reported(position))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
