"""Cursor paging (harvest/cursors.py) and the polite client's rate limit, without a network.

What the stand-in tests (test_scholarly_sources.py) cannot pin down exactly: that a slice's
next request never waits for the page before it to be stored, how far a slice may run
ahead, when a slice ends, and that the rate limit is a window, not a spacing.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from evidence.config import DateWindow, Search
from evidence.harvest import cursors, webapi
from evidence.harvest.sources import Checkpoint

WINDOW = DateWindow(start=dt.date(2024, 1, 1), end=dt.date(2024, 12, 31))


class Service:
    """Answers ``fetch_page`` from memory: ``pages`` pages of ``size`` items per slice (the last
    one ``last`` items), then, asked again, an empty page; every call is logged."""

    def __init__(self, pages: int, size: int = 10, last: int | None = None):
        self.pages, self.size, self.last = pages, size, size if last is None else last
        self.calls: list[tuple[str | None, str]] = []
        self.lock = threading.Lock()

    def total(self) -> int:
        return (self.pages - 1) * self.size + self.last

    def __call__(self, start, end, cursor):
        with self.lock:
            self.calls.append((start, cursor))
        n = 0 if cursor == "*" else int(cursor.rsplit(":", 1)[1])
        count = 0 if n >= self.pages else self.last if n == self.pages - 1 else self.size
        items = [f"{start}:{n}:{i}" for i in range(count)]
        return items, f"{start}:{n + 1}", self.total()


def pages_of(service: Service, plan: cursors.Plan, idle=lambda: None):
    checkpoint = Checkpoint(run_id=1, today=dt.date(2025, 1, 1))
    checkpoint.idle = idle
    search = Search(name="s", source="crossref", query="x", window=WINDOW)
    return cursors.fetch(search, checkpoint, plan, service), checkpoint


def wait_for(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_slices_fetch_ahead_while_a_page_is_being_stored_but_no_further():
    service = Service(pages=10)
    pages, _ = pages_of(service, cursors.Plan(label="T", slices=3, ahead=2))
    next(pages)  # the plan (slices and window), stored before any request
    first = next(pages)
    assert len(first.items) == 10
    # the consumer is "storing" the first page and has not come back: every slice goes on
    # by itself, up to 2 pages beyond what is stored, and then waits
    wait_for(lambda: len(service.calls) == 6)
    time.sleep(0.2)
    assert len(service.calls) == 6
    rest = list(pages)
    assert sum(len(p.items) for p in [first, *rest]) == 3 * 10 * 10
    assert len({i for p in [first, *rest] for i in p.items}) == 300


def test_a_short_page_completing_the_reported_total_ends_the_slice():
    service = Service(pages=3, size=10, last=4)
    pages, checkpoint = pages_of(service, cursors.Plan(label="T", slices=3, page_size=10))
    stored = [p for p in pages if p.items]
    assert sum(len(p.items) for p in stored) == 3 * 24
    assert len(service.calls) == 9  # 3 pages a slice; no empty page asked for after
    assert all(s["done"] and s["fetched"] == 24 for s in checkpoint.position["slices"])


def test_the_empty_page_is_still_asked_for_when_the_end_is_not_certain():
    # a full last page, or no page size known: the total alone never ends a slice
    for service, plan in ((Service(pages=3, size=10), cursors.Plan("T", 1, page_size=10)),
                          (Service(pages=3, last=4), cursors.Plan("T", 1))):
        list(pages_of(service, plan)[0])
        assert len(service.calls) == 4


@pytest.mark.parametrize("items, fetched, total, page_size, end", [
    (4, 24, 24, 10, True),     # short and complete
    (4, 24, 30, 10, False),    # short but the service reported more: ask again
    (10, 30, 30, 10, False),   # complete but full: the empty page tells
    (4, 24, None, 10, False),  # no total reported
    (4, None, 24, 10, False),  # a slice resumed from a checkpoint that did not count
    (0, 20, 30, 10, True),     # an empty page always ends it
])
def test_when_a_slice_ends(items, fetched, total, page_size, end):
    assert cursors._finished(["w"] * items, "c1", "c2", total, fetched, page_size) is end
    assert cursors._finished(["w"] * 10, "c1", None, 99, 10, 10)  # no next cursor
    assert cursors._finished(["w"] * 10, "c1", "c1", 99, 10, 10)  # the same cursor again


def test_an_error_in_a_slice_reaches_the_harvest_and_stops_the_others():
    service = Service(pages=50)

    def failing(start, end, cursor):
        if cursor.endswith(":3"):
            raise webapi.ApiError("gave up")
        return service(start, end, cursor)

    pages, _ = pages_of(failing, cursors.Plan(label="T", slices=3))
    with pytest.raises(webapi.ApiError, match="gave up"):
        list(pages)
    calls = len(service.calls)
    time.sleep(0.2)
    assert len(service.calls) == calls < 3 * 50


def test_idle_is_called_only_when_nothing_is_ready():
    gate = threading.Event()
    service = Service(pages=2)

    def slow(start, end, cursor):
        gate.wait(5)
        return service(start, end, cursor)

    idled = []
    pages, _ = pages_of(slow, cursors.Plan(label="T", slices=2),
                        idle=lambda: (idled.append(1), gate.set()))
    assert sum(len(p.items) for p in pages) == 2 * 2 * 10
    assert idled  # the harvest deduplicates while it waits for the network


def test_the_rate_limit_is_a_window_not_a_spacing(monkeypatch):
    """10 a second: ten may start at once, the eleventh one second after the first."""
    clock = [100.0]
    monkeypatch.setattr(webapi.time, "monotonic", lambda: clock[0])
    limiter = webapi.RateLimiter(10)
    starts = []
    for _ in range(25):
        limiter.wait(sleep=lambda s: clock.__setitem__(0, clock[0] + s))
        starts.append(clock[0] - 100.0)
    assert starts[:10] == [0.0] * 10 and starts[10:20] == [1.0] * 10 and starts[20] == 2.0
    assert all(sum(1 for s in starts if a <= s < a + 1) <= 10 for a in starts)


@pytest.mark.parametrize("rate, most, span", [(2.5, 2, 1.0), (0.5, 1, 2.0), (1, 1, 1.0)])
def test_a_fractional_rate_never_exceeds_itself(monkeypatch, rate, most, span):
    clock = [0.0]
    monkeypatch.setattr(webapi.time, "monotonic", lambda: clock[0])
    limiter = webapi.RateLimiter(rate)
    starts = []
    for _ in range(9):
        limiter.wait(sleep=lambda s: clock.__setitem__(0, clock[0] + s))
        starts.append(clock[0])
    assert all(sum(1 for s in starts if a <= s < a + span) <= most for a in starts)
    assert len(starts) / (starts[-1] + span) <= rate + 1e-9
