"""Atom feeds of newly included works: ``/-/feed.atom`` (all) and ``/-/feed.atom?theme=SLUG``.

Readers follow a theme and see what next year's screening adds. Built with feedgen (the
library datasette-atom uses) in a route of our own rather than datasette-atom's ``.atom``
renderer, whose feed title is the SQL plus Datasette's English "where ..." sentence.
Entries are the newest included works by screening date, with absolute links to their pages.
"""

from __future__ import annotations

from datasette import NotFound, Response
from feedgen.feed import FeedGenerator

from evidence.markup import strip
from evidence.publish.site.i18n import translator
from evidence.publish.site.tablepage import site_language

ENTRIES = 100
ATOM_TYPE = "application/atom+xml; charset=utf-8"


async def _theme(db, slug: str):
    row = (await db.execute("SELECT slug, name, 'theme' AS kind FROM themes WHERE slug = ?"
                            " UNION ALL SELECT slug, name, 'group' FROM theme_groups"
                            " WHERE slug = ?", [slug, slug])).first()
    if row is None:
        raise NotFound(f"No theme {slug}")
    return row


async def feed(datasette, request) -> Response:
    """The newest included works (of one theme or theme group) as an Atom feed."""
    db = datasette.get_database()
    language = await site_language(datasette)
    t = translator(language)
    title_row = (await db.execute("SELECT value FROM site WHERE key = 'title'")).first()
    site_title = title_row[0] if title_row else ""
    slug = request.args.get("theme")
    where, params, title = "", [], f"{site_title}: {t('feed_all')}"
    if slug:
        theme = await _theme(db, slug)
        title = f"{site_title}: {theme['name']}"
        where = ("WHERE id IN (SELECT record_id FROM record_themes WHERE theme_slug = ?)"
                 if theme["kind"] == "theme" else
                 "WHERE id IN (SELECT record_id FROM record_themes WHERE theme_slug IN"
                 " (SELECT slug FROM themes WHERE group_slug = ?))")
        params = [slug]
    rows = await db.execute(
        f"SELECT id, title, authors, year, journal, summary, screened_at FROM records {where}"
        f" ORDER BY screened_at DESC, id DESC LIMIT {ENTRIES}", params)
    base = datasette.absolute_url(request, datasette.urls.path("/-/records/"))
    generator = FeedGenerator()
    generator.id(datasette.absolute_url(request, request.full_path))
    generator.title(title)
    generator.link(href=datasette.absolute_url(request, request.full_path), rel="self")
    generator.link(href=datasette.absolute_url(request, datasette.urls.instance()),
                   rel="alternate")
    generator.language(language)
    published = (await db.execute("SELECT value FROM site WHERE key = 'published_at'")).first()
    generator.updated(_stamp(published[0] if published else None))
    for row in reversed(list(rows)):  # feedgen prepends: oldest first gives newest on top
        entry = generator.add_entry()
        entry.id(f"{base}{row['id']}")
        entry.title(strip(row["title"]) or "-")
        entry.link(href=f"{base}{row['id']}")
        entry.updated(_stamp(row["screened_at"]))
        if row["authors"]:
            entry.author({"name": row["authors"]})
        citation = ", ".join(str(v) for v in (row["journal"], row["year"]) if v)
        entry.summary(" ".join(v for v in (row["summary"], f"({citation})" if citation else "")
                               if v))
    return Response(generator.atom_str(pretty=True), content_type=ATOM_TYPE)


def _stamp(value: str | None) -> str:
    """An RFC 3339 time from a date or timestamp (feedgen wants a time zone)."""
    if not value:
        return "1970-01-01T00:00:00+00:00"
    return value if "T" in value else f"{value[:10]}T00:00:00+00:00"
