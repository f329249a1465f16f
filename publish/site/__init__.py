"""Datasette plugin of the published site: pages, PRISMA diagram, .ris and .bibtex downloads.

Hookimpls only. Everything is off unless the plugin config ``evidence_published`` has
``enabled: true``, which :func:`published.app.make_datasette` sets; so the screening server,
where this package is installed too, never gets the public pages.
"""

from __future__ import annotations

from datasette import hookimpl
from markupsafe import Markup

from evidence.markup import sanitise
from evidence.publish.site import (
    csvsafe,
    downloads,
    evidence_map,
    feeds,
    limits,
    renderers,
    search,
    tablepage,
    views,
)
from evidence.publish.site.facets import TagsFacet, theme_filter


@hookimpl
def register_routes(datasette):
    if not renderers.enabled(datasette):
        return []
    return [
        (r"^/$", views.home),
        (r"^/-/themes/(?P<slug>[^/]+)$", views.theme),
        (r"^/-/records/(?P<id>\d+)$", views.record),
        (r"^/-/prisma$", views.prisma_page),
        (r"^/-/prisma\.svg$", views.prisma_image),
        (r"^/-/search$", search.search_page),
        (r"^/-/method$", views.method),
        (r"^/-/map$", evidence_map.map_page),
        (r"^/-/map\.json$", evidence_map.map_json),
        (r"^/-/feed\.atom$", feeds.feed),
        (r"^/-/site\.css$", views.stylesheet),
        (r"^/-/download/(?P<table>[^/]+)\.(?P<format>csv|xlsx|ris|bibtex)$", downloads.download),
    ]


@hookimpl
def prepare_connection(conn, database, datasette):
    """Length, column and result-size limits on every connection of the published file."""
    if renderers.enabled(datasette) and database != "_internal":
        limits.limit_connection(conn)


@hookimpl
def asgi_wrapper(datasette):
    """Security headers and body limit (evidence.web), the SQL gate (limits.py), formula-safe
    CSV (csvsafe.py)."""
    if not renderers.enabled(datasette):
        return None
    from evidence.web import guard

    def wrap(app):
        return guard(limits.sql_gate(csvsafe.csv_guard(app)),
                     referrer_policy="strict-origin-when-cross-origin")

    return wrap


@hookimpl
def extra_template_vars(template, database, table, columns, view_name, request, datasette):
    """``t``, column labels, the selection sentence, download and feed links for Datasette's
    own pages (the templates in ``overrides/``), plus the footer counts."""
    if not renderers.enabled(datasette):
        return None

    async def inner():
        values = await tablepage.table_vars(datasette, database, table, columns, request)
        values["footer"] = await views.footer_counts(datasette)
        if template == "database.html" and database:
            tables = datasette.metadata("tables", database=database) or {}
            values["table_titles"] = {n: (m or {}).get("title") for n, m in tables.items()}
        return values

    return inner


@hookimpl
def handle_exception(datasette, request, exception):
    """Error pages of the site in its language. Datasette's data formats (``.json``, ``.csv``
    of a table) keep Datasette's own answer; the site's downloads and feeds, which a reader
    opens from a link, get the site's page (views.READER_FILES)."""
    if not renderers.enabled(datasette):
        return None
    if "." in request.path.rsplit("/", 1)[-1] and not views.reader_file(datasette, request):
        return views.error_answer(exception)
    return views.error_page(datasette, request, exception)


@hookimpl
def extra_css_urls(datasette):
    if not renderers.enabled(datasette):
        return []
    # our own route: the screening plugin shares this distribution's /-/static-plugins/ name
    return [datasette.urls.path("/-/site.css")]


@hookimpl
def register_output_renderer(datasette):
    return [
        {"extension": "ris", "render": renderers.render_ris, "can_render": renderers.can_render},
        {"extension": "bibtex", "render": renderers.render_bibtex,
         "can_render": renderers.can_render},
    ]


@hookimpl
def register_facet_classes():
    """``tags``: the array facet without Datasette's whole-row deduplication (see facets.py)."""
    return [TagsFacet]


@hookimpl
def filters_from_request(request, database, table, datasette):
    """``?_theme=<slug or name>`` on records and the theme views (see facets.py)."""
    if not renderers.enabled(datasette) or table is None:
        return None
    return theme_filter(request, database, table, datasette)


@hookimpl(specname="filters_from_request")
def search_filter(request, database, table, datasette):
    """``?_search=`` that finds words inside compounds and inflected forms (see search.py)."""
    if not renderers.enabled(datasette) or table is None:
        return None
    return search.search_filter(request, database, table, datasette)


@hookimpl
def render_cell(value, column, table, row, datasette):
    """Titles of published works link to their record page; times show their zone."""
    if not renderers.enabled(datasette) or table is None:
        return None
    if column != "title":
        return tablepage.when(value) if column.endswith("_at") else None
    keys = row.keys() if hasattr(row, "keys") else []
    if "id" not in keys or not value:
        return None
    return Markup('<a href="{}">{}</a>').format(
        datasette.urls.path(f"/-/records/{row['id']}"), sanitise(value))
