"""Who is looking at which record, so reviewers opening the queue at once get different ones.

Without this, two reviewers in single screening got the same record; if they disagreed it
had two votes and dropped out of every queue. A claim lasts :data:`CLAIM_SECONDS` (renewed
while the reviewer keeps the record open) and is kept in the server's memory: one screening
server serves the team, and a restart only forgets who was looking at what.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

CLAIM_SECONDS = 10 * 60
#: Picks before giving up on claiming (another reviewer claimed each pick in between).
ATTEMPTS = 5


class Claims:
    """record id -> {reviewer: expiry}; every method is synchronous, so on the event loop a
    check-and-claim cannot interleave with another request's."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._claims: dict[int, dict[str, float]] = {}
        self._clock = clock

    def _active(self, record_id: int, now: float) -> dict[str, float]:
        holders = {r: t for r, t in self._claims.get(record_id, {}).items() if t > now}
        if holders:
            self._claims[record_id] = holders
        else:
            self._claims.pop(record_id, None)
        return holders

    def held_by_others(self, reviewer: str, needed: int = 1) -> list[int]:
        """Records that ``needed`` other reviewers are looking at (skip them in the queue)."""
        now = self._clock()
        return [record_id for record_id in list(self._claims)
                if sum(r != reviewer for r in self._active(record_id, now)) >= needed]

    def claim(self, record_id: int, reviewer: str, needed: int = 1) -> bool:
        """Claim the record for ``reviewer``; False when ``needed`` others already hold it."""
        now = self._clock()
        holders = self._active(record_id, now)
        if sum(r != reviewer for r in holders) >= needed:
            return False
        self._claims.setdefault(record_id, {})[reviewer] = now + CLAIM_SECONDS
        return True

    def release(self, record_id: int, reviewer: str) -> None:
        self._claims.get(record_id, {}).pop(reviewer, None)


async def pick_and_claim(held: Claims, reviewer: str, needed: int,
                         pick: Callable[[list[int]], Awaitable[tuple[Any, ...]]]
                         ) -> tuple[Any, ...]:
    """``pick(records others hold)`` the next record and claim it for ``reviewer``.

    ``pick`` reads the database, so another request may claim the same record meanwhile: then
    pick again, up to :data:`ATTEMPTS` times. ``pick`` returns a tuple whose first item is the
    record id (None: nothing left); the last pick is returned.
    """
    for _attempt in range(ATTEMPTS):
        picked = await pick(held.held_by_others(reviewer, needed))
        if picked[0] is None or held.claim(picked[0], reviewer, needed):
            break
    return picked


def for_app(datasette) -> Claims:
    if getattr(datasette, "_evidence_claims", None) is None:
        datasette._evidence_claims = Claims()
    return datasette._evidence_claims
