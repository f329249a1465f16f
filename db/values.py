"""How values are written to and read from columns: timestamps and JSON lists.

Every table stores times as ISO 8601 UTC text with milliseconds, so that decisions saved within
the same second still sort in the order they were made, and lists as JSON arrays of text.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any


def now() -> str:
    """The current UTC time as ISO 8601 text with milliseconds."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def json_list(value: Any) -> list:
    """A JSON-array column as a list; a bare value becomes a one-item list, empty becomes []."""
    if not value:
        return []
    if isinstance(value, list):
        return value
    try:
        loaded = json.loads(value)
    except (TypeError, ValueError):
        return [value]
    return loaded if isinstance(loaded, list) else [loaded]


#: Searches that `evidence enrich` fills (``enrich-openalex``, ``enrich-crossref``): their hits
#: are look-ups of records a search already found, not hits identified by a search, so the
#: PRISMA counts, the method page and "found by" leave them out (harvest/enrich.py names them).
LOOKUP_PREFIX = "enrich-"
#: SQL: the ids of those searches (``search_id NOT IN (...)`` keeps identifying hits only).
LOOKUP_SEARCHES = f"SELECT id FROM searches WHERE name LIKE '{LOOKUP_PREFIX}%'"

