"""The evidence map: ``/-/map`` (a table of bubbles) and ``/-/map.json``.

Rows are the themes under their groups; columns are publication years (``?by=year``, the
default) or kinds of work (``?by=kind``: publish/kinds.py). Each cell counts the published
works of that theme and column and links the table page that lists exactly those works
(``/<db>/records?_theme=SLUG&year=2024``). The counts come from ``map_counts``, which
``evidence publish`` writes from the same rows (publish/map_counts.py; a file published
before it is counted here, slowly); the published file is immutable, so they are read once
per Datasette and by.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from datasette import Response

from evidence.publish.kinds import KINDS
from evidence.publish.map_counts import NONE, TABLE
from evidence.publish.site.i18n import translator
from evidence.publish.site.tablepage import site_language

BY = ("year", "kind")
#: The column of works without a year.
NO_YEAR = NONE
#: Bubble diameters in pixels (area grows with the count).
MIN_BUBBLE, MAX_BUBBLE = 10, 44

_COUNTS = {
    "year": (
        "SELECT rt.theme_slug, r.year, count(*) FROM record_themes rt"
        " JOIN records r ON r.id = rt.record_id GROUP BY rt.theme_slug, r.year"
    ),
    "kind": (
        "SELECT rt.theme_slug, r.kind, count(*) FROM record_themes rt"
        " JOIN records r ON r.id = rt.record_id GROUP BY rt.theme_slug, r.kind"
    ),
}
_TOTALS = {
    "year": "SELECT year, count(*) FROM records GROUP BY year",
    "kind": "SELECT kind, count(*) FROM records GROUP BY kind",
}


def _key(value: Any) -> str:
    return NONE if value is None or value == "" else str(value)


def _filters(by: str, column: str) -> list[tuple[str, str]]:
    return [(f"{by}__isnull", "1")] if column == NONE else [(by, column)]


async def _counts(db, by: str) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """``({theme: {column: count}}, {column: works})``."""
    counts: dict[str, dict[str, int]] = {}
    if TABLE in await db.table_names():
        rows = (
            await db.execute(f"SELECT theme, value, count FROM {TABLE} WHERE by = ?", [by])
        ).rows
        totals = {value: count for theme, value, count in rows if theme == ""}
        for theme, value, count in rows:
            if theme:
                counts.setdefault(theme, {})[value] = count
        return counts, totals
    for slug, value, count in (await db.execute(_COUNTS[by])).rows:
        counts.setdefault(slug, {})[_key(value)] = count
    totals = {_key(value): count for value, count in (await db.execute(_TOTALS[by])).rows}
    return counts, totals


def _order(by: str, keys: set[str]) -> list[str]:
    if by == "year":
        # years in order; anything else a source stored as a year goes after them
        years = sorted(
            (k for k in keys if k != NO_YEAR),
            key=lambda k: (0, int(k), "") if k.isdigit() else (1, 0, k),
        )
        return years + ([NO_YEAR] if NO_YEAR in keys else [])
    return [k for k in KINDS if k in keys] + sorted(keys - set(KINDS))


def column_label(by: str, column: str, t) -> str:
    if column == NONE:
        return t(f"map_no_{by}")
    if by == "year":
        return column
    text = t(f"kind_{column}")
    return column if text == f"kind_{column}" else text


async def map_data(datasette, by: str = "year") -> dict[str, Any]:
    """``{"by", "columns", "labels", "rows": [{"theme", "name", "group", "group_name",
    "cells": {column: {"count", "url"}}, "total": {"count", "url"}}], "totals": ...}``."""
    cache = getattr(datasette, "_evidence_map", None)
    if cache is None:
        cache = datasette._evidence_map = {}
    if by in cache:
        return cache[by]
    db = datasette.get_database()
    t = translator(await site_language(datasette))
    table = datasette.urls.table(db.name, "records")

    def url(pairs: list[tuple[str, str]]) -> str:
        return f"{table}?{urlencode(pairs)}" if pairs else table

    counts, totals = await _counts(db, by)
    columns = _order(by, set(totals) | {k for c in counts.values() for k in c})
    themes = await db.execute(
        "SELECT t.slug, t.name, t.group_slug, g.name AS group_name, t.records"
        " FROM themes t LEFT JOIN theme_groups g ON g.slug = t.group_slug"
        " ORDER BY coalesce(g.position, 1e9), t.position, t.slug"
    )
    rows = []
    for theme in themes:
        cells = counts.get(theme["slug"], {})
        theme_pair = [("_theme", theme["slug"])]
        rows.append(
            {
                "theme": theme["slug"],
                "name": theme["name"],
                "group": theme["group_slug"],
                "group_name": theme["group_name"],
                "cells": {
                    c: {"count": cells.get(c, 0), "url": url(theme_pair + _filters(by, c))}
                    for c in columns
                },
                "total": {"count": sum(cells.values()), "url": url(theme_pair)},
            }
        )
    data = {
        "by": by,
        "columns": columns,
        "labels": {c: column_label(by, c, t) for c in columns},
        "rows": rows,
        "totals": {
            "columns": {
                c: {"count": totals.get(c, 0), "url": url(_filters(by, c))} for c in columns
            },
            "all": {"count": sum(totals.values()), "url": url([])},
        },
    }
    cache[by] = data
    return data


def bubble(count: int, largest: int) -> int:
    """A bubble's diameter: its area in proportion to the count, never too small to see."""
    if count <= 0 or largest <= 0:
        return 0
    return round(MIN_BUBBLE + (MAX_BUBBLE - MIN_BUBBLE) * math.sqrt(count / largest))


async def _by(datasette, request) -> str:
    """``?by=`` when the file can answer it ("" otherwise): a file published before kinds
    of work has no ``kind`` column."""
    by = request.args.get("by") or "year"
    if by not in BY:
        return ""
    if by != "year" and by not in await datasette.get_database().table_columns("records"):
        return ""
    return by


async def map_json(datasette, request) -> Response:
    """``/-/map.json?by=year|kind``."""
    by = await _by(datasette, request)
    if not by:
        return Response.json(
            {
                "ok": False,
                "error": "by must be year or kind (kind: in files"
                " published with kinds of work; publish again)",
            },
            status=400,
        )
    data = await map_data(datasette, by)
    return Response.json({k: data[k] for k in ("by", "columns", "labels", "rows", "totals")})


async def map_page(datasette, request) -> Response:
    """``/-/map``: the map as a real table (headers, caption, links with labels)."""
    from evidence.publish.site.views import render

    by = await _by(datasette, request) or "year"
    data = await map_data(datasette, by)
    largest = max(
        (cell["count"] for row in data["rows"] for cell in row["cells"].values()), default=0
    )
    groups: list[dict[str, Any]] = []
    for row in data["rows"]:
        if not groups or groups[-1]["slug"] != row["group"]:
            groups.append({"slug": row["group"], "name": row["group_name"], "rows": []})
        groups[-1]["rows"].append(row)
    return await render(
        datasette,
        request,
        "published_map.html",
        {
            "map": data,
            "groups": groups,
            "by": by,
            "largest": largest,
            "bubble": bubble,
            "json_url": datasette.urls.path(f"/-/map.json?by={by}"),
        },
    )
