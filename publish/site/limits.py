"""What one anonymous visitor's SQL may build, return and occupy on the published site.

Arbitrary SQL stays open to readers who want it, within limits (docs/security.md):

- every value SQLite builds is at most :data:`MAX_VALUE_BYTES` (``SQLITE_LIMIT_LENGTH``), so
  ``randomblob(1000000000)`` fails at once instead of allocating 1 GB; a result has at most
  :data:`MAX_COLUMNS` columns;
- every query's rows together are at most :data:`MAX_RESULT_BYTES`, counted by a row factory
  as SQLite hands them over, so ``zeroblob`` rows cannot fill the server's memory either (the
  time limit stops work inside SQLite, not the serialising that follows);
- arbitrary SQL (``?sql=``, ``?_where=``) gets :data:`SQL_TIME_LIMIT_MS` instead of Datasette's
  1 s, and at most :data:`SQL_CONCURRENCY` such queries run at once; more wait up to
  :data:`SQL_QUEUE_SECONDS` and then get 429. Datasette has three SQL threads, so the
  reader's pages (home, themes, records) always have two;
- whole-selection downloads run :data:`DOWNLOAD_CONCURRENCY` at a time (each holds its rows
  in memory).
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

MAX_VALUE_BYTES = 1_000_000
MAX_COLUMNS = 100
MAX_RESULT_BYTES = 20_000_000
SQL_TIME_LIMIT_MS = 500
SQL_CONCURRENCY = 1
SQL_QUEUE_SECONDS = 2.0
#: Whole-selection downloads (``/-/download/``) hold up to 100,000 rows in memory each:
#: two at a time, the others wait up to :data:`DOWNLOAD_QUEUE_SECONDS`, then 429.
DOWNLOAD_CONCURRENCY = 2
DOWNLOAD_QUEUE_SECONDS = 30.0
DOWNLOAD_PREFIX = "/-/download/"
#: Query arguments that make a request arbitrary SQL.
SQL_ARGS = ("sql", "_where")


class ResultTooLarge(sqlite3.OperationalError):
    """A query's rows exceed :data:`MAX_RESULT_BYTES`; Datasette shows it as a query error."""


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, bytes)) else 8


def budget_row_factory(limit: int = MAX_RESULT_BYTES) -> Callable:
    """A row factory giving ``sqlite3.Row`` and refusing rows past ``limit`` bytes per cursor."""
    spent: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def factory(cursor: sqlite3.Cursor, row: tuple) -> sqlite3.Row:
        total = spent.get(cursor, 0) + sum(_size(v) for v in row)
        if total > limit:
            raise ResultTooLarge(
                f"result too large: over {limit:,} bytes (add a LIMIT or select fewer columns)")
        spent[cursor] = total
        return sqlite3.Row(cursor, row)

    return factory


def limit_connection(conn: sqlite3.Connection) -> None:
    """Apply the length, column and result-size limits to one read connection."""
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    conn.setlimit(sqlite3.SQLITE_LIMIT_COLUMN, MAX_COLUMNS)
    conn.row_factory = budget_row_factory()


def is_arbitrary_sql(scope: dict[str, Any]) -> bool:
    raw = scope.get("query_string", b"").decode("latin-1")
    return not scope.get("path", "").startswith("/-/") and any(
        key in SQL_ARGS for key, _ in parse_qsl(raw, keep_blank_values=True))


def _with_time_limit(scope: dict[str, Any], ms: int) -> dict[str, Any]:
    pairs = [(k, v) for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                                          keep_blank_values=True) if k != "_timelimit"]
    pairs.append(("_timelimit", str(ms)))
    return {**scope, "query_string": urlencode(pairs).encode("latin-1")}


def sql_gate(app: Callable, *, concurrency: int | None = None,
             time_limit_ms: int | None = None, queue_seconds: float | None = None) -> Callable:
    """ASGI wrapper: arbitrary SQL gets a lower time limit and a few slots, whole-selection
    downloads a few slots of their own; pages pass."""
    sql_slots = asyncio.Semaphore(concurrency or SQL_CONCURRENCY)
    download_slots = asyncio.Semaphore(DOWNLOAD_CONCURRENCY)
    time_limit_ms = time_limit_ms or SQL_TIME_LIMIT_MS
    queue_seconds = queue_seconds or SQL_QUEUE_SECONDS

    async def gated(scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await app(scope, receive, send)
        if is_arbitrary_sql(scope):
            slots, wait = sql_slots, queue_seconds
            scope = _with_time_limit(scope, time_limit_ms)
        elif scope.get("path", "").startswith(DOWNLOAD_PREFIX):
            slots, wait = download_slots, DOWNLOAD_QUEUE_SECONDS
        else:
            return await app(scope, receive, send)
        try:
            await asyncio.wait_for(slots.acquire(), wait)
        except TimeoutError:
            await send({"type": "http.response.start", "status": 429, "headers": [
                (b"content-type", b"text/plain; charset=utf-8"), (b"retry-after", b"5")]})
            await send({"type": "http.response.body",
                        "body": b"Too many queries or downloads at once: try again shortly"})
            return
        try:
            await app(scope, receive, send)
        finally:
            slots.release()

    return gated
