"""Login throttling and the password-hashing lane of the screening app.

Failed logins are counted per account and per client address over a sliding window; past
the limit, that account or address gets 429 without a password check until old failures age
out. PBKDF2 (600,000 rounds, about 0.3 s of CPU) runs in one thread of its own, with a short
queue, so a flood of logins cannot occupy Datasette's SQL threads or stall other pages:
a flood once took every page from 3 ms to 11 s.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

WINDOW_SECONDS = 15 * 60
#: Failures allowed in the window per account (a person mistyping) and per address (an
#: office behind one NAT address holds several reviewers).
MAX_PER_ACCOUNT = 5
MAX_PER_ADDRESS = 20
#: Logins waiting for the hashing thread beyond this are turned away at once.
MAX_WAITING = 8


class LoginThrottle:
    """Failure counts per key ("user:ana", "addr:10.0.0.5") in a sliding window."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._clock = clock

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures[key]
        while times and times[0] <= now - WINDOW_SECONDS:
            times.popleft()
        return times

    def wait_seconds(self, keys: Iterable[tuple[str, int]]) -> int:
        """Seconds until a login may be tried for these (key, limit) pairs; 0 when allowed."""
        now = self._clock()
        with self._lock:
            waits = [self._recent(key, now)[0] + WINDOW_SECONDS - now
                     for key, limit in keys if len(self._recent(key, now)) >= limit]
        return int(max(waits, default=0)) + (1 if waits else 0)

    def failed(self, keys: Iterable[str]) -> None:
        now = self._clock()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


def login_keys(username: str, address: str | None) -> list[tuple[str, int]]:
    return [(f"user:{username.lower()}", MAX_PER_ACCOUNT),
            (f"addr:{address or '?'}", MAX_PER_ADDRESS)]


class LaneBusy(Exception):
    """More logins are waiting for the hashing thread than :data:`MAX_WAITING`."""


class HashLane:
    """One thread for password hashing, with at most :data:`MAX_WAITING` logins queued."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pbkdf2")
        self._waiting = 0

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in the hashing thread; :class:`LaneBusy` when the queue is full."""
        if self._waiting >= MAX_WAITING:
            raise LaneBusy()
        self._waiting += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        finally:
            self._waiting -= 1


def for_app(datasette: Any) -> tuple[LoginThrottle, HashLane]:
    """The throttle and hashing lane of one server (kept on the Datasette instance)."""
    if getattr(datasette, "_evidence_login", None) is None:
        datasette._evidence_login = (LoginThrottle(), HashLane())
    return datasette._evidence_login
