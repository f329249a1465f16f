"""The evidence map's counts, written once at publish time (table ``map_counts``).

``/-/map`` must answer in under 300 ms at 200,000 records; counting themes by year over a
join of ``record_themes`` and ``records`` takes seconds there, because every lookup reads a
wide row. The published file never changes, so ``evidence publish`` counts once from the rows
it has just written: one row per (by, theme, column) with works, and the column totals
(``theme`` = ``""``) over every published work, with or without a theme. Rows with ``by`` =
``group_year`` count each theme group's works per year (a work once, whatever number of the
group's themes it has): the theme pages' trend of a group.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping

import sqlite_utils

TABLE = "map_counts"
#: The map's columns: ``by`` -> the records column it counts.
BY = {"year": "year", "kind": "kind"}
#: The column value of works without a year (or kind).
NONE = "none"


def column_value(value: object) -> str:
    return NONE if value is None or value == "" else str(value)


#: ``by`` of the theme groups' works per year.
GROUP_YEAR = "group_year"


def create_map_counts(
    pub: sqlite_utils.Database, records: Iterable[Mapping], groups: Mapping[str, str] | None = None
) -> None:
    """``map_counts(by, theme, value, count)`` of the published ``records`` rows; ``groups``
    maps a theme's slug to its group's."""
    groups = groups or {}
    counts: Counter[tuple[str, str, str]] = Counter()
    for row in records:
        slugs = json.loads(row.get("theme_slugs") or "[]")
        for by, column in BY.items():
            value = column_value(row.get(column))
            counts[(by, "", value)] += 1
            for slug in slugs:
                counts[(by, slug, value)] += 1
        year = column_value(row.get("year"))
        for group in {groups[s] for s in slugs if s in groups}:
            counts[(GROUP_YEAR, group, year)] += 1
    pub[TABLE].create(
        {"by": str, "theme": str, "value": str, "count": int}, pk=("by", "theme", "value")
    )
    pub[TABLE].insert_all(
        {"by": by, "theme": theme, "value": value, "count": count}
        for (by, theme, value), count in sorted(counts.items())
    )
