"""Stopping screening from the app: a lead's *Stop screening* and its undo.

A view module of its own (the events are kept by :mod:`models.safe`); the guard and helpers
are those of :mod:`screening.pages`. Only a lead may stop or undo (a reviewer gets 403 and
never sees the button). Before SAFE's rule is met the form must carry ``confirm=yes`` (a
ticked box beside the button), so an early stop is never one stray click. A stop counts in
``evidence publish`` exactly as ``screening.stopping.stopped: true`` does.
"""

from __future__ import annotations

from datasette.utils.asgi import Response

from evidence.models import safe
from evidence.models.stopping import stopping_figures
from evidence.screening.app import evidence_config
from evidence.screening.pages import (
    Refusal,
    _form,
    _one,
    _read,
    _safe_next,
    _t,
    _write,
    login_required,
)


@login_required(lead=True)
async def stop(request, datasette, user):
    """POST ``action=stop`` (with ``confirm=yes`` unless the rule is met) or ``action=undo``."""
    if request.method != "POST":
        return Response.redirect(_safe_next(datasette, ""))
    form = await _form(request)
    action, t = _one(form, "action"), _t(datasette, request)
    if action == "undo":
        done = await _write(datasette, lambda c: safe.undo_stop(c, user["id"]))
        datasette.add_message(request, t("stop_undone" if done else "not_stopped"))
    elif action == "stop":
        settings = evidence_config(datasette).screening
        figures = await _read(datasette, lambda c: stopping_figures(
            c, rule=settings.stopping_rule, min_share=settings.stopping_min_share,
            run_needed=settings.stopping_run).as_dict())
        if figures["phase"] != "met" and _one(form, "confirm") != "yes":
            raise Refusal(400, "stop_confirm_needed")
        done = await _write(datasette, lambda c: safe.stop_screening(c, user["id"], figures))
        datasette.add_message(request, t("stopped_now" if done else "already_stopped"))
    else:
        raise Refusal(400, "page_not_found")
    return Response.redirect(_safe_next(datasette, _one(form, "next")))


ROUTES = [(r"^/-/screen/stop$", stop)]
