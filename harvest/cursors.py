"""Deep paging with cursors, several date slices at once: the fetch Crossref and OpenAlex share.

Both services page a query with ``cursor=*`` and then the cursor each answer returns; a
cursor is sequential, so one query is one request at a time. A run's window is therefore cut
into ``slices`` date ranges (publication dates never overlap, and a hit is keyed by the
source's id anyway), each paged by its own cursor in its own thread, which sends the next
request as soon as an answer arrives (within the service's limits: the client's rate
limiter and semaphore enforce them) while the main thread stores pages in arrival order. A
slice fetches at most ``Plan.ahead`` pages beyond the last one stored, so memory stays
bounded when storing (or the deduplication the harvest command runs while it would wait)
is slower than the network. The checkpoint, saved by the run lifecycle with each page, holds
every slice's last stored cursor: a run killed at any moment resumes each slice after its
last stored page, and nothing is stored twice.

A slice ends with a page that comes back empty or without a next cursor, or, sparing that
request, with a short page that completes the total the service reported for the slice.

Which window: the configured one, or, once a run of the search is complete, from the last
run's window end (``--since`` overrides): the same rule as PubMed, so next year's run asks
only for what was published since.
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
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
    #: Items a full page holds (the request's rows / per-page): a shorter page that completes
    #: the slice's reported total is its last; None always asks for the empty page after.
    page_size: int | None = None
    #: Pages a slice may have fetched (or in flight) beyond the last one stored.
    ahead: int = 2


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
                                   "total": None, "fetched": 0, "at": None}
                                  for a, b in split(start, end, plan.slices)]
        yield Page(checkpoint=position, run={
            "window_start": start.isoformat() if start else None,
            "window_end": end.isoformat()})
    _expire_cursors(position, plan)
    yield from _pages(position, fetch_page, checkpoint.idle, plan)


def _expire_cursors(position: dict[str, Any], plan: Plan) -> None:
    if plan.cursor_lifetime is None:
        return
    now = time.time()
    restarted = 0
    for part in position["slices"]:
        if not part["done"] and part["cursor"] != "*" and \
                now - (part.get("at") or 0) > plan.cursor_lifetime:
            part.update(cursor="*", fetched=0)
            restarted += 1
    if restarted:
        position["notes"].append(
            f"{restarted} slice(s) paged again from the start ({plan.label} forgets a cursor"
            " after a few idle minutes); hits already stored were not stored twice")


def _reported(position: dict[str, Any]) -> int:
    return sum(part["total"] or 0 for part in position["slices"])


def _finished(items: list[Any], cursor: str, next_cursor: str | None, total: int | None,
              fetched: int | None, page_size: int | None) -> bool:
    """Is this page the slice's last? An empty page or no (new) next cursor says so; so does a
    short page once the slice holds the total the service reported (both must agree, so a
    total that is only an estimate never ends a slice early)."""
    if not items or not next_cursor or next_cursor == cursor:
        return True
    return (page_size is not None and fetched is not None and total is not None
            and len(items) < page_size and fetched >= total)


def _pages(position: dict[str, Any], fetch_page: FetchPage, idle: Callable[[], None],
           plan: Plan) -> Iterator[Page]:
    """Pages of every unfinished slice as they arrive, each slice in its own order.

    Each slice is followed by a thread of its own (:func:`_follow`) that asks for the next
    page as soon as an answer arrives, so the requests allowed in flight stay busy while the
    main thread stores (or deduplicates, in ``idle``). A slice's thread and the main thread
    meet only through ``answers`` (a queue, so one slice's pages arrive in order) and the
    slice's ``room`` (how many more pages it may fetch before the main thread stores one).
    ``position`` is changed by the main thread only, as each page is handed out to be stored.
    """
    slices = position["slices"]
    open_slices = [i for i, part in enumerate(slices) if not part["done"]]
    if not open_slices:
        return
    answers: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()
    room = {i: threading.Semaphore(max(1, plan.ahead)) for i in open_slices}
    # not a `with`: on Ctrl-C or an error the run is marked at once, without waiting for
    # the requests still in flight (they end within their timeout)
    pool = ThreadPoolExecutor(max_workers=len(open_slices), thread_name_prefix="cursor")

    def follow(i: int) -> None:
        part = slices[i]
        pool.submit(_follow, i, part["from"], part["to"], part["cursor"], part.get("fetched"),
                    fetch_page, plan.page_size, room[i], stop, answers)

    for i in open_slices:
        follow(i)
    running = len(open_slices)
    try:
        while running:
            try:
                i, cursor, answer = answers.get_nowait()
            except queue.Empty:
                idle()  # nothing to store: the harvest command deduplicates meanwhile
                i, cursor, answer = answers.get()
            part = slices[i]
            if isinstance(answer, CursorExpired):
                part["restarts"] = part.get("restarts", 0) + 1
                if cursor == "*" or part["restarts"] > 3:
                    raise ApiError(f"the service keeps refusing its own cursors: {answer}") \
                        from answer
                part.update(cursor="*", fetched=0)
                position["notes"].append(
                    "a slice was paged again from the start (the service had "
                    "forgotten its cursor); hits already stored were not stored twice")
                room[i].release()  # the refused request's room
                follow(i)
                continue
            if isinstance(answer, BaseException):
                raise answer
            items, next_cursor, total, fetched, finished = answer
            if total is not None:
                part["total"] = total
            part.update(cursor=next_cursor or part["cursor"], done=finished, fetched=fetched,
                        at=time.time())
            running -= finished
            yield Page(items=items, checkpoint=position, reported=_reported(position))
            room[i].release()
    finally:
        stop.set()
        for each in room.values():
            each.release()  # a thread waiting for room wakes, sees stop and ends
        pool.shutdown(wait=False, cancel_futures=True)


def _follow(i: int, start: str | None, end: str | None, cursor: str, fetched: int | None,
            fetch_page: FetchPage, page_size: int | None, room: threading.Semaphore,
            stop: threading.Event, answers: queue.SimpleQueue) -> None:
    """Page one slice from ``cursor``, one request at a time, each sent as soon as the answer
    before it arrives (and there is room); every answer, refusal or error goes to
    ``answers`` as ``(slice, cursor asked, answer)``, and the thread ends after the last."""
    try:
        while True:
            room.acquire()
            if stop.is_set():
                return
            try:
                items, next_cursor, total = fetch_page(start, end, cursor)
            except CursorExpired as e:
                answers.put((i, cursor, e))
                return
            if fetched is not None:
                fetched += len(items)
            finished = _finished(items, cursor, next_cursor, total, fetched, page_size)
            answers.put((i, cursor, (items, next_cursor, total, fetched, finished)))
            if finished or stop.is_set():
                return
            cursor = next_cursor  # type: ignore[assignment]  # not finished: there is one
    except BaseException as e:  # noqa: BLE001 - handed to the main thread, which raises it
        answers.put((i, cursor, e))
