"""What one anonymous visitor's SQL may build, return and occupy on the published site.

Arbitrary SQL stays open to readers who want it, within limits (docs/security.md):

- every value SQLite builds is at most :data:`MAX_VALUE_BYTES` (``SQLITE_LIMIT_LENGTH``), so
  ``randomblob(1000000000)`` fails at once instead of allocating 1 GB; a result has at most
  :data:`MAX_COLUMNS` columns;
- no single function call works longer than its values are long (:func:`guard_functions`):
  the time limit is SQLite's progress handler, which never fires *inside* a function, so
  ``printf('%.*c', 2000000000, 'x')`` (a loop of two billion appends past the length limit),
  ``instr``/``replace`` of a long needle (length x length) and ``trim`` with a long set of
  characters (35 s for 800 KB) are replaced by versions checked against the length limit or
  linear in their input;
- every query's rows together are at most :data:`MAX_RESULT_BYTES`, counted by a row factory
  as SQLite hands them over, so ``zeroblob`` rows cannot fill the server's memory either (the
  time limit stops work inside SQLite, not the serialising that follows);
- arbitrary SQL (``?sql=``, ``?_where=``) gets :data:`SQL_TIME_LIMIT_MS` instead of Datasette's
  1 s, and at most :data:`SQL_CONCURRENCY` such queries run at once; more wait up to
  :data:`SQL_QUEUE_SECONDS` and then get 429. Datasette has three SQL threads, so the
  reader's pages (home, themes, records) always have two;
- whole-selection downloads run :data:`DOWNLOAD_CONCURRENCY` at a time (each holds its rows
  in memory);
- searches (``?_search=`` on a table, ``/-/search?q=``) run :data:`SEARCH_CONCURRENCY` at a
  time, more wait up to :data:`SEARCH_QUEUE_SECONDS`, then 429: FTS5 reads a prefix's
  doclists inside one step of SQLite, where no time limit reaches, so clients looping on
  broad searches would otherwise take every SQL thread from the reader's pages.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
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
#: Searches at once (a search takes 10-100 ms at 200,000 records: bench/publish_bench.py).
SEARCH_CONCURRENCY = 1
SEARCH_QUEUE_SECONDS = 10.0
SEARCH_PAGE = "/-/search"
#: Query arguments that make a request arbitrary SQL (``_searchmode=raw`` passes FTS5 syntax).
SQL_ARGS = ("sql", "_where")
RAW_SEARCH = ("_searchmode", "raw")
#: Above this product of two arguments' lengths, instr/replace/trim run the linear Python way.
NATIVE_WORK = 1_000_000


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
    """Apply the length, column, result-size and function limits to one read connection."""
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    conn.setlimit(sqlite3.SQLITE_LIMIT_COLUMN, MAX_COLUMNS)
    conn.setlimit(sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 1000)
    conn.row_factory = budget_row_factory()
    guard_functions(conn, MAX_VALUE_BYTES)


# --- functions whose one call could outlast the time limit ----------------------------------

_native = threading.local()
#: A printf conversion: flags, width, precision (a number or ``*``, taken from the arguments).
_CONVERSION = re.compile(r"%([-+ #0!,]*)(\*|\d+)?(?:\.(\*|\d*))?(l{0,2})(.)", re.S)


def _native_call(limit: int, function: str, args: tuple) -> Any:
    """SQLite's own ``function`` on a private in-memory connection of this thread (the
    guarded connection's names now point at the checked versions)."""
    conn = getattr(_native, "conn", None)
    if conn is None:
        conn = _native.conn = sqlite3.connect(":memory:", check_same_thread=False)
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, limit)
    marks = ", ".join("?" * len(args))
    return conn.execute(f"SELECT {function}({marks})", args).fetchone()[0]


def _too_big(limit: int) -> str:
    """A value one byte over the limit: SQLite refuses it with its own "string or blob too
    big", the error the unguarded function gives (a Python exception would only say "user-
    defined function raised exception")."""
    return "x" * (limit + 1)


def _int(value: Any) -> int:
    try:
        return abs(int(value))
    except (TypeError, ValueError):
        return 0


def _size_of(value: Any) -> int:
    return len(value) if isinstance(value, (str, bytes)) else 24


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def guard_functions(conn: sqlite3.Connection, limit: int) -> None:
    """Replace ``printf``/``format``, ``instr``, ``replace`` and ``trim``/``ltrim``/``rtrim``
    on ``conn`` with versions whose cost is bounded by ``limit``: widths and precisions over
    the limit are refused before SQLite loops on them; a long needle or set of characters is
    handled by Python's linear search. Small calls go to SQLite's own function, so results
    are SQLite's."""

    def printf(fmt: Any = None, *args: Any) -> Any:
        if isinstance(fmt, str):
            rest = list(args)
            for match in _CONVERSION.finditer(fmt):
                for part in match.group(2, 3):
                    if part == "*":
                        value = rest.pop(0) if rest else 0
                        if _int(value) > limit:
                            return _too_big(limit)
                    elif part and int(part) > limit:
                        return _too_big(limit)
                if match.group(5) != "%" and rest:
                    rest.pop(0)
        return _native_call(limit, "printf", (fmt, *args))

    def instr(haystack: Any, needle: Any) -> Any:
        if haystack is None or needle is None:
            return None
        if _size_of(haystack) * _size_of(needle) <= NATIVE_WORK:
            return _native_call(limit, "instr", (haystack, needle))
        if isinstance(haystack, bytes) and isinstance(needle, bytes):
            return haystack.find(needle) + 1
        return _text(haystack).find(_text(needle)) + 1

    def replace(text: Any, old: Any, new: Any) -> Any:
        if text is None or old is None or new is None:
            return None
        if _size_of(text) * _size_of(old) <= NATIVE_WORK:
            return _native_call(limit, "replace", (text, old, new))
        old = _text(old)
        if not old:
            return text
        return _text(text).replace(old, _text(new))

    def trimmer(name: str) -> Callable:
        def trim(text: Any, chars: Any = " ") -> Any:
            if text is None or chars is None:
                return None
            if _size_of(text) * _size_of(chars) <= NATIVE_WORK:
                return _native_call(limit, name, (text, chars))
            text, keep = _text(text), set(_text(chars))
            start, end = 0, len(text)
            if name in ("trim", "ltrim"):
                while start < end and text[start] in keep:
                    start += 1
            if name in ("trim", "rtrim"):
                while end > start and text[end - 1] in keep:
                    end -= 1
            return text[start:end]
        return trim

    for name in ("printf", "format"):
        conn.create_function(name, -1, printf, deterministic=True)
    conn.create_function("instr", 2, instr, deterministic=True)
    conn.create_function("replace", 3, replace, deterministic=True)
    for name in ("trim", "ltrim", "rtrim"):
        conn.create_function(name, 2, trimmer(name), deterministic=True)


def _pairs(scope: dict[str, Any]) -> list[tuple[str, str]]:
    return parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)


def is_arbitrary_sql(scope: dict[str, Any]) -> bool:
    """``?sql=``, ``?_where=`` and ``?_searchmode=raw`` (FTS5 syntax as typed: ``a* OR b*``
    reads the whole index) on Datasette's pages."""
    return not scope.get("path", "").startswith("/-/") and any(
        key in SQL_ARGS or (key, value) == RAW_SEARCH for key, value in _pairs(scope))


def is_search(scope: dict[str, Any]) -> bool:
    """A search of the records: ``?_search=`` on Datasette's pages, ``/-/search?q=``."""
    path = scope.get("path", "")
    key = "q" if path == SEARCH_PAGE else "_search"
    if path.startswith("/-/") and path != SEARCH_PAGE:
        return False
    return any(k == key and v.strip() for k, v in _pairs(scope))


def without_bad_time_limit(scope: dict[str, Any]) -> dict[str, Any]:
    """Drop a reader's ``_timelimit`` that is not a number (Datasette would answer 500)."""
    pairs = _pairs(scope)
    if all(k != "_timelimit" or (v.isascii() and v.isdigit()) for k, v in pairs):
        return scope
    kept = [(k, v) for k, v in pairs if k != "_timelimit" or (v.isascii() and v.isdigit())]
    return {**scope, "query_string": urlencode(kept).encode("latin-1")}


def _with_time_limit(scope: dict[str, Any], ms: int) -> dict[str, Any]:
    pairs = [(k, v) for k, v in _pairs(scope) if k != "_timelimit"]
    pairs.append(("_timelimit", str(ms)))
    return {**scope, "query_string": urlencode(pairs).encode("latin-1")}


def sql_gate(app: Callable, *, concurrency: int | None = None,
             time_limit_ms: int | None = None, queue_seconds: float | None = None) -> Callable:
    """ASGI wrapper: arbitrary SQL gets a lower time limit and a few slots, whole-selection
    downloads and searches a few slots of their own; pages pass."""
    sql_slots = asyncio.Semaphore(concurrency or SQL_CONCURRENCY)
    download_slots = asyncio.Semaphore(DOWNLOAD_CONCURRENCY)
    search_slots = asyncio.Semaphore(SEARCH_CONCURRENCY)
    time_limit_ms = time_limit_ms or SQL_TIME_LIMIT_MS
    queue_seconds = queue_seconds or SQL_QUEUE_SECONDS

    async def gated(scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await app(scope, receive, send)
        scope = without_bad_time_limit(scope)
        if is_arbitrary_sql(scope):
            slots, wait = sql_slots, queue_seconds
            scope = _with_time_limit(scope, time_limit_ms)
        elif scope.get("path", "").startswith(DOWNLOAD_PREFIX):
            slots, wait = download_slots, DOWNLOAD_QUEUE_SECONDS
        elif is_search(scope):
            slots, wait = search_slots, SEARCH_QUEUE_SECONDS
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
