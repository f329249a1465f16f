"""Search on the published site: ``?_search=`` on records and the theme views, and the
ranked search page ``/-/search`` (bm25, best first, matched words marked inside compounds).

One search: both read the reader's words with :func:`match_for` (the query parsed with the
published synonyms, prefixes, stems and compound parts looked up in one call), so a table's
search box finds what ``/-/search`` finds. ``?_search=`` is this plugin's filter, not
Datasette's: the index is built so that Datasette does not detect it (see
``evidence.publish.search``). ``_searchmode=raw`` passes FTS5 syntax through as it stands;
it is arbitrary SQL for the public gate (limits.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import urlencode

from datasette.filters import FilterArguments
from markupsafe import Markup, escape

from evidence.markup import sanitise
from evidence.publish.search import (
    INDEX,
    MAX_QUERY_CHARS,
    Query,
    expand_sync,
    index_columns,
    match_expression,
    own_words_expression,
    parse_query,
    read_synonyms,
)
from evidence.publish.site.citation import byline, editors_column, optional_column
from evidence.publish.site.i18n import translator
from evidence.publish.site.tablepage import DOWNLOAD_FORMATS, site_language
from evidence.terms import highlight_html, match_spans

SEARCH_ARG = "_search"


async def stored_synonyms(db) -> list[list[str]]:
    """The synonym groups of the published file, read once per database (it is immutable)."""
    cached = getattr(db, "_evidence_synonyms", None)
    if cached is None:
        cached = db._evidence_synonyms = await db.execute_fn(read_synonyms)
    return cached


async def indexed_columns(db) -> list[str]:
    """The columns of the published file's search index, read once per database."""
    cached = getattr(db, "_evidence_index_columns", None)
    if cached is None:
        cached = db._evidence_index_columns = await db.execute_fn(index_columns)
    return cached


async def reader_query(db, text: str) -> Query:
    """The reader's words parsed with the published synonyms (for marking what matched)."""
    return parse_query(text, await stored_synonyms(db))


async def match_for(db, text: str, raw: bool = False) -> tuple[str | None, Query]:
    """The MATCH text for a reader's query: the ``search_terms`` lookups of every word run
    in one call on ``db``'s thread."""
    text = (text or "")[:MAX_QUERY_CHARS]
    query = await reader_query(db, text)
    if raw:
        return (text.strip() or None), query
    expression = await db.execute_fn(lambda conn: match_expression(query, expand_sync(conn)))
    return expression, query


async def searches_records(db, table: str) -> bool:
    """``records`` and the theme views (which select from it) can be searched."""
    return table == "records" or table in await db.view_names()


#: A query matching more than this share of all records is "broad" (``rus`` at 200,000).
BROAD = 0.05


async def _broad(db, expression: str) -> bool:
    """True when the query matches many records. Then the page reads the records in sort
    order and keeps those in the match list (``+id IN``: the ``+`` stops SQLite from looking
    each match up by id), which at 50,000 matches is ten times faster for the page's rows;
    for a narrow query the lookups by id are the faster way. Costs one FTS count (1-25 ms)."""
    matches = (await db.execute(f"SELECT count(*) FROM {INDEX} WHERE {INDEX} MATCH ?",
                                [expression])).first()[0]
    total = (await db.execute("SELECT max(id) FROM records")).first()[0] or 0
    return matches > BROAD * total


async def search_filter(request, database, table, datasette) -> FilterArguments | None:
    """``?_search=rus``: records matching the query, prefix and compound aware."""
    text = (request.args.get(SEARCH_ARG) or "").strip()[:MAX_QUERY_CHARS]
    db = datasette.get_database(database)
    if not await searches_records(db, table):
        return None
    if not text:
        return FilterArguments([], extra_context={"supports_search": True})
    raw = request.args.get("_searchmode") == "raw"
    expression, query = await match_for(db, text, raw)
    if expression is None:
        return FilterArguments([], extra_context={"supports_search": True, "search": text})
    column = "+id" if await _broad(db, expression) else "id"
    return FilterArguments(
        [f"{column} IN (SELECT rowid FROM {INDEX} WHERE {INDEX} MATCH :evidence_search)"],
        params={"evidence_search": expression},
        human_descriptions=[f'search matches "{text}"'],
        extra_context={"supports_search": True, "search": text,
                       "search_words": query.words})


PAGE_SIZE = 20
MAX_PAGE = 10_000  # an OFFSET SQLite can hold; past the results the page says so
SNIPPET = 220  # characters of abstract around the first match
#: Best first: the works whose own words match (title, original title, summary, abstract,
#: keywords, authors, editors: ``:own``, a column filter) by bm25, then those matched only
#: by a theme label. Two ranked queries rather than one ``ORDER BY own, rank``: that sort
#: reads every match's rank and the own-words set (over a second at 200,000 records for
#: ``rus`` on a busy machine), while FTS5 ranks one MATCH with a LIMIT itself; the second
#: query runs only on the page where the own-words matches run out.
_COLUMNS = ("r.id, r.title, r.title_html, {original_title}, r.authors, {editors}, r.year,"
            " r.journal, r.themes, r.theme_slugs, r.summary, r.abstract, r.keywords")
_OWN_RESULTS = (f"SELECT {_COLUMNS} FROM {INDEX} JOIN records r ON r.id = {INDEX}.rowid"
                f" WHERE {INDEX} MATCH :own{{theme}} ORDER BY rank LIMIT :limit OFFSET :offset")
_LABEL_RESULTS = (f"SELECT {_COLUMNS} FROM {INDEX} JOIN records r ON r.id = {INDEX}.rowid"
                  f" WHERE {INDEX} MATCH :match{{theme}} AND {INDEX}.rowid NOT IN"
                  f" (SELECT rowid FROM {INDEX} WHERE {INDEX} MATCH :own)"
                  f" ORDER BY rank LIMIT :limit OFFSET :offset")
_COUNT = f"SELECT count(*) FROM {INDEX} WHERE {INDEX} MATCH :match{{theme}}"
_THEME = f" AND {INDEX}.rowid IN (SELECT record_id FROM record_themes WHERE theme_slug = :theme)"
_THEME_COUNTS = (f"SELECT theme_slug, count(*) FROM record_themes WHERE record_id IN"
                 f" (SELECT rowid FROM {INDEX} WHERE {INDEX} MATCH :match) GROUP BY theme_slug")


def snippet(text: str | None, words: list[str], size: int = SNIPPET) -> Markup:
    """About ``size`` characters of ``text`` around its first match, matches marked."""
    if not text:
        return Markup("")
    spans = match_spans(text, words)
    start = max(0, spans[0][0] - size // 3) if spans else 0
    if start:
        start = text.find(" ", start) + 1 or start
    end = min(len(text), start + size)
    if end < len(text):
        end = text.rfind(" ", start, end) if text.rfind(" ", start, end) > start else end
    piece = ("… " if start else "") + text[start:end] + (" …" if end < len(text) else "")
    return highlight_html(escape(piece), words)


def _result(row, words: list[str], t: Callable[[str], str]) -> dict:
    """One result with what made it match marked; ``matched_in`` says where: the shown text
    (title, original title, summary, abstract, authors or editors), only the theme labels, or
    only the keywords (not shown otherwise, so they are shown with their marks)."""
    names, slugs = json.loads(row["themes"] or "[]"), json.loads(row["theme_slugs"] or "[]")
    shown = any(match_spans(row[c] or "", words) for c in (
        "title", "original_title", "summary", "abstract", "authors", "editors"))
    keywords = [k.strip() for k in (row["keywords"] or "").replace(";", "\n").splitlines()
                if k.strip()]
    matched_keywords = [k for k in keywords if match_spans(k, words)]
    in_themes = any(match_spans(n, words) for n in names)
    matched_in = ("text" if shown else "themes" if in_themes and not matched_keywords
                  else "keywords" if matched_keywords else "text")
    return {"id": row["id"], "authors": highlight_html(escape(byline(dict(row), t)), words),
            "year": row["year"], "journal": row["journal"],
            "title_marked": highlight_html(sanitise(row["title_html"] or row["title"]), words),
            # the title in the work's own language (plain text, stored only where it differs
            # from the title), shown so a match in it is seen
            "original_title_marked": highlight_html(escape(row["original_title"]), words)
            if row["original_title"] else None,
            "summary_marked": highlight_html(escape(row["summary"] or ""), words),
            "snippet": snippet(row["abstract"], words),
            "matched_in": matched_in,
            "keywords_marked": [highlight_html(escape(k), words) for k in matched_keywords],
            "theme_links": [(slug, highlight_html(escape(name), words))
                            for slug, name in zip(slugs, names, strict=False)]}


async def _ranked(db, where_theme: str, params: dict) -> list:
    """One page of results, own-words matches first (see :data:`_OWN_RESULTS`)."""
    columns = {"editors": await editors_column(db, "r."),
               "original_title": await optional_column(db, "original_title", "r.")}
    rows = list(await db.execute(_OWN_RESULTS.format(theme=where_theme, **columns), params))
    if len(rows) == params["limit"]:
        return rows
    own_total = (await db.execute(_COUNT.format(theme=where_theme),
                                  {**params, "match": params["own"]})).first()[0]
    rest = {**params, "limit": params["limit"] - len(rows),
            "offset": max(0, params["offset"] - own_total)}
    return rows + list(await db.execute(
        _LABEL_RESULTS.format(theme=where_theme, **columns), rest))


async def search_page(datasette, request):
    """``/-/search?q=...&theme=...&page=N``: ranked results with the matched words marked."""
    from evidence.publish.site.views import render

    db = datasette.get_database()
    q = (request.args.get("q") or "").strip()[:MAX_QUERY_CHARS]
    theme = request.args.get("theme") or ""
    page = request.args.get("page", "1")
    page = min(max(1, int(page)), MAX_PAGE) if page.isascii() and page.isdigit() else 1
    themes = [dict(r, hits=None) for r in await db.execute(
        "SELECT slug, name FROM themes ORDER BY position")]
    context = {"q": q, "theme": theme, "themes": themes, "results": [], "total": 0,
               "page": page, "pages": 0, "offset": (page - 1) * PAGE_SIZE}
    expression, query = await match_for(db, q) if q else (None, parse_query(""))
    if expression:
        own = own_words_expression(expression, await indexed_columns(db))
        params = {"match": expression, "own": own,
                  "theme": theme, "limit": PAGE_SIZE, "offset": context["offset"]}
        where_theme = _THEME if theme else ""
        total = (await db.execute(_COUNT.format(theme=where_theme), params)).first()[0]
        rows = await _ranked(db, where_theme, params)
        counts = dict((await db.execute(_THEME_COUNTS, {"match": expression})).rows)
        for th in themes:
            th["hits"] = counts.get(th["slug"], 0)
        selection = {"_search": q, **({"_theme": theme} if theme else {})}
        t = translator(await site_language(datasette))
        context.update(
            total=total, pages=-(-total // PAGE_SIZE),
            results=[_result(r, query.words, t) for r in rows],
            synonyms=[t for _, terms in query.synonyms.values() for t in terms],
            downloads={fmt: datasette.urls.path(f"/-/download/records.{fmt}?")
                       + urlencode(selection) for fmt in DOWNLOAD_FORMATS},
            table_url=datasette.urls.table(db.name, "records") + "?" + urlencode(selection))

    def page_url(number: int) -> str:
        args = {"q": q, **({"theme": theme} if theme else {}), "page": number}
        return datasette.urls.path("/-/search?") + urlencode(args)

    context["page_url"] = page_url
    return await render(datasette, request, "published_search.html", context)
