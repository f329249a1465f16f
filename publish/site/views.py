"""Pages of the published site: home (theme groups with counts), theme, record, PRISMA.

All SQL of the site is here, read-only, with bound parameters. Each view finds the published
database as Datasette's first database and the language in its ``site`` table.
"""

from __future__ import annotations

import json
from typing import Any

from datasette import NotFound, Response
from datasette.database import Database

from evidence.publish.build import safe_url
from evidence.publish.site.i18n import translator
from evidence.publish.site.prisma import prisma_svg

THEME_PAGE_LIMIT = 200
MAX_ID = 2**63 - 1
RECORD_COLUMNS = "id, title, authors, year, journal, summary"


async def _site(datasette) -> tuple[Database, dict[str, str]]:
    db = datasette.get_database()
    rows = await db.execute("SELECT key, value FROM site WHERE key != 'metadata'")
    return db, {r["key"]: r["value"] for r in rows}


async def _render(datasette, request, template: str, context: dict[str, Any]) -> Response:
    db, site = await _site(datasette)
    language = site.get("language", "en")
    html = await datasette.render_template(template, {
        "t": translator(language), "language": language, "site": site,
        "database": db.name, "urls": datasette.urls, "metadata": datasette.metadata(),
        **context}, request=request)
    return Response.html(html)


async def home(datasette, request) -> Response:
    """The front page: search box, theme groups with their themes and counts, PRISMA."""
    db = datasette.get_database()
    groups = [dict(r) for r in await db.execute(
        "SELECT slug, name, view, records FROM theme_groups ORDER BY position")]
    themes = [dict(r) for r in await db.execute(
        "SELECT slug, name, group_slug, view, records FROM themes ORDER BY position")]
    for group in groups:
        group["themes"] = [t for t in themes if t["group_slug"] == group["slug"]]
    total = (await db.execute("SELECT count(*) FROM records")).first()[0]
    return await _render(datasette, request, "published_home.html", {
        "groups": groups, "total": total})


async def theme(datasette, request) -> Response:
    """One theme (or theme group): its works with their one-sentence summaries."""
    db = datasette.get_database()
    slug = request.url_vars["slug"]
    row = (await db.execute("SELECT slug, name, view, records, group_slug,"
                            " (SELECT name FROM theme_groups g WHERE g.slug = themes.group_slug)"
                            " AS group_name FROM themes WHERE slug = ?", [slug])).first()
    if row is None:
        row = (await db.execute("SELECT slug, name, view, records, NULL AS group_slug,"
                                " NULL AS group_name FROM theme_groups WHERE slug = ?",
                                [slug])).first()
    if row is None:
        raise NotFound(f"No theme {slug}")
    records = await db.execute(
        f"SELECT {RECORD_COLUMNS} FROM [{row['view']}] ORDER BY year DESC, id"
        f" LIMIT {THEME_PAGE_LIMIT}")
    return await _render(datasette, request, "published_theme.html", {
        "theme": dict(row), "records": [dict(r) for r in records],
        "limit": THEME_PAGE_LIMIT})


async def record(datasette, request) -> Response:
    """One included work: citation, links, summary, abstract, themes, searches."""
    db = datasette.get_database()
    record_id = int(request.url_vars["id"])
    if record_id > MAX_ID:  # SQLite integers are 64-bit: a longer id is no record
        raise NotFound("No such record")
    row = (await db.execute("SELECT * FROM records WHERE id = ?", [record_id])).first()
    if row is None:
        raise NotFound("No such record")
    data = dict(row)
    data["url"] = safe_url(data.get("url"))  # files published before links were checked
    for key in ("themes", "theme_slugs", "searches", "theme_groups", "publication_types"):
        data[key] = json.loads(data.get(key) or "[]")
    data["theme_links"] = list(zip(data["theme_slugs"], data["themes"], strict=False))
    data["paragraphs"] = [p for p in (data.get("abstract") or "").split("\n\n") if p]
    return await _render(datasette, request, "published_record.html", {"record": data})


async def _prisma_rows(datasette) -> list[dict[str, Any]]:
    db = datasette.get_database()
    return [dict(r) for r in await db.execute("SELECT * FROM prisma ORDER BY id")]


async def prisma_page(datasette, request) -> Response:
    return await _render(datasette, request, "published_prisma.html", {})


async def prisma_image(datasette, request) -> Response:
    """The PRISMA flow diagram, drawn from the published counts."""
    _db, site = await _site(datasette)
    svg = prisma_svg(await _prisma_rows(datasette), translator(site.get("language", "en")))
    return Response(svg, content_type="image/svg+xml; charset=utf-8")
