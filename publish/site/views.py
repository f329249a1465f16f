"""Pages of the published site: home (theme groups with counts), theme, record, PRISMA.

All SQL of the site is here, read-only, with bound parameters. Each view finds the published
database as Datasette's first database and the language in its ``site`` table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from datasette import NotFound, Response
from datasette.database import Database
from datasette.views.base import DatasetteError

from evidence.markup import sanitise
from evidence.publish.build import safe_url
from evidence.publish.map_counts import GROUP_YEAR, NONE
from evidence.publish.map_counts import TABLE as MAP_COUNTS
from evidence.publish.site.citation import byline, editors_column, names
from evidence.publish.site.i18n import translator
from evidence.publish.site.prisma import prisma_svg
from evidence.publish.site.tablepage import site_language, when

THEME_PAGE_LIMIT = 200
#: Years a theme page's trend shows, the latest ones (earlier years share the first bar).
TREND_YEARS = 15
MAX_ID = 2**63 - 1
RECORD_COLUMNS = "id, title, title_html, authors, {editors}, year, journal, summary"


async def _site(datasette) -> tuple[Database, dict[str, str]]:
    db = datasette.get_database()
    rows = await db.execute("SELECT key, value FROM site WHERE key != 'metadata'")
    return db, {r["key"]: r["value"] for r in rows}


async def render(datasette, request, template: str, context: dict[str, Any]) -> Response:
    db, site = await _site(datasette)
    language = site.get("language", "en")
    footer = await footer_counts(datasette)
    html = await datasette.render_template(template, {"footer": footer,
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
    return await render(datasette, request, "published_home.html", {
        "groups": groups, "total": total, "feed": datasette.urls.path("/-/feed.atom"),
        "edition": await current_edition(datasette)})


async def current_edition(datasette) -> dict[str, Any] | None:
    """The edition this file publishes: name, its new works and where they are listed."""
    db = datasette.get_database()
    if "editions" not in await db.table_names():
        return None  # a file published before editions
    row = (await db.execute("SELECT e.name, e.new_records, e.records FROM editions e"
                            " JOIN site s ON s.key = 'edition' AND s.value = e.name")).first()
    if row is None:
        return None
    name = row["name"]
    return {"name": name, "new": row["new_records"], "records": row["records"],
            "url": datasette.urls.table(db.name, "records") + "?"
            + urlencode({"first_edition": name}),
            "feed": datasette.urls.path("/-/feed.atom?" + urlencode({"edition": name}))}


async def trend(datasette, view: str, slug: str = "", group: bool = False,
                limit: int = TREND_YEARS) -> list[dict[str, Any]]:
    """Works per publication year of a theme (or group) and its view, every year of the span
    (the latest ``limit`` of them; earlier years summed into the first bar), each linking its
    works. The counts are publish's (``map_counts``); a file without them is counted here."""
    db = datasette.get_database()
    if slug and MAP_COUNTS in await db.table_names():
        rows = await db.execute(
            f"SELECT CAST(value AS INTEGER), count FROM {MAP_COUNTS} WHERE by = ?"
            " AND theme = ? AND value != ?", [GROUP_YEAR if group else "year", slug, NONE])
    else:
        rows = await db.execute(
            f"SELECT year, count(*) FROM [{view}] WHERE year IS NOT NULL GROUP BY year")
    counts = {r[0]: r[1] for r in rows}
    if not counts:
        return []
    last, first = max(counts), min(counts)
    start = max(first, last - limit + 1)
    table = datasette.urls.table(db.name, view)
    bars = []
    if first < start:
        bars.append({"year": start - 1, "earlier": True,
                     "count": sum(n for y, n in counts.items() if y < start),
                     "url": f"{table}?" + urlencode({"year__lt": start})})
    for year in range(start, last + 1):
        bars.append({"year": year, "earlier": False, "count": counts.get(year, 0),
                     "url": f"{table}?" + urlencode({"year": year})})
    largest = max(b["count"] for b in bars)
    for bar in bars:
        bar["height"] = round(100 * bar["count"] / largest) if largest else 0
    return bars


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
    columns = RECORD_COLUMNS.format(editors=await editors_column(db))
    records = await db.execute(
        f"SELECT {columns} FROM [{row['view']}] ORDER BY year DESC, id"
        f" LIMIT {THEME_PAGE_LIMIT}")
    t = translator(await site_language(datasette))
    works = [dict(r, title_rich=sanitise(r["title_html"] or r["title"]), byline=byline(r, t))
             for r in map(dict, records)]
    return await render(datasette, request, "published_theme.html", {
        "theme": dict(row), "records": works, "limit": THEME_PAGE_LIMIT,
        "trend": await trend(datasette, row["view"], row["slug"],
                             group=row["group_slug"] is None),
        "feed": datasette.urls.path("/-/feed.atom?theme=" + row["slug"])})


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
    if _same_link(data["url"], data.get("doi_url"), data.get("pubmed_url")):
        data["url"] = None  # the PubMed or DOI link already shown
    described = dict((await db.execute("SELECT name, description FROM searches")).rows)
    data["search_labels"] = [described.get(n) or n for n in data["searches"]]
    # titles and abstracts keep their inline markup (<i>, <sup>), sanitised
    data["title_rich"] = sanitise(data.get("title_html") or data["title"])
    t = translator(await site_language(datasette))
    data["byline"] = byline(data, t)
    data["editors_list"] = names(data.get("editors"))
    abstract = data.get("abstract_html") or data.get("abstract") or ""
    data["paragraphs"] = [sanitise(p) for p in abstract.split("\n\n") if p.strip()]
    return await render(datasette, request, "published_record.html", {
        "record": data, "back": back_link(datasette, request),
        "all_works": datasette.urls.table(db.name, "records")})


def _same_link(url: str | None, *others: str | None) -> bool:
    """``url`` is one of ``others`` but for scheme and a closing slash."""
    def key(u: str | None) -> str:
        return (u or "").split("://", 1)[-1].rstrip("/").lower()
    return bool(url) and any(o and key(url) == key(o) for o in others)


def back_link(datasette, request) -> str | None:
    """The results the reader came from (the search page, a table or a theme of this site),
    from the Referer the browser sends within the site; None otherwise. Only the path and
    query are kept, so the link cannot lead off the site."""
    referer = request.headers.get("referer") or ""
    parts = urlsplit(referer)
    if not referer or parts.netloc != request.host or "\\" in parts.path:
        return None
    path = parts.path
    base = datasette.urls.path("/")
    results = (base + "-/search", base + "-/themes/", base + datasette.get_database().name)
    if not path.startswith(results) or "/-/records/" in path:
        return None
    return path + (f"?{parts.query}" if parts.query else "")


async def method(datasette, request) -> Response:
    """The method section: each search with its query, and every run with its date window,
    date and hit count (only what was actually run counts)."""
    db = datasette.get_database()
    searches = [dict(r) for r in await db.execute("SELECT * FROM searches ORDER BY rowid")]
    runs = [dict(r) for r in await db.execute("SELECT * FROM search_runs ORDER BY id")]
    for search in searches:
        search["run_list"] = [r for r in runs if r["search"] == search["name"]]
    screening = (await db.execute(
        "SELECT value FROM site WHERE key = 'screening_method'")).first()
    editions = []
    if "editions" in await db.table_names():
        editions = [dict(r, searches=json.loads(r["searches"] or "[]"),
                         prisma=json.loads(r["prisma"] or "{}")) for r in await db.execute(
            "SELECT * FROM editions ORDER BY position DESC")]
    return await render(datasette, request, "published_method.html",
                        {"searches": searches, "screening_method": screening[0] if screening
                         else "", "editions": editions,
                         "edition": await current_edition(datasette)})


async def _prisma_rows(datasette) -> list[dict[str, Any]]:
    db = datasette.get_database()
    return [dict(r) for r in await db.execute("SELECT * FROM prisma ORDER BY id")]


async def prisma_page(datasette, request) -> Response:
    return await render(datasette, request, "published_prisma.html", {})


async def prisma_image(datasette, request) -> Response:
    """The PRISMA flow diagram, drawn from the published counts."""
    _db, site = await _site(datasette)
    svg = prisma_svg(await _prisma_rows(datasette), translator(site.get("language", "en")),
                     narrow=request.args.get("layout") == "narrow")
    return Response(svg, content_type="image/svg+xml; charset=utf-8")


STYLESHEET = Path(__file__).parent / "static" / "site.css"


async def stylesheet(datasette, request) -> Response:
    """The site's CSS (phone layout, tags, folded details)."""
    return Response(STYLESHEET.read_text(encoding="utf-8"),
                    content_type="text/css; charset=utf-8",
                    headers={"cache-control": "max-age=3600"})


def error_status(exception: Exception) -> int:
    """Datasette's status, except that its own checks of a request ("Cannot sort table by
    abstract") are the reader's error, 400, not the server's 500."""
    status = getattr(exception, "status", 500)
    return 400 if type(exception) is DatasetteError and status == 500 else status


#: Routes of the site whose answer is a file a reader opens from a link (a download, a feed):
#: their errors are the site's page in its language, not Datasette's English one.
READER_FILES = ("/-/download/", "/-/feed.atom")


def reader_file(datasette, request) -> bool:
    return request.path.startswith(tuple(datasette.urls.path(p) for p in READER_FILES))


def error_answer(exception: Exception) -> Response | None:
    """JSON and other formats: Datasette's own answer, with a request check as 400."""
    if type(exception) is not DatasetteError or getattr(exception, "status", 500) != 500:
        return None
    status = error_status(exception)
    return Response.json({"ok": False, "error": str(exception), "status": status,
                          "title": None}, status=status)


async def error_page(datasette, request, exception) -> Response:
    """404 and other errors as a page of the site; the message stays Datasette's."""
    status = error_status(exception)
    message = str(exception) if status < 500 else ""
    response = await render(datasette, request, "published_error.html",
                            {"status": status, "error": message})
    response.status = status
    return response


async def footer_counts(datasette) -> dict[str, Any]:
    """What the footer counts: searches actually run, their last run, hits, works, included.
    Read once per Datasette (the published file is immutable)."""
    cached = getattr(datasette, "_evidence_footer", None)
    if cached is not None:
        return cached
    db = datasette.get_database()
    run = (await db.execute("SELECT count(*), max(last_run_at) FROM searches"
                            " WHERE runs > 0")).first()
    prisma = {r["step"]: r["count"] for r in await db.execute(
        "SELECT step, count FROM prisma WHERE step != 'identified'"
        " AND step != 'excluded_reason'")}
    cached = {"searches_run": run[0], "last_run": when(run[1]) or (run[1] or "")[:10],
              "hits": prisma.get("identified_total", 0), "records": prisma.get("records", 0),
              "included": prisma.get("included", 0),
              "feed": datasette.urls.path("/-/feed.atom")}
    datasette._evidence_footer = cached
    return cached
