"""Whole-selection downloads: ``/-/download/<table>.<csv|xlsx|ris|bibtex>?<the page's filters>``.

A table page shows 50 rows; a reader who searched or chose a theme wants all of them. This
route reads the same selection through Datasette's own JSON (every filter, ``_search`` and
``_theme`` included) page by page, and writes it with ``evidence.publish.exports``, so the
files match the working exports: titles and abstracts without markup, themes as keywords in
RIS and BibTeX, the xlsx evidence table with one sheet per theme group.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from typing import Any
from urllib.parse import urlencode, urlsplit

from datasette import NotFound, Response
from datasette.views.base import DatasetteError

from evidence.publish.cells import csv_cell
from evidence.publish.exports import PUBLIC_XLSX_COLUMNS, bibtex_text, plain, ris_text, write_xlsx
from evidence.publish.site.i18n import translator
from evidence.publish.site.renderers import BIBTEX_TYPE, RIS_TYPE
from evidence.publish.site.tablepage import selection_query, site_language

#: Most rows one download carries (a theme at 200,000 records is about 40,000).
MAX_ROWS = 100_000
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_COLUMNS = ("id", "title", "original_title", "authors", "editors", "year", "journal",
               "volume", "issue", "pages", "doi", "pmid", "themes", "summary", "abstract", "url",
               "record_page")


class TooMany(Exception):
    """The selection is larger than :data:`MAX_ROWS`."""


async def selection_rows(datasette, database: str, table: str, args) -> list[dict[str, Any]]:
    """Every row of the table page's selection, through Datasette's JSON, 1,000 at a time."""
    query = selection_query(args)
    extra = urlencode({"_shape": "objects", "_size": "max", "_nofacet": "1", "_nocount": "1"})
    path = f"{datasette.urls.table(database, table, format='json')}?{query}&{extra}"
    rows: list[dict[str, Any]] = []
    while path:
        response = await datasette.client.get(path)
        if response.status_code != 200:  # a bad sort or filter: the reader's error, as is
            raise _failed(response, table)
        data = response.json()
        rows.extend(data["rows"])
        if len(rows) > MAX_ROWS:
            raise TooMany(len(rows))
        next_url = data.get("next_url")
        path = None
        if next_url:
            parts = urlsplit(next_url)
            path = f"{parts.path}?{parts.query}"
    return rows


def _failed(response, table: str) -> Exception:
    """The JSON page's error (status and Datasette's message) as the download's own."""
    try:
        message = response.json().get("error") or ""
    except ValueError:
        message = ""
    if response.status_code == 404:
        return NotFound(message or f"{table}: not found")
    return DatasetteError(message or f"{table}: {response.status_code}",
                          status=response.status_code)


async def _themes(datasette, language: str) -> dict[str, dict[str, Any]]:
    db = datasette.get_database()
    rows = await db.execute("SELECT t.slug, t.name, t.group_slug, g.name AS group_name"
                            " FROM themes t LEFT JOIN theme_groups g ON g.slug = t.group_slug")
    return {r["name"]: {"slug": r["slug"], "name": r["name"], "label": r["name"],
                        "group_slug": r["group_slug"],
                        f"group_{language}": r["group_name"]} for r in rows}


def _working_shape(row: dict[str, Any], themes: dict[str, dict]) -> dict[str, Any]:
    """A published row in the shape the working exports use (lists, theme dicts)."""
    record = dict(row)
    record["authors"] = [a.strip() for a in (row.get("authors") or "").split(";") if a.strip()]
    names = json.loads(row.get("themes") or "[]")
    record["themes"] = [themes.get(n) or {"slug": n, "name": n, "label": n, "group_slug": ""}
                        for n in names]
    record["searches"] = json.loads(row.get("searches") or "[]")
    return record


def csv_bytes(rows: list[dict[str, Any]], record_url) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        values = {**row, "title": plain(row.get("title")), "abstract": plain(row.get("abstract")),
                  "themes": "; ".join(json.loads(row.get("themes") or "[]")),
                  "record_page": record_url(row["id"])}
        writer.writerow({k: csv_cell(v) for k, v in values.items()})
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: Excel reads UTF-8


async def download(datasette, request) -> Response:
    """The whole selection of a table page as CSV, xlsx, RIS or BibTeX."""
    table, fmt = request.url_vars["table"], request.url_vars["format"]
    db = datasette.get_database()
    names = set(await db.table_names()) | set(await db.view_names())
    if table not in names or "title" not in await db.table_columns(table):
        raise NotFound(f"No table of works called {table}")
    language = await site_language(datasette)
    try:
        rows = await selection_rows(datasette, db.name, table, request.args)
    except TooMany as e:
        limit = f"{MAX_ROWS:,}".replace(",", "\u00a0" if language == "nb" else ",")
        message = translator(language)("download_too_many").format(n=limit)
        raise DatasetteError(message, status=413) from e
    themes = await _themes(datasette, language)
    records = [_working_shape(r, themes) for r in rows]
    if fmt == "ris":
        body, content_type = ris_text(records).encode("utf-8"), RIS_TYPE
    elif fmt == "bibtex":
        body, content_type = bibtex_text(records).encode("utf-8"), BIBTEX_TYPE
    elif fmt == "xlsx":
        buffer = io.BytesIO()
        await asyncio.to_thread(write_xlsx, records, buffer, language, PUBLIC_XLSX_COLUMNS)
        body, content_type = buffer.getvalue(), XLSX_TYPE
    else:
        base = datasette.absolute_url(request, datasette.urls.path("/-/records/"))
        body = csv_bytes(rows, lambda rid: f"{base}{rid}")
        content_type = "text/csv; charset=utf-8"
    extension = "bib" if fmt == "bibtex" else fmt
    return Response(body, content_type=content_type, headers={
        "content-disposition": f'attachment; filename="{table}.{extension}"'})
