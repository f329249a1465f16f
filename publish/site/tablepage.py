"""Template variables for Datasette's own pages on the published site (table, row, database).

The templates in ``overrides/`` call these instead of holding English text or logic: ``t``
(the catalogue of the published language), ``col_label``, ``describe`` (the "rows where"
sentence, in the reader's language), ``rich`` (inline markup rendered safely, search words
marked), ``tags`` (a JSON list as a list) and the links for whole-selection downloads and feeds.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup

from evidence.markup import sanitise
from evidence.publish.site.i18n import translator
from evidence.terms import highlight_html, match_spans

#: Request arguments that shape a page, not the selection: left out of download links.
PAGE_ARGS = ("_next", "_size", "_facet", "_facet_size", "_nofacet", "_nocount", "_shape",
             "_labels", "_dl", "_stream", "_col", "_nocol", "_json", "_trace")
DOWNLOAD_FORMATS = ("csv", "xlsx", "ris", "bibtex")
#: Columns a reader sees first in a table of works; the rest is folded under "More".
FIRST_COLUMNS = ("title", "year", "journal", "themes", "summary")
LIST_COLUMNS = ("themes", "theme_groups", "publication_types", "searches", "theme_slugs")


async def site_language(datasette) -> str:
    """The published language (``site.language``), read once per Datasette."""
    cached = getattr(datasette, "_evidence_language", None)
    if cached is None:
        db = datasette.get_database()
        row = (await db.execute("SELECT value FROM site WHERE key = 'language'")).first()
        cached = row[0] if row else "en"
        datasette._evidence_language = cached
    return cached


def tags(value: Any) -> list[str]:
    """A stored JSON list as a list (empty for anything else)."""
    if isinstance(value, list):
        return [str(v) for v in value]
    if not value or not isinstance(value, str) or not value.startswith("["):
        return []
    try:
        items = json.loads(value)
    except ValueError:
        return []
    return [str(i) for i in items] if isinstance(items, list) else []


def when(value: Any) -> str | None:
    """An ISO time as "2024-10-21 10:00 UTC": with its zone, in UTC (times are stored with
    their offset; one without is UTC, as the tracker writes them). None for anything that is
    not a time of day (a date stays a date)."""
    if not isinstance(value, str) or len(value) < 16 or "T" not in value[:11]:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def column_label(t: Callable[[str], str]) -> Callable[[str], str]:
    def label(name: str) -> str:
        text = t(f"col_{name}")
        return name if text == f"col_{name}" else text
    return label


#: Columns that hold keys, and the catalogue prefix of the label a reader sees for each value
#: (the map's ``kind`` columns link ``?kind=review``: "type arbeid er Systematiske oversikter").
VALUE_LABELS = {"kind": "kind_"}


def value_label(column: str, value: str, t: Callable[[str], str]) -> str:
    """The reader's label of a stored key (``kind=review``), or the value as it is."""
    prefix = VALUE_LABELS.get(column)
    if prefix is None:
        return value
    text = t(prefix + value)
    return value if text == prefix + value else text


def describe(args, t: Callable[[str], str], label: Callable[[str], str],
             theme_names: dict[str, str] | None = None) -> str:
    """"der søk etter «rus» og tema er «Stigma og diskriminering», sortert etter år
    (synkende)": the selection. ``?_theme=`` takes a slug or a name (facets.theme_filter);
    the sentence names the theme as the reader sees it elsewhere (``theme_names``: slug to
    name)."""
    bits = []
    if args.get("_search"):
        bits.append(t("search_for").format(q=args.get("_search")))
    for theme in args.getlist("_theme"):
        bits.append(t("theme_is").format(v=(theme_names or {}).get(theme, theme)))
    for key in args:
        if key.startswith("_"):
            continue
        column, _, op = key.rpartition("__") if "__" in key else (key, "", "exact")
        for value in args.getlist(key):
            words = f"{label(column).lower()} {t(f'op_{op}')}"
            bits.append(words if op.endswith(("null", "blank"))
                        else f"{words} {value_label(column, value, t)}")
    sentence = ""
    if bits:
        sentence = t("where") + " " + f" {t('and')} ".join(bits)
    sort = args.get("_sort") or args.get("_sort_desc")
    if sort:
        order = t("sorted_by").format(c=label(sort))
        if args.get("_sort_desc"):
            order += f" ({t('descending')})"
        sentence = f"{sentence}, {order}" if sentence else order
    return sentence


async def _theme_names(datasette, database: str | None, args) -> dict[str, str]:
    """Slug to name of the themes ``?_theme=`` gives (none asked: no query)."""
    slugs = args.getlist("_theme")
    if not slugs or not database:
        return {}
    db = datasette.get_database(database)
    marks = ", ".join("?" for _ in slugs)
    rows = await db.execute(f"SELECT slug, name FROM themes WHERE slug IN ({marks})", slugs)
    return {r["slug"]: r["name"] for r in rows}


def selection_query(args) -> str:
    """The request's arguments without those that only shape the page."""
    pairs = [(k, v) for k in args for v in args.getlist(k)
             if k not in PAGE_ARGS and not k.startswith("_facet")]
    return urlencode(pairs)


def search_keeps(args) -> list[tuple[str, str]]:
    """The page's arguments a new search keeps (filters, theme, sort), as hidden inputs: a
    search from ``?year=2024`` stays in 2024, and its downloads export the same set."""
    return [(k, v) for k in args for v in args.getlist(k) if k not in ("_search", "_next")]


def download_links(datasette, database: str, table: str, args) -> dict[str, str]:
    query = selection_query(args)
    base = datasette.urls.path(f"/-/download/{table}")
    return {fmt: f"{base}.{fmt}" + (f"?{query}" if query else "") for fmt in DOWNLOAD_FORMATS}


async def feed_link(datasette, database: str, table: str, args) -> str | None:
    """The Atom feed of this selection's themes (a theme view, or ``?_theme=``)."""
    db = datasette.get_database(database)
    themes = list(args.getlist("_theme"))
    row = (await db.execute("SELECT slug FROM themes WHERE view = ? UNION ALL"
                            " SELECT slug FROM theme_groups WHERE view = ?",
                            [table, table])).first()
    if row:
        themes.append(row[0])
    elif table != "records":
        return None
    return feed_url(datasette, database, themes)


def feed_url(datasette, database: str, themes: list[str] | None = None) -> str:
    pairs = [("_sort_desc", "atom_updated")] + [("_theme", t) for t in themes or []]
    return datasette.urls.table(database, "feed", format="atom") + "?" + urlencode(pairs)


async def table_vars(datasette, database: str | None, table: str | None, columns, request
                     ) -> dict[str, Any]:
    """Everything the overridden templates use, for one request."""
    language = await site_language(datasette)
    t = translator(language)
    label = column_label(t)
    args = request.args if request is not None else None
    words: list[str] = []
    if args is not None and args.get("_search") and database:
        from evidence.publish.site.search import reader_query  # it imports this module

        query = await reader_query(datasette.get_database(database), args.get("_search"))
        words = query.words

    def rich(text: str | None, html: str | None = None) -> Markup:
        return highlight_html(sanitise(html or text), words)

    def matched(text: Any) -> bool:
        """The search's words occur in ``text`` (to open a folded cell that holds them)."""
        return bool(words) and bool(match_spans(str(text or ""), words))

    values: dict[str, Any] = {
        "t": t, "language": language, "col_label": label, "rich": rich, "tags": tags,
        "matched": matched,
        "first_columns": FIRST_COLUMNS, "list_columns": LIST_COLUMNS,
    }
    if table and args is not None:
        values.update(
            search_keeps=search_keeps(args),
            describe=describe(args, t, label, await _theme_names(datasette, database, args)),
            download_links=download_links(datasette, database, table, args),
            feed_link=await feed_link(datasette, database, table, args),
            # facets stay open once the reader has narrowed the table with them
            narrowed="_theme" in args or any(not key.startswith("_") for key in args),
        )
    return values
