"""Login sessions of the screening app: signed cookies that expire, and that logging out or a
new password end.

The cookie (``ds_actor``, signed with the server's secret as Datasette's own) holds the user
name and role, ``t`` the time it was issued and ``g`` the account's ``session_generation``
then. A session is valid for :data:`SESSION_SECONDS` after login, and only while the account
still has that generation: logout and ``evidence users add`` (a new password) add one.
"""

from __future__ import annotations

import time
from typing import Any

#: How long a login lasts: a working day with room to spare, then log in again.
SESSION_SECONDS = 12 * 3600


def cookie_value(datasette: Any, user: dict[str, Any], generation: int,
                 issued: float | None = None) -> str:
    """The signed ``ds_actor`` value for ``user`` (``id`` and ``role``)."""
    return datasette.sign({"a": {"id": user["id"], "role": user["role"]},
                           "t": int(issued if issued is not None else time.time()),
                           "g": generation}, "actor")


def is_valid(signed: dict[str, Any], generation: int, now: float | None = None) -> bool:
    """True while the session is young enough and of the account's current generation."""
    issued, session_generation = signed.get("t"), signed.get("g")
    if not isinstance(issued, int) or not isinstance(session_generation, int):
        return False  # a cookie without them was not issued by this version
    age = (now if now is not None else time.time()) - issued
    return 0 <= age < SESSION_SECONDS and session_generation == generation
