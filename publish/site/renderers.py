"""``.ris`` and ``.bibtex`` downloads of any table, view or query page of the published site.

Datasette hands the rows of the current page (add ``_size=max`` for up to 1,000); the entries
are built by ``evidence.publish.exports`` so the published and working exports read the same.
"""

from __future__ import annotations

from typing import Any

from datasette import Response

from evidence.publish.exports import bibtex_text, ris_text

PLUGIN = "evidence_published"
RIS_TYPE = "application/x-research-info-systems; charset=utf-8"
BIBTEX_TYPE = "application/x-bibtex; charset=utf-8"


def _records(columns: list[str], rows: list[Any]) -> list[dict[str, Any]]:
    return [dict(zip(columns, row, strict=False)) for row in rows]


def _download(text: str, content_type: str, table: str | None, extension: str) -> Response:
    filename = f"{table or 'records'}.{extension}"
    return Response(text, content_type=content_type,
                    headers={"content-disposition": f'attachment; filename="{filename}"'})


def render_ris(columns, rows, table) -> Response:
    return _download(ris_text(_records(columns, rows)), RIS_TYPE, table, "ris")


def render_bibtex(columns, rows, table) -> Response:
    return _download(bibtex_text(_records(columns, rows)), BIBTEX_TYPE, table, "bib")


def can_render(datasette, columns) -> bool:
    """Only on the published site, and only for rows that look like references."""
    return enabled(datasette) and "title" in (columns or [])


def enabled(datasette) -> bool:
    return bool((datasette.plugin_config(PLUGIN) or {}).get("enabled"))
