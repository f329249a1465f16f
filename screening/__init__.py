"""The screening app: a Datasette plugin (hooks only; views live in views.py).

Routes exist only when the plugin config ``evidence_screening`` has ``enabled: true``, which
:func:`screening.app.make_datasette` sets: ``evidence serve`` of the published database, where
this package is installed too, answers 404 on ``/-/login``.
"""

from __future__ import annotations

from datasette import hookimpl

from screening import app, views


@hookimpl
def register_routes(datasette):
    settings = app.plugin_settings(datasette)
    if not settings or not settings.get("enabled"):
        return []
    return views.ROUTES

