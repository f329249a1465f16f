"""The screening queue and one record: the next record to screen (title/abstract or full
text), a record's page, a reviewer's decision on it, skip and undo, with the relevance
order and stopping figures shown beside the record.

A module of its own because this is the page reviewers spend their day on; the lists
(:mod:`screening.lists_view`) and the Find page (:mod:`screening.find_view`) link into it.
"""

from __future__ import annotations

from typing import Any

from datasette.utils.asgi import Response

from evidence.citation import original_title
from evidence.config import NOT_RETRIEVED
from evidence.db.decisions import (
    DECISIONS,
    FULL_TEXT,
    SCREENING,
    is_resolution,
    reviewers_stage,
    save_decision,
)
from evidence.models import safe
from evidence.models.relevance import RelevanceQueue, queue_for
from evidence.models.stopping import stopping_figures
from evidence.screening import claims
from evidence.screening import queries as q
from evidence.screening.app import evidence_config
from evidence.screening.full_text import find_pdf, full_text_links
from evidence.screening.pages import (
    MAX_ID,
    PENDING_COOKIE,
    Refusal,
    _db,
    _form,
    _id,
    _labelled,
    _lang,
    _one,
    _page,
    _path,
    _read,
    _redirect,
    _safe_next,
    _t,
    _write,
    clear_pending,
    login_required,
    pending_for,
)
from evidence.screening.text import abstract_sections, highlight, search_terms

#: The queue page of each reviewers' stage; a record page is ``<queue>/record/<id>``.
STAGE_PATHS = {SCREENING: "/-/screen", FULL_TEXT: "/-/screen/full-text"}


def _stage(datasette, stage: str) -> str:
    """``stage``, refused (404) when it is the full-text stage and that is not configured."""
    if stage == FULL_TEXT and not evidence_config(datasette).screening.full_text:
        raise Refusal(404, "not_found")
    return stage


def _relevance(datasette) -> RelevanceQueue:
    """The server's relevance queue (models/relevance.py: ranking off the request path)."""
    queue = queue_for(datasette, _db(datasette).path)
    queue.check_enabled = evidence_config(datasette).screening.stopping_rule == "safe"
    return queue


async def _safe_phase(datasette, figures: dict, reviewer: str) -> dict:
    """Start SAFE's check the first time the heuristic is met (stored once, models/safe.py)
    and have this reviewer's queue ranked by the model the phase asks for; the figures as
    they are then. One write in a whole screening, so the request path stays a read."""
    settings = evidence_config(datasette).screening
    if settings.order != "relevance" or not figures.get("phase"):
        return figures
    queue = _relevance(datasette)
    if figures["phase"] == "active_learning" and figures["met"]:
        if await _write(datasette, lambda c: safe.start_check_if_met(c, figures, "relevance")):
            queue.phase_changed()
        return await _read(datasette, lambda c: _stopping(c, settings))
    if figures["phase"] != "active_learning" and queue.model(reviewer) == "first":
        queue.phase_changed(reviewer)  # the check was started elsewhere (evidence status)
    return figures


def _stopping(conn, settings) -> dict | None:
    """Stopping figures (models/stopping.py), shown with relevance order or a rule."""
    if settings.order != "relevance" and settings.stopping_rule == "none":
        return None
    figures = stopping_figures(conn, rule=settings.stopping_rule,
                               min_share=settings.stopping_min_share,
                               run_needed=settings.stopping_run).as_dict()
    figures["stopped_in_config"] = settings.stopping_applied
    return figures


def _eta(left: int, rate: float | None) -> str | None:
    if not rate:
        return None
    minutes = round(left / rate * 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


async def _queue(request, datasette, user, stage: str):
    """The next record: skipped ones (``screening_skips``) only once nothing else is left."""
    config = evidence_config(datasette).screening
    skip = [int(s) for s in request.args.get("skip", "").split(",")
            if s.isascii() and s.isdigit() and int(s) <= MAX_ID]
    needed, held = config.reviewers_per_record, claims.for_app(datasette)
    stopped = await _stopped(datasette) if stage == SCREENING else None
    if stage == SCREENING:
        from evidence.screening import find_view, finding

        filters = finding.Filters.from_args(
            {key: request.args.get(key) for key in request.args.keys()},
            lead=user["role"] == "lead")
        if filters.narrows() and stopped:
            # a stop ends the narrowing: the narrowed queue would serve records the stop
            # took out (only those others have begun still wait, in the whole queue)
            datasette.add_message(request, _t(datasette, request)("narrowing_ended"))
            return Response.redirect(_path(datasette, STAGE_PATHS[stage]))
        if filters.narrows():
            return await find_view.filtered_queue(request, datasette, user, filters)

    ranked = _relevance(datasette).candidates(user["id"]) if (
        config.order == "relevance" and stage == SCREENING and not stopped) else None

    def state(conn, avoid):
        skipped = q.skipped_records(conn, user["id"], stage)
        return skipped, q.queue_state(conn, user["id"], needed=needed, order=config.fixed_order,
                                      skip=[*avoid, *skipped], stage=stage, ranked=ranked,
                                      begun_only=bool(stopped))

    async def pick(others: list[int]) -> tuple:
        avoid = [*skip, *others][-50:]
        skipped, found = await _read(datasette, lambda c: state(c, avoid))
        if found[0] is None and skipped:
            await _write(datasette, lambda c: q.clear_skips(c, user["id"], stage))
            _, found = await _read(datasette, lambda c: state(c, avoid))
        return found

    record_id, left, total = await claims.pick_and_claim(held, user["id"], needed, pick)
    return await _record_page(datasette, request, user, record_id, skip=skip,
                              counts=(left, total), stage=stage, stopped=stopped)


async def _stopped(datasette) -> dict | None:
    """The stop in force for title/abstract: a lead's in the app (who, when), or the
    configuration's ``screening.stopping.stopped`` (``{"config": True}``); None while open."""
    stop = await _read(datasette, safe.current_stop)
    if stop:
        return stop
    return {"config": True} if evidence_config(datasette).screening.stopping_applied else None


async def _record(request, datasette, user, stage: str):
    record_id = _id(request.url_vars.get("id"))
    if request.method == "POST":
        return await _decide(request, datasette, user, record_id, stage=stage)
    return await _record_page(datasette, request, user, record_id, explicit=True,
                              next=_safe_next(datasette, request.args.get("next", "")),
                              stage=stage)


@login_required
async def queue(request, datasette, user):
    return await _queue(request, datasette, user, SCREENING)


@login_required
async def record(request, datasette, user):
    return await _record(request, datasette, user, SCREENING)


@login_required
async def full_text_queue(request, datasette, user):
    """The full-text queue: the records included at title/abstract."""
    return await _queue(request, datasette, user, _stage(datasette, FULL_TEXT))


@login_required
async def full_text_record(request, datasette, user):
    return await _record(request, datasette, user, _stage(datasette, FULL_TEXT))


@login_required
async def full_text_pdf(request, datasette, user):
    """The record's PDF from ``screening.full_text_folder`` (logged-in users only)."""
    _stage(datasette, FULL_TEXT)
    record_id = _id(request.url_vars.get("id"))
    item = await _read(datasette, lambda c: q.record(c, record_id))
    path = find_pdf(evidence_config(datasette).screening.full_text_folder, item) if item else None
    if path is None:
        raise Refusal(404, "not_found")
    return Response(path.read_bytes(), content_type="application/pdf", headers={
        "content-disposition": f'inline; filename="{path.name}"',
        "x-content-type-options": "nosniff"})


async def _record_page(datasette, request, user, record_id: int | None, *, explicit=False,
                       skip=(), error: str | None = None, status: int = 200,
                       next: str | None = None, form: dict | None = None,
                       filtered: str | None = None,
                       counts: tuple[int, int] | None = None,
                       stage: str = SCREENING, stopped: Any = ...) -> Response:
    config = evidence_config(datasette)
    me, needed = user["id"], config.screening.reviewers_per_record
    if stopped is ...:  # not read by the queue already
        stopped = await _stopped(datasette) if stage == SCREENING else None

    def load(conn):
        reached = bool(record_id) and q.reaches_stage(conn, record_id, stage, needed=needed)
        return {"record": q.record(conn, record_id) if reached else None,
                "mine": q.current_decision(conn, record_id, me, stage) if reached else None,
                "earlier": (q.current_decision(conn, record_id, me, SCREENING)
                            if reached and stage != SCREENING else None),
                "themes": q.themes(conn), "reasons": q.reasons(conn, stage),
                "counts": counts or q.queue_counts(conn, me, needed=needed, stage=stage,
                                                   begun_only=bool(stopped)),
                "rate": q.rate_per_hour(conn, me),
                "state": (q.record_state(conn, record_id, stage, needed)
                          if reached else None),
                "history": (q.history(conn, record_id)
                            if reached and user["role"] == "lead" else []),
                "stopping": _stopping(conn, config.screening) if stage == SCREENING else None,
                "open_conflicts": conn.execute(  # said to reviewers after a stop
                    "SELECT count(*) FROM stage_votes WHERE stage = 'screening' AND kinds > 1"
                    " AND resolution IS NULL").fetchone()[0] if stopped else 0}

    data = await _read(datasette, load)
    if stopped:
        stopped = {**stopped, "conflicts": data["open_conflicts"]}
    if data["stopping"]:
        data["stopping"] = await _safe_phase(datasette, data["stopping"], me)
    if explicit and data["record"] is None:
        raise Refusal(404, "not_found")
    queue_path = _path(datasette, STAGE_PATHS[stage])
    lang = _lang(datasette, request)
    pending = _restore(datasette, request, record_id, me) if record_id and not form else None
    if pending:
        chosen, _ = _validate(datasette, pending, [r["slug"] for r in data["reasons"]],
                              [t["slug"] for t in data["themes"]], request)
        form, error = chosen, _t(datasette, request)("restored")
        next = _safe_next(datasette, _one(pending, "next")) if _one(pending, "next") else next
    left, total = data["counts"]
    context: dict[str, Any] = {
        "left": left, "total": total, "rate": round(data["rate"]) if data["rate"] else None,
        "eta": _eta(left, data["rate"]), "error": error,
        "next": next or queue_path,
        "themes": _labelled(data["themes"], lang),
        "reasons": _labelled([r for r in data["reasons"] if r["slug"] != NOT_RETRIEVED], lang),
        "stage": stage, "queue_path": queue_path, "record_path": f"{queue_path}/record/",
        "stopped": stopped,
        "filtered": filtered,
        "require_reason": config.screening.require_reason_on_exclude,
        "skip": ",".join(str(s) for s in [*skip, record_id] if s),
        "stopping": data["stopping"],
        "stop_path": _path(datasette, "/-/screen/stop"),
        "relevance": (_relevance(datasette).relevance(me, record_id)
                      if record_id and config.screening.order == "relevance" else None),
        "suggest_path": _path(datasette, f"/-/screen/suggest/{record_id}") if record_id else "",
    }
    item = data["record"]
    if item:
        terms = search_terms(s["query"] for s in item["searches"])
        earlier = data["earlier"] if (data["earlier"] or {}).get("decision") == "include" else {}
        current = form or data["mine"] or {"themes": (earlier or {}).get("themes"),
                                           "summary": (earlier or {}).get("summary")}
        if stage == FULL_TEXT:
            pdf = find_pdf(config.screening.full_text_folder, item)
            context.update(full_text_links=full_text_links(item), not_retrieved=NOT_RETRIEVED,
                           pdf_path=_path(datasette, f"/-/screen/full-text/pdf/{item['id']}")
                           if pdf else None)
        words = (config.screening.highlight_include, config.screening.highlight_exclude)
        state = data["state"] or {}
        # a record settled without this user's vote shows its final state, not a blank form
        # inviting one vote too many (vote_allowed would refuse it anyway)
        settled = not data["mine"] and not form and (
            state.get("state") == "resolved"
            or (needed > 1 and len(state.get("votes") or []) >= needed))
        context.update(record=item, mine=data["mine"], state=state, settled=settled,
                       history=data["history"],
                       theme_labels={t["slug"]: t["label"] for t in context["themes"]},
                       reason_labels={r["slug"]: r["label"] for r in _labelled(
                           list(data["reasons"]), lang)},
                       title_html=highlight(item["title"], terms, *words),
                       original_title_html=_original_title_html(item, terms, words),
                       sections=abstract_sections(item["abstract"], terms, *words), terms=terms,
                       include_words=words[0], exclude_words=words[1],
                       chosen=current, chosen_themes=set(current.get("themes") or []),
                       sources=sorted({s["source"] for s in item["searches"]}))
    response = await _page(datasette, request, user, "screening_record.html", status=status,
                           **context)
    if pending or (request.cookies.get(PENDING_COOKIE) and not pending_for(
            request, datasette, me)):  # used, or not this account's: gone
        clear_pending(response)
    return response


def _original_title_html(item: dict, terms: list[str], words: tuple) -> Any:
    """The title in the work's own language (a Norwegian report's), marked as the title is,
    or None where there is none or it only repeats the title."""
    original = original_title(item.get("original_title"), item.get("title"))
    return highlight(original, terms, *words) if original else None


def _validate(datasette, form: dict[str, list[str]], reasons: list[str],
              themes: list[str], request=None) -> tuple[dict[str, Any], str | None]:
    """The cleaned decision fields, and a message for the reviewer when they are not valid."""
    t, screening = _t(datasette, request), evidence_config(datasette).screening
    decision = _one(form, "decision")
    if _one(form, "not_retrievable") and NOT_RETRIEVED in reasons:
        decision = "exclude"
        form = {**form, "reason": [NOT_RETRIEVED]}
    chosen = {"decision": decision, "reason": _one(form, "reason") or None,
              "note": _one(form, "note"), "summary": _one(form, "summary"),
              "themes": [s for s in form.get("themes", []) if s]}
    if decision not in DECISIONS:
        return chosen, t("bad_decision")
    if decision != "exclude":
        chosen["reason"] = None
    elif chosen["reason"] is None and screening.require_reason_on_exclude:
        return chosen, t("reason_required")
    elif chosen["reason"] is not None and chosen["reason"] not in reasons:
        return chosen, t("unknown_reason")
    if decision != "include":
        chosen["themes"] = []
    elif any(slug not in themes for slug in chosen["themes"]):
        return chosen, t("unknown_theme")
    return chosen, None


async def _decide(request, datasette, user, record_id: int, stage: str = SCREENING):
    """Save a reviewer's vote (``stage`` ``screening`` or ``full_text``) or a lead's
    resolution (``resolution``, ``full_text_resolution``) from the posted form."""
    form = await _form(request)
    voting = reviewers_stage(stage)
    needed = evidence_config(datasette).screening.reviewers_per_record
    lists = await _read(datasette, lambda c: (
        q.record(c, record_id) is not None
        and q.reaches_stage(c, record_id, voting, needed=needed),
        [r["slug"] for r in q.reasons(c, voting)], [t["slug"] for t in q.themes(c)]))
    if not lists[0]:
        raise Refusal(404, "not_found")
    chosen, error = _validate(datasette, form, lists[1], lists[2], request)
    queue_path = STAGE_PATHS[voting]
    next_url = _safe_next(datasette, _one(form, "next"), default=queue_path)
    if error:
        if is_resolution(stage):
            from evidence.screening.lists_view import _conflicts_page  # it imports this module

            return await _conflicts_page(datasette, request, user, voting, status=400,
                                         failed={"record_id": record_id, "error": error,
                                                 "chosen": chosen})
        return await _record_page(datasette, request, user, record_id, error=error, status=400,
                                  next=next_url, form=chosen, stage=stage)

    def write(c):
        if not is_resolution(stage) and not q.vote_allowed(c, record_id, user["id"], needed,
                                                           stage):
            return False
        save_decision(c, record_id, user["id"], chosen["decision"], stage=stage,
                      reason=chosen["reason"], note=chosen["note"], summary=chosen["summary"],
                      theme_slugs=chosen["themes"])
        return True

    if not await _write(datasette, write):
        return await _record_page(datasette, request, user, record_id, status=409,
                                  error=_t(datasette, request)("enough_votes"), next=next_url,
                                  form=chosen, stage=stage)
    claims.for_app(datasette).release(record_id, user["id"])
    if stage == SCREENING and evidence_config(datasette).screening.order == "relevance":
        _relevance(datasette).decided(user["id"], chosen["decision"] == "include")
    t = _t(datasette, request)
    if not is_resolution(stage):
        datasette.add_message(request, t("saved"))
        return Response.redirect(next_url)
    votes = await _read(datasette, lambda c: q.record_state(c, record_id, voting, needed)["votes"])
    datasette.add_message(request, t("resolved_as", text=q.resolution_text(
        t, q.describe_resolution(chosen, votes))))
    suffix = "" if voting == SCREENING else f"?stage={voting}"
    return _redirect(datasette, f"/-/screen/conflicts{suffix}")


@login_required
async def undo(request, datasette, user):
    undone = await _write(datasette, lambda c: q.undo_last_decision(c, user["id"]))
    t = _t(datasette, request)
    datasette.add_message(request, t("undone") if undone else t("nothing_to_undo"))
    if not undone:
        return _redirect(datasette, "/-/screen")
    record_id, stage = undone
    return _redirect(datasette, f"{STAGE_PATHS[reviewers_stage(stage)]}/record/{record_id}")


async def _posted_stage(request, datasette) -> str:
    """The stage a form posts (``stage``, title/abstract screening when absent), refused
    unless the app knows it, as the project's configuration names it."""
    stage = _one(await _form(request), "stage") or SCREENING
    if stage not in STAGE_PATHS:
        raise Refusal(400, "page_not_found")
    return _stage(datasette, stage)


@login_required
async def skip(request, datasette, user):
    """POST: this record goes to the end of the reviewer's queue (``screening_skips``)."""
    record_id = _id(request.url_vars.get("id"))
    stage = await _posted_stage(request, datasette)
    await _write(datasette, lambda c: q.skip_record(c, user["id"], record_id, stage))
    claims.for_app(datasette).release(record_id, user["id"])  # free for the others now
    datasette.add_message(request, _t(datasette, request)("skipped"))
    return Response.redirect(_safe_next(datasette, _one(await _form(request), "next"),
                                        default=STAGE_PATHS[stage]))


def _restore(datasette, request, record_id: int, username: str) -> dict | None:
    """The decision kept by ``_session_ended`` for this record and this account, if any
    (once; see ``pages.pending_for``)."""
    pending = pending_for(request, datasette, username)
    return pending if pending and pending.get("record") == record_id else None


ROUTES = [
    (r"^/-/screen$", queue),
    (r"^/-/screen/record/(?P<id>\d+)$", record),
    (r"^/-/screen/undo$", undo),
    (r"^/-/screen/full-text$", full_text_queue),
    (r"^/-/screen/full-text/record/(?P<id>\d+)$", full_text_record),
    (r"^/-/screen/full-text/pdf/(?P<id>\d+)$", full_text_pdf),
    (r"^/-/screen/skip/(?P<id>\d+)$", skip),
]
