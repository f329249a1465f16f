"""The screening app: a Datasette plugin (hooks only; the views live in the ``*_view.py``
modules, their shared plumbing in pages.py).

Routes exist only when the plugin config ``evidence_screening`` has ``enabled: true``, which
:func:`screening.app.make_datasette` sets: ``evidence serve`` of the published database, where
this package is installed too, answers 404 on ``/-/login`` and reads no accounts.
"""

from __future__ import annotations

from datasette import hookimpl

from evidence.screening import app, pages


@hookimpl
def register_routes(datasette):
    settings = app.plugin_settings(datasette)
    if not settings or not settings.get("enabled"):
        return []
    return _routes()


def _routes() -> list:
    """Every screening route: ``(regex, view)`` pairs, one list per view module."""
    from evidence.screening import (
        find_view,
        lists_view,
        login_view,
        record_view,
        stop_view,
        suggest_view,
    )

    return (pages.ROUTES + login_view.ROUTES + record_view.ROUTES + lists_view.ROUTES
            + find_view.ROUTES + suggest_view.ROUTES + stop_view.ROUTES)


@hookimpl
def skip_csrf(datasette, scope):
    """The screening routes check the CSRF token themselves (``pages._check_csrf``, the same
    comparison as Datasette's middleware) so that a failure is a page of the app, in the
    user's language, with a way back. Every other path keeps Datasette's own check."""
    if scope.get("type") != "http" or not app.plugin_settings(datasette):
        return False
    path = scope.get("path", "")
    prefix = datasette.urls.path("/")
    if prefix != "/" and path.startswith(prefix.rstrip("/")):
        path = path[len(prefix.rstrip("/")):]
    return pages.checks_csrf(_routes(), path)


@hookimpl(tryfirst=True)
def actor_from_request(datasette, request):
    """The actor as the users table has it now, not as the cookie had it at login.

    ``tryfirst``: runs before Datasette's own cookie hook (the first actor found wins; the
    default plugins register last, so they would go first), so a lead who was
    made a reviewer or disabled loses Datasette's table pages at once, as in the plugin views.
    """
    if not app.plugin_settings(datasette) or not request.cookies.get("ds_actor"):
        return None

    async def inner():
        return await pages.actor_now(request, datasette)

    return inner


@hookimpl
def handle_exception(datasette, request, exception):
    """Datasette's own error pages inside the app (an unknown address, a table page a
    reviewer may not open) become pages of the app: its language, its navigation and a way
    back (``pages.error_page``). JSON answers and downloads keep Datasette's."""
    if not app.plugin_settings(datasette) or "." in request.path.rsplit("/", 1)[-1]:
        return None

    async def inner():
        return await pages.error_page(request, datasette, exception)

    return inner


@hookimpl
def forbidden(datasette, request, message):
    """Datasette's own refusals (a table page a reviewer may not open) as the app's page."""
    if not app.plugin_settings(datasette):
        return None
    from datasette.utils.asgi import Forbidden

    async def inner():
        return await pages.error_page(request, datasette, Forbidden(message))

    return inner


@hookimpl
def asgi_wrapper(datasette):
    """Security headers, the request body limit and optional Secure cookies (evidence.web)."""
    if not app.plugin_settings(datasette):
        return None
    from evidence.web import guard

    return guard
