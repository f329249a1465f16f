"""Login throttling and the password-hashing lane of the screening app.

Failed logins are counted per account and per client address over a sliding window; past
the limit, that account or address gets 429 without a password check until old failures age
out. A login *reserves* its place under the limits before its password is checked
(:meth:`LoginThrottle.begin`), so twelve guesses sent at once on one account check five
passwords, not eight: counting only finished failures let every guess in flight through.

PBKDF2 (600,000 rounds, about 0.3 s of CPU) runs in one thread of its own, so a flood of
logins cannot occupy Datasette's SQL threads or stall other pages (a flood once took every
page from 3 ms to 11 s). Its queue is short and shared fairly (:class:`HashLane`): a login
from a quiet address displaces a flooding address's newest place, and a browser that logged in to
this account before (a signed device cookie, as OWASP's "device cookies" suggest) goes ahead of
the queue and is not locked out by other people's failures on its account, so a flood of
wrong guesses no longer turns the real reviewer away with 429.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections import Counter, defaultdict, deque
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
#: Seconds to wait when the limit is reached only by logins still being checked.
IN_FLIGHT_WAIT = 5
#: A refused (429) login is answered after this pause: free for the server (nothing runs
#: meanwhile), and a client looping guesses no longer turns the cheap refusal into a flood
#: that slows every other page (bench/security_bench.py: the queue page's median went from
#: 20-30 ms to 200-300 ms once refusals came at once, before this pause).
REFUSAL_PAUSE = 1.0
#: The device cookie: set after a correct password, good for a year on that browser.
DEVICE_COOKIE = "evidence_device"
DEVICE_SECONDS = 365 * 24 * 3600


class LoginThrottle:
    """Failure counts per key ("user:ana", "addr:10.0.0.5") in a sliding window, plus the
    logins being checked now (reserved by :meth:`begin`, released by :meth:`end`)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._checking: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._clock = clock

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures[key]
        while times and times[0] <= now - WINDOW_SECONDS:
            times.popleft()
        return times

    def _wait(self, keys: list[tuple[str, int]], now: float) -> int:
        waits = []
        for key, limit in keys:
            recent = self._recent(key, now)
            if len(recent) + self._checking[key] >= limit:
                waits.append(recent[0] + WINDOW_SECONDS - now if len(recent) >= limit
                             else IN_FLIGHT_WAIT)
        return int(max(waits, default=0)) + (1 if waits else 0)

    def wait_seconds(self, keys: Iterable[tuple[str, int]]) -> int:
        """Seconds until a login may be tried for these (key, limit) pairs; 0 when allowed."""
        with self._lock:
            return self._wait(list(keys), self._clock())

    def begin(self, keys: Iterable[tuple[str, int]]) -> int:
        """Reserve a check under every limit at once: 0 when reserved (call :meth:`end`
        afterwards), else the seconds to wait, with nothing reserved."""
        keys = list(keys)
        with self._lock:
            wait = self._wait(keys, self._clock())
            if not wait:
                self._checking.update(key for key, _limit in keys)
            return wait

    def end(self, keys: Iterable[tuple[str, int]], *, failed: bool) -> None:
        """Release a reservation; a failure is counted against every key."""
        now = self._clock()
        with self._lock:
            for key, _limit in keys:
                self._checking[key] -= 1
                if self._checking[key] <= 0:
                    del self._checking[key]
                if failed:
                    self._recent(key, now).append(now)

    def failed(self, keys: Iterable[str]) -> None:
        now = self._clock()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


def login_keys(username: str, address: str | None,
               device: str | None = None) -> list[tuple[str, int]]:
    """The limits a login counts against: the account and the address, or for a browser
    that logged in to this account before, that device alone."""
    if device:
        return [(f"device:{device}", MAX_PER_ACCOUNT)]
    return [(f"user:{username.lower()}", MAX_PER_ACCOUNT),
            (f"addr:{address or '?'}", MAX_PER_ADDRESS)]


def device_cookie(datasette: Any, username: str) -> str:
    """A signed cookie saying this browser logged in to ``username`` before."""
    return datasette.sign({"u": username, "n": secrets.token_urlsafe(9)}, "device")


def trusted_device(datasette: Any, cookie: str | None, username: str) -> str | None:
    """The device id when ``cookie`` was issued to this browser for ``username``, else None."""
    if not cookie:
        return None
    from itsdangerous import BadSignature

    try:
        value = datasette.unsign(cookie, "device")
    except BadSignature:  # also a malformed payload (BadPayload)
        return None
    if not isinstance(value, dict) or value.get("u") != username or not value.get("n"):
        return None
    return str(value["n"])


class LaneBusy(Exception):
    """The hashing queue is full of logins from addresses holding no more places than this
    one."""


class HashLane:
    """One thread for password hashing with a short, fair queue.

    At most :data:`MAX_WAITING` logins wait. When the queue is full, a login from an address
    holding fewer places than the busiest address takes the newest place of that address
    (which gets :class:`LaneBusy`): one client flooding the queue cannot keep others out, yet
    an office behind one address may use the whole queue when nobody else needs it.
    ``priority`` logins (trusted devices) have a queue of their own, served first.
    """

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pbkdf2")
        self._busy = False
        self._queues: dict[bool, deque[tuple[str, asyncio.Future]]] = {
            True: deque(), False: deque()}

    async def run(self, fn: Callable[..., T], *args: Any, address: str | None = None,
                  priority: bool = False) -> T:
        """``fn(*args)`` in the hashing thread; :class:`LaneBusy` when there is no room."""
        await self._acquire(address or "?", priority)
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        finally:
            self._release()

    def _make_room(self, address: str, priority: bool) -> None:
        queue = self._queues[priority]
        if len(queue) < MAX_WAITING:
            return
        counts = Counter(waiter for waiter, _turn in queue)
        busiest, most = counts.most_common(1)[0]
        if priority or most <= counts[address]:
            raise LaneBusy()
        for i in range(len(queue) - 1, -1, -1):  # the busiest address's newest place
            if queue[i][0] == busiest:
                _waiter, turn = queue[i]
                del queue[i]
                turn.set_exception(LaneBusy())
                return

    async def _acquire(self, address: str, priority: bool) -> None:
        if not self._busy:
            self._busy = True
            return
        self._make_room(address, priority)
        turn = asyncio.get_running_loop().create_future()
        entry = (address, turn)
        self._queues[priority].append(entry)
        try:
            await turn
        except asyncio.CancelledError:
            if entry in self._queues[priority]:
                self._queues[priority].remove(entry)
            elif turn.done() and not turn.cancelled() and turn.exception() is None:
                self._release()  # our turn came as we were cancelled: pass it on
            raise

    def _release(self) -> None:
        for priority in (True, False):
            queue = self._queues[priority]
            while queue:
                _address, turn = queue.popleft()
                if not turn.done():
                    turn.set_result(None)  # the lane stays busy: it is that login's now
                    return
        self._busy = False


def for_app(datasette: Any) -> tuple[LoginThrottle, HashLane]:
    """The throttle and hashing lane of one server (kept on the Datasette instance)."""
    if getattr(datasette, "_evidence_login", None) is None:
        datasette._evidence_login = (LoginThrottle(), HashLane())
    return datasette._evidence_login
