"""The *Find records* page: search and filter all records, open any of them.

A view module of its own (the SQL is in :mod:`screening.finding`); the guard, page rendering
and helpers are those of :mod:`screening.pages`, the record page that of
:mod:`screening.record_view`.
"""

from __future__ import annotations

from urllib.parse import urlencode

from markupsafe import escape

from evidence.citation import byline, original_title
from evidence.screening import claims, finding
from evidence.screening import queries as q
from evidence.screening.app import evidence_config
from evidence.screening.pages import _labelled, _lang, _page, _path, _read, _t, login_required
from evidence.screening.record_view import _record_page, _stopped
from evidence.screening.text import highlight
from evidence.terms import highlight_html, match_spans


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
    stopped = await _stopped(datasette)  # a stop ends narrowed queues: no "Screen these"
    words = finding.search_words(filters)
    t = _t(datasette, request)
    for row in rows:  # inline markup rendered safely, as on the record page; words marked
        row.update(_named(row, words, t))
    reasons, themes = _labelled(reasons, lang), _labelled(themes, lang)
    here = _path(datasette, "/-/screen/find")
    back = here + ("?" + urlencode(filters.query()) if filters.query() else "")
    pages = {"previous": filters.page > 1, "next": filters.page * finding.PAGE < count}
    queue_url = _path(datasette, "/-/screen") + "?" + urlencode(filters.query(state="",
                                                                               page=1))
    return await _page(
        datasette, request, user, "screening_find.html", rows=rows, count=count,
        cap=finding.COUNT_CAP, f=filters, choices=choices, reasons=reasons, themes=themes,
        reason_labels={r["slug"]: r["label"] for r in reasons},
        queue_url=(queue_url if filters.narrows() and filters.state != "mine" and not stopped
                   else None),
        decisions=finding.FINAL if lead and not filters.reviewer else finding.FINAL[:3] + (
            "undecided",), back=back, pages=pages,
        previous_url=here + "?" + urlencode(filters.query(page=filters.page - 1)),
        next_url=here + "?" + urlencode(filters.query(page=filters.page + 1)))


def _named(row: dict, words: list[str], t) -> dict:
    """The result's title, its title in its own language (where it differs) and its byline
    (authors, or editors with "(red.)"; see ``evidence.citation``), with the searched words
    marked, so a match in any of them shows. The byline names three people and " …", or
    everyone when a later name matched."""
    original = original_title(row.get("original_title"), row.get("title"))
    people = row["authors"] or row["editors"]
    most = None if any(match_spans(n, words) for n in people[3:]) else 3
    return {"title_html": highlight(row["title"], words),
            "original_title_html": highlight(original, words) if original else None,
            "byline_html": highlight_html(escape(byline(row, t, most)), words)}


ROUTES = [(r"^/-/screen/find$", find)]


async def filtered_queue(request, datasette, user, filters: finding.Filters):
    """The title/abstract queue narrowed by the Find page's filters (``/-/screen?words=rus``):
    the first matching record still in this reviewer's queue (a skipped one only when no other
    is left); after each decision the reviewer comes back here, to the next match."""
    lead = user["role"] == "lead"
    needed = evidence_config(datasette).screening.reviewers_per_record
    held = claims.for_app(datasette)
    waiting = finding.Filters(**{**filters.__dict__, "state": "queue", "page": 1,
                                 "problems": []})

    def load(conn, others: set[int]):
        skipped = set(q.skipped_records(conn, user["id"]))
        rows, left = finding.find_records(conn, waiting, viewer=user["id"], lead=lead,
                                          needed=needed)
        _, total = finding.find_records(conn, finding.Filters(**{
            **filters.__dict__, "state": "", "page": 1, "problems": []}), viewer=user["id"],
            lead=lead, needed=needed, rows=False)
        ids = [r["id"] for r in rows]
        # a record others have open (claims.py) only when nothing else matches; a skipped
        # one only when nothing else is left
        ranked = sorted(ids, key=lambda i: (i in others, i in skipped))
        return (ranked[0] if ranked else None), left, total

    async def pick(others: list[int]) -> tuple:
        return await _read(datasette, lambda c: load(c, set(others)))

    record_id, left, total = await claims.pick_and_claim(held, user["id"], needed, pick)
    here = request.path + "?" + request.query_string
    return await _record_page(datasette, request, user, record_id, counts=(left, total),
                              next=here, filtered=_path(datasette, "/-/screen/find") + "?"
                              + urlencode(filters.query()))
