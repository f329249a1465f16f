"""The *Find records* page: search and filter all records, open any of them.

A view module of its own (the SQL is in :mod:`screening.finding`); the guard, page rendering
and helpers are those of :mod:`screening.views`.
"""

from __future__ import annotations

from urllib.parse import urlencode

from evidence.screening import finding
from evidence.screening import queries as q
from evidence.screening.app import evidence_config
from evidence.screening.views import _labelled, _lang, _page, _path, _read, login_required


@login_required
async def find(request, datasette, user):
    lead = user["role"] == "lead"
    args = {key: request.args.get(key) for key in request.args.keys()}
    filters = finding.Filters.from_args(args, lead=lead)
    needed = evidence_config(datasette).screening.reviewers_per_record
    lang = _lang(datasette, request)

    def load(conn):
        rows, count = finding.find_records(conn, filters, viewer=user["id"], lead=lead,
                                           needed=needed)
        return rows, count, finding.filter_choices(conn, lead=lead), q.reasons(conn), \
            q.themes(conn)

    rows, count, choices, reasons, themes = await _read(datasette, load)
    reasons, themes = _labelled(reasons, lang), _labelled(themes, lang)
    here = _path(datasette, "/-/screen/find")
    back = here + ("?" + urlencode(filters.query()) if filters.query() else "")
    pages = {"previous": filters.page > 1, "next": filters.page * finding.PAGE < count}
    return await _page(
        datasette, request, user, "screening_find.html", rows=rows, count=count,
        cap=finding.COUNT_CAP, f=filters, choices=choices, reasons=reasons, themes=themes,
        reason_labels={r["slug"]: r["label"] for r in reasons},
        decisions=finding.FINAL if lead and not filters.reviewer else finding.FINAL[:3] + (
            "undecided",), back=back, pages=pages,
        previous_url=here + "?" + urlencode(filters.query(page=filters.page - 1)),
        next_url=here + "?" + urlencode(filters.query(page=filters.page + 1)))


ROUTES = [(r"^/-/screen/find$", find)]
