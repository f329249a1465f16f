"""Search on the published site: ``?_search=`` on records and the theme views, and the
ranked search page ``/-/search``.

``?_search=`` is this plugin's filter, not Datasette's: the index is built so that Datasette
does not detect it (see ``evidence.publish.search``), and the query goes through
:func:`evidence.publish.search.match_expression` (prefixes, stems, compound parts).
``_searchmode=raw`` passes FTS5 syntax through as it stands.
"""

from __future__ import annotations

from datasette.filters import FilterArguments

from evidence.publish.search import (
    EXPAND_SQL,
    INDEX,
    Query,
    expand_params,
    match_expression,
    parse_query,
)
from evidence.terms import search_prefixes

SEARCH_ARG = "_search"


async def match_for(db, text: str, raw: bool = False) -> tuple[str | None, Query]:
    """The MATCH text for a reader's query, with the ``search_terms`` lookups done on ``db``."""
    query = parse_query(text)
    if raw:
        return (text.strip() or None), query
    expansions: dict[str, list[str]] = {}
    for clause in query.clauses:
        for item in clause:
            if " " in item:
                continue
            for prefix in search_prefixes(item):
                rows = await db.execute(EXPAND_SQL, expand_params(prefix))
                expansions[prefix] = [r[0] for r in rows]
    return match_expression(query, lambda p: expansions.get(p, [])), query


async def searches_records(db, table: str) -> bool:
    """``records`` and the theme views (which select from it) can be searched."""
    return table == "records" or table in await db.view_names()


async def search_filter(request, database, table, datasette) -> FilterArguments | None:
    """``?_search=rus``: records matching the query, prefix and compound aware."""
    text = (request.args.get(SEARCH_ARG) or "").strip()
    db = datasette.get_database(database)
    if not await searches_records(db, table):
        return None
    if not text:
        return FilterArguments([], extra_context={"supports_search": True})
    raw = request.args.get("_searchmode") == "raw"
    expression, query = await match_for(db, text, raw)
    if expression is None:
        return FilterArguments([], extra_context={"supports_search": True, "search": text})
    return FilterArguments(
        [f"id IN (SELECT rowid FROM {INDEX} WHERE {INDEX} MATCH :evidence_search)"],
        params={"evidence_search": expression},
        human_descriptions=[f'search matches "{text}"'],
        extra_context={"supports_search": True, "search": text,
                       "search_words": query.words})
