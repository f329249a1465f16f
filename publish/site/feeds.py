"""Atom feeds of newly included works: ``/-/feed.atom`` (all), ``/-/feed.atom?theme=SLUG``
and ``/-/feed.atom?edition=NAME`` (the works an edition published first; both may combine).

Readers follow a theme and see what next year's screening adds. Built with feedgen (the
library datasette-atom uses) in a route of our own rather than datasette-atom's ``.atom``
renderer, whose feed title is the SQL plus Datasette's English "where ..." sentence.
Entries are the newest included works by screening date, with absolute links to their pages.
Feed and entry ids are ``urn:uuid:`` names derived from the knowledge base's own id
(``site.feed_id``, made once by ``evidence publish``), not from the host serving the feed, so
a reader's feed app sees the same entries whichever address it used. Every text goes through
:func:`xml_text`: XML 1.0 has no place for most control characters, and one in a title made
lxml refuse the whole feed.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlencode

from datasette import NotFound, Response
from feedgen.feed import FeedGenerator

from evidence.markup import strip
from evidence.publish.site.citation import byline, editors_column
from evidence.publish.site.i18n import translator
from evidence.publish.site.tablepage import site_language

ENTRIES = 100
#: What XML 1.0 cannot hold: C0 controls but tab, newline, return; surrogates; U+FFFE/U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(value: object) -> str:
    """``value`` as text XML can carry (control characters dropped)."""
    return _NOT_XML.sub("", "" if value is None else str(value))


def _urn(base: str, name: str) -> str:
    """A stable ``urn:uuid:`` for ``name`` within the knowledge base ``base``."""
    try:
        namespace = uuid.UUID(base)
    except ValueError:  # a file published before feed ids: derive one from its title
        namespace = uuid.uuid5(uuid.NAMESPACE_URL, "evidence-tracker:" + base)
    return uuid.uuid5(namespace, name).urn
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
    site = {r[0]: r[1] for r in await db.execute(
        "SELECT key, value FROM site WHERE key IN ('title', 'feed_id')")}
    site_title = site.get("title", "")
    feed_base = site.get("feed_id") or site_title
    slug, edition = request.args.get("theme"), request.args.get("edition")
    clauses, params, names = [], [], []
    if slug:
        theme = await _theme(db, slug)
        names.append(theme["name"])
        clauses.append("id IN (SELECT record_id FROM record_themes WHERE theme_slug = ?)"
                       if theme["kind"] == "theme" else
                       "id IN (SELECT record_id FROM record_themes WHERE theme_slug IN"
                       " (SELECT slug FROM themes WHERE group_slug = ?))")
        params.append(slug)
    if edition:
        if not await _has_edition(db, edition):
            raise NotFound(f"No edition {edition}")
        names.append(t("feed_edition").format(edition=edition))
        clauses.append("first_edition = ?")
        params.append(edition)
    title = f"{site_title}: {' · '.join(names) or t('feed_all')}"
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    rows = await db.execute(
        f"SELECT id, title, authors, {await editors_column(db)}, year, journal, summary,"
        f" screened_at FROM records {where}"
        f" ORDER BY screened_at DESC, id DESC LIMIT {ENTRIES}", params)
    base = datasette.absolute_url(request, datasette.urls.path("/-/records/"))
    generator = FeedGenerator()
    selection = urlencode([(k, v) for k, v in (("theme", slug), ("edition", edition)) if v])
    generator.id(_urn(feed_base, "feed?" + selection))
    generator.title(xml_text(title))
    generator.link(href=datasette.absolute_url(request, request.full_path), rel="self")
    generator.link(href=datasette.absolute_url(request, datasette.urls.instance()),
                   rel="alternate")
    generator.language(language)
    generator.author({"name": xml_text(site_title) or "-"})
    published = (await db.execute("SELECT value FROM site WHERE key = 'published_at'")).first()
    generator.updated(_stamp(published[0] if published else None))
    for row in reversed(list(rows)):  # feedgen prepends: oldest first gives newest on top
        entry = generator.add_entry()
        entry.id(_urn(feed_base, f"record/{row['id']}"))
        entry.title(xml_text(strip(row["title"])).strip() or "-")
        entry.link(href=f"{base}{row['id']}")
        entry.updated(_stamp(row["screened_at"]))
        people = xml_text(byline(dict(row), t)).strip()
        if people:
            entry.author({"name": people})
        citation = ", ".join(str(v) for v in (row["journal"], row["year"]) if v)
        entry.summary(xml_text(" ".join(
            v for v in (row["summary"], f"({citation})" if citation else "") if v)))
    return Response(generator.atom_str(pretty=True), content_type=ATOM_TYPE)


async def _has_edition(db, name: str) -> bool:
    if "editions" not in await db.table_names():
        return False
    return (await db.execute("SELECT 1 FROM editions WHERE name = ?", [name])).first() is not None


def _stamp(value: str | None) -> str:
    """An RFC 3339 time from a date or timestamp (feedgen wants a time zone)."""
    if not value:
        return "1970-01-01T00:00:00+00:00"
    return value if "T" in value else f"{value[:10]}T00:00:00+00:00"
