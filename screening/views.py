"""Routes of the screening app. Each view checks ``request.actor`` itself: the instance ``allow``
rule gates Datasette's own pages, not plugin routes.

Reads go through ``db.execute_fn`` and writes through ``db.execute_write_fn`` (the single
write connection), both calling plain functions in :mod:`screening.queries`.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

import sqlite_utils
from datasette.utils.asgi import NotFound, Response
from itsdangerous import BadSignature

from evidence.config import NOT_RETRIEVED, ConfigError
from evidence.db.decisions import (
    DECISIONS,
    FULL_TEXT,
    RESOLUTION,
    SCREENING,
    is_resolution,
    resolution_of,
    reviewers_stage,
    save_decision,
)
from evidence.db.migrations import BUSY_TIMEOUT_MS
from evidence.db.values import json_list
from evidence.dedupe.cluster import (
    DedupeError,
    PairDecidedError,
    decide_pair,
    list_merged_pairs,
    list_uncertain_pairs,
    undo_merge,
)
from evidence.harvest.store import save_screening_rule
from evidence.screening import auth, claims, safe, sessions
from evidence.screening import queries as q
from evidence.screening import throttle as login_limits
from evidence.screening.app import config_error, evidence_config, plugin_settings
from evidence.screening.full_text import find_pdf, full_text_links
from evidence.screening.highlights import parse_words, save_highlight_words
from evidence.screening.i18n import CATALOGUES, choose_language, translator
from evidence.screening.relevance import RelevanceQueue, queue_for
from evidence.screening.stopping import stopping_figures
from evidence.screening.text import abstract_sections, highlight, search_terms

STATIC = Path(__file__).parent / "static"
MAX_ID = 2**63 - 1
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
LANGUAGES = tuple(CATALOGUES)
#: A decision posted after the session ended, kept (signed) until the reviewer logs in again.
PENDING_COOKIE = "evidence_pending"
PENDING_FIELDS = ("decision", "reason", "themes", "summary", "note", "next")


# --- helpers --------------------------------------------------------------------------------

def _db(datasette):
    return datasette.get_database(plugin_settings(datasette)["database"])


async def _read(datasette, fn):
    return await _db(datasette).execute_fn(fn)


async def _write(datasette, fn):
    def run(conn: sqlite3.Connection):
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return fn(conn)

    return await _db(datasette).execute_write_fn(run)


async def _form(request) -> dict[str, list[str]]:
    """The posted form, read once per request (the guard reads it first to check CSRF)."""
    if "evidence_form" not in request.scope:
        body = await request.post_body()
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise Refusal(400, "page_not_found") from e
        request.scope["evidence_form"] = parse_qs(text, keep_blank_values=True)
    return request.scope["evidence_form"]


def _id(value: str | None) -> int:
    """A record or pair id from the URL: ASCII digits within SQLite's 64-bit integers
    (``int("²")`` fails, and a longer id cannot be stored), else 404."""
    if not value or not (value.isascii() and value.isdigit()) or int(value) > MAX_ID:
        raise NotFound("no such id")
    return int(value)


class Refusal(Exception):
    """A request the app turns down, shown as a page of the app in the user's language with
    a way back (not Datasette's bare English error page)."""

    def __init__(self, status: int, key: str, back: str | None = None):
        super().__init__(key)
        self.status, self.key, self.back = status, key, back


async def _check_csrf(request) -> None:
    """The form's ``csrftoken`` must equal the signed ``ds_csrftoken`` cookie.

    The same test Datasette's CSRF middleware makes (``asgi_csrf``); it skips our routes
    (``skip_csrf`` in ``screening/__init__.py``) so that a failure is our own refusal page.
    """
    expected = request.scope["csrftoken"]() if "csrftoken" in request.scope else ""
    header = request.headers.get("x-csrftoken", "")
    given = _one(await _form(request), "csrftoken")
    if not expected or not (secrets.compare_digest(given, expected)
                            or secrets.compare_digest(header, expected)):
        raise Refusal(403, "csrf_failed")


def _one(form: dict[str, list[str]], key: str) -> str:
    return (form.get(key) or [""])[-1].strip()


async def _user(request, datasette) -> dict | None:
    """The logged-in account: ``request.actor`` as :func:`actor_now` re-read it from the users
    table; an ended, expired or disabled session has no role and is nobody."""
    actor = request.actor
    if not actor or not actor.get("id") or actor.get("role") not in auth.ROLES:
        return None

    def load(conn):
        user = auth.current_user(conn, actor["id"])
        if user is not None:
            user["language"] = q.user_language(conn, user["id"])
        return user

    return await _read(datasette, load)


async def actor_now(request, datasette) -> dict | None:
    """The signed cookie's account re-read from the users table; a disabled or deleted
    account, an expired session or one ended by logout or a new password becomes
    ``{"id": name, "role": "disabled"}``, which no ``allow`` rule admits (returning None
    would let Datasette's own hook trust the cookie instead)."""
    try:
        signed = datasette.unsign(request.cookies["ds_actor"], "actor")
    except BadSignature:
        return None
    actor = signed.get("a") if isinstance(signed, dict) else None
    if not isinstance(actor, dict) or not isinstance(actor.get("id"), str):
        return None
    user = await _read(datasette, lambda conn: auth.current_user(conn, actor["id"]))
    if user is None or not sessions.is_valid(signed, user["generation"]):
        return {"id": actor["id"], "role": "disabled"}
    return {"id": user["id"], "role": user["role"]}


def _path(datasette, path: str) -> str:
    """``path`` under Datasette's ``base_url`` (the app may be served below a prefix)."""
    return datasette.urls.path(path)


def _redirect(datasette, path: str) -> Response:
    return Response.redirect(_path(datasette, path))


def _to_login(request, datasette) -> Response:
    path = request.path + (f"?{request.query_string}" if request.query_string else "")
    return Response.redirect(_path(datasette, "/-/login") + "?next=" + quote(path, safe=""))


def _safe_next(datasette, value: str, default: str = "/-/screen") -> str:
    """``value`` when it is a page of the app itself, else ``default`` (no open redirects)."""
    own = _path(datasette, "/-/screen")
    return value if value.startswith(own) and "//" not in value else _path(datasette, default)


LANG_COOKIE = "evidence_lang"


def _lang(datasette, request=None) -> str:
    """This request's language: the user's saved choice (set by the guard), the cookie, or
    the project's."""
    saved = request.scope.get("evidence_lang") if request is not None else None
    cookie = request.cookies.get(LANG_COOKIE) if request is not None else None
    return choose_language(saved, cookie, evidence_config(datasette).language)


def _t(datasette, request=None):
    return translator(_lang(datasette, request))


async def _page(datasette, request, user, template: str, status: int = 200,
                **context: Any) -> Response:
    config = evidence_config(datasette)
    lang = _lang(datasette, request)
    is_lead = bool(user and user["role"] == "lead")
    context.update(t=translator(lang), lang=lang, user=user, is_lead=is_lead,
                   languages=LANGUAGES, here=request.path + (
                       f"?{request.query_string}" if request.query_string else ""),
                   dual=config.screening.reviewers_per_record > 1,
                   full_text_stage=config.screening.full_text,
                   config_error=config_error(datasette) if is_lead else None)
    html = await datasette.render_template(template, context, request=request)
    return Response.html(html, status=status)


async def _refusal_page(datasette, request, user, refusal: Refusal) -> Response:
    back = refusal.back or _safe_next(datasette, request.headers.get("referer", "").split(
        request.host, 1)[-1] if request.headers.get("referer") else "")
    return await _page(datasette, request, user, "screening_refused.html",
                       status=refusal.status, message=_t(datasette, request)(refusal.key),
                       back=back)


def login_required(view=None, *, lead: bool = False):
    """Wrap a view ``(request, datasette, user)`` so it runs only for a logged-in account.

    Anonymous visitors go to the login page and come back; ``lead=True`` refuses reviewers. The
    wrapper keeps Datasette's ``(request, datasette)`` signature (no ``functools.wraps``:
    Datasette reads the signature to decide which arguments to pass).
    """
    def decorate(view):
        async def guarded(request, datasette):
            await _current_rule(datasette)
            user = await _user(request, datasette)
            if user is not None:
                request.scope["evidence_lang"] = user.get("language")
            try:
                if request.method == "POST":
                    await _check_csrf(request)
                if user is None:
                    if request.method == "POST":
                        return await _session_ended(request, datasette)
                    return _to_login(request, datasette)
                if lead and user["role"] != "lead":
                    raise Refusal(403, "forbidden")
                return await view(request, datasette, user)
            except Refusal as refusal:
                return await _refusal_page(datasette, request, user, refusal)
            except NotFound:
                return await _refusal_page(datasette, request, user,
                                           Refusal(404, "page_not_found"))

        guarded.__name__, guarded.__doc__ = view.__name__, view.__doc__
        guarded.checks_csrf = True
        return guarded

    return decorate(view) if view is not None else decorate


async def _current_rule(datasette) -> None:
    """Store the configuration's ``reviewers_per_record`` for ``record_status`` when the file
    changed it since this server last did (publish and exports read that view)."""
    screening = evidence_config(datasette).screening
    rule = (screening.reviewers_per_record, screening.stages)
    if getattr(datasette, "_evidence_rule_saved", None) != rule:
        await _write(datasette, lambda c: save_screening_rule(sqlite_utils.Database(c), *rule))
        datasette._evidence_rule_saved = rule


def _relevance(datasette) -> RelevanceQueue:
    """The server's relevance queue (screening/relevance.py: ranking off the request path)."""
    queue = queue_for(datasette, _db(datasette).path)
    queue.check_enabled = evidence_config(datasette).screening.stopping_rule == "safe"
    return queue


async def _safe_phase(datasette, figures: dict, reviewer: str) -> dict:
    """Start SAFE's check the first time the heuristic is met (stored once, screening/safe.py)
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
    """Stopping figures (screening/stopping.py), shown with relevance order or a rule."""
    if settings.order != "relevance" and settings.stopping_rule == "none":
        return None
    figures = stopping_figures(conn, rule=settings.stopping_rule,
                               min_share=settings.stopping_min_share,
                               run_needed=settings.stopping_run).as_dict()
    figures["stopped_in_config"] = settings.stopping_applied
    return figures


def _labelled(items: list[dict], lang: str) -> list[dict]:
    for number, item in enumerate(items, start=1):
        item["number"] = number
        item["label"] = item.get(f"name_{lang}") or item.get("name_en") or item["slug"]
        if "group_slug" in item:
            item["group"] = item.get(f"group_{lang}") or item.get("group_en") or ""
    return items


def _eta(left: int, rate: float | None) -> str | None:
    if not rate:
        return None
    minutes = round(left / rate * 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


# --- login ----------------------------------------------------------------------------------

async def login(request, datasette):
    next_url = _safe_next(datasette, request.args.get("next", ""))
    if request.method != "POST":
        message = (_t(datasette, request)("session_expired")
                   if request.cookies.get(PENDING_COOKIE) else None)
        return await _page(datasette, request, None, "screening_login.html", next=next_url,
                           notice=message)
    try:
        await _check_csrf(request)
    except Refusal as refusal:
        refusal.back = _path(datasette, "/-/login")
        return await _refusal_page(datasette, request, None, refusal)
    form = await _form(request)
    username, password = _one(form, "username"), (form.get("password") or [""])[-1]
    next_url = _safe_next(datasette, _one(form, "next"))
    throttle, lane = login_limits.for_app(datasette)
    keys = login_limits.login_keys(username, (request.scope.get("client") or [None])[0])
    wait = throttle.wait_seconds(keys)
    actor = None
    if not wait:
        row = await _read(datasette, lambda c: auth.login_row(c, username))
        try:
            actor = await lane.run(auth.check_login, row, password)
        except login_limits.LaneBusy:
            wait = 5
    if actor is None:
        t = _t(datasette, request)
        if not wait:
            throttle.failed(key for key, _limit in keys)
        error = (t("login_throttled").format(minutes=-(-wait // 60)) if wait
                 else t("login_failed"))
        return await _page(datasette, request, None, "screening_login.html",
                           status=429 if wait else 401, error=error, next=next_url,
                           username=username)
    throttle.succeeded(keys[0][0])
    response = Response.redirect(next_url)
    response.set_cookie("ds_actor", sessions.cookie_value(datasette, actor, actor["generation"]),
                        httponly=True, max_age=sessions.SESSION_SECONDS, samesite="lax")
    return response


async def logout(request, datasette):
    if request.method != "POST":
        return _redirect(datasette, "/-/screen")
    try:
        await _check_csrf(request)
    except Refusal as refusal:
        return await _refusal_page(datasette, request, None, refusal)
    user = await _user(request, datasette)
    if user is not None:  # every session of this account ends, not only this cookie
        await _write(datasette, lambda c: auth.end_sessions(c, user["id"]))
    response = _redirect(datasette, "/-/login")
    response.set_cookie("ds_actor", "", expires=0, max_age=0)
    return response


async def _session_ended(request, datasette) -> Response:
    """A decision posted after the session ended (logged out, expired, server restarted
    without EVIDENCE_SECRET): keep what was chosen and typed in a signed cookie, ask for the
    login, and fill the record in again afterwards (see ``_restore``)."""
    form = await _form(request)
    record_id = request.url_vars.get("id")
    response = await _page(datasette, request, None, "screening_login.html", status=401,
                           notice=_t(datasette, request)("session_expired"),
                           next=_safe_next(datasette, request.path))
    if record_id and request.path.startswith(_path(datasette, "/-/screen/record/")):
        pending = {"record": int(record_id), **{k: form.get(k, []) for k in PENDING_FIELDS}}
        response.set_cookie(PENDING_COOKIE, datasette.sign(pending, "pending"), httponly=True,
                            max_age=3600, samesite="lax")
    return response


def _restore(datasette, request, record_id: int) -> dict | None:
    """The decision kept by ``_session_ended`` for this record, if any (once)."""
    raw = request.cookies.get(PENDING_COOKIE)
    if not raw:
        return None
    try:
        pending = datasette.unsign(raw, "pending")
    except BadSignature:
        return None
    if pending.get("record") != record_id:
        return None
    return pending


async def language(request, datasette):
    """POST ``lang`` (nb or en): remembered for the logged-in user (``users.language``) and in
    a cookie, so the login page speaks it too."""
    if request.method != "POST":
        return _redirect(datasette, "/-/screen")
    user = await _user(request, datasette)
    form = await _form(request)
    lang = _one(form, "lang")
    try:
        await _check_csrf(request)
        if lang not in LANGUAGES:
            raise Refusal(400, "page_not_found")
    except Refusal as refusal:
        return await _refusal_page(datasette, request, user, refusal)
    if user is not None:
        await _write(datasette, lambda c: q.save_user_language(c, user["id"], lang))
    response = Response.redirect(_safe_next(datasette, _one(form, "next")))
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax")
    return response


@login_required
async def skip(request, datasette, user):
    """POST: this record goes to the end of the reviewer's queue (``screening_skips``)."""
    record_id = _id(request.url_vars.get("id"))
    stage = _one(await _form(request), "stage") or SCREENING
    if stage not in STAGE_PATHS:
        raise Refusal(400, "page_not_found")
    await _write(datasette, lambda c: q.skip_record(c, user["id"], record_id, stage))
    claims.for_app(datasette).release(record_id, user["id"])  # free for the others now
    datasette.add_message(request, _t(datasette, request)("skipped"))
    return Response.redirect(_safe_next(datasette, _one(await _form(request), "next"),
                                        default=STAGE_PATHS[stage]))


login.checks_csrf = logout.checks_csrf = language.checks_csrf = True


async def home(request, datasette):
    return _redirect(datasette, "/-/screen")


async def static(request, datasette):
    path = STATIC / request.url_vars["name"]
    if not path.is_file():
        raise NotFound("no such file")
    return Response(path.read_text(encoding="utf-8"), content_type=STATIC_TYPES[path.suffix],
                    headers={"cache-control": "max-age=300"})


# --- the queue and one record ---------------------------------------------------------------

#: The queue page of each reviewers' stage; a record page is ``<queue>/record/<id>``.
STAGE_PATHS = {SCREENING: "/-/screen", FULL_TEXT: "/-/screen/full-text"}


def _stage(datasette, stage: str) -> str:
    """``stage``, refused (404) when it is the full-text stage and that is not configured."""
    if stage == FULL_TEXT and not evidence_config(datasette).screening.full_text:
        raise Refusal(404, "not_found")
    return stage


async def _queue(request, datasette, user, stage: str):
    """The next record: skipped ones (``screening_skips``) only once nothing else is left."""
    config = evidence_config(datasette).screening
    skip = [int(s) for s in request.args.get("skip", "").split(",")
            if s.isascii() and s.isdigit() and int(s) <= MAX_ID]
    needed, held = config.reviewers_per_record, claims.for_app(datasette)
    if stage == SCREENING:
        from evidence.screening import find_view, finding

        filters = finding.Filters.from_args(
            {key: request.args.get(key) for key in request.args.keys()},
            lead=user["role"] == "lead")
        if filters.narrows():
            return await find_view.filtered_queue(request, datasette, user, filters)

    ranked = _relevance(datasette).candidates(user["id"]) if (
        config.order == "relevance" and stage == SCREENING) else None

    def state(conn, avoid):
        skipped = q.skipped_records(conn, user["id"], stage)
        return skipped, q.queue_state(conn, user["id"], needed=needed, order=config.fixed_order,
                                      skip=[*avoid, *skipped], stage=stage, ranked=ranked)

    for _attempt in range(5):  # another reviewer may claim our pick while we read it
        avoid = [*skip, *held.held_by_others(user["id"], needed)][-50:]
        skipped, (record_id, left, total) = await _read(
            datasette, lambda c, avoid=avoid: state(c, avoid))
        if record_id is None and skipped:
            await _write(datasette, lambda c: q.clear_skips(c, user["id"], stage))
            skipped, (record_id, left, total) = await _read(
                datasette, lambda c, avoid=avoid: state(c, avoid))
        if record_id is None or held.claim(record_id, user["id"], needed):
            break
    return await _record_page(datasette, request, user, record_id, skip=skip,
                              counts=(left, total), stage=stage)


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
                       stage: str = SCREENING) -> Response:
    config = evidence_config(datasette)
    me, needed = user["id"], config.screening.reviewers_per_record

    def load(conn):
        reached = bool(record_id) and q.reaches_stage(conn, record_id, stage, needed=needed)
        return {"record": q.record(conn, record_id) if reached else None,
                "mine": q.current_decision(conn, record_id, me, stage) if reached else None,
                "earlier": (q.current_decision(conn, record_id, me, SCREENING)
                            if reached and stage != SCREENING else None),
                "themes": q.themes(conn), "reasons": q.reasons(conn, stage),
                "counts": counts or q.queue_counts(conn, me, needed=needed, stage=stage),
                "rate": q.rate_per_hour(conn, me),
                "stopping": _stopping(conn, config.screening) if stage == SCREENING else None}

    data = await _read(datasette, load)
    if data["stopping"]:
        data["stopping"] = await _safe_phase(datasette, data["stopping"], me)
    if explicit and data["record"] is None:
        raise Refusal(404, "not_found")
    queue_path = _path(datasette, STAGE_PATHS[stage])
    lang = _lang(datasette, request)
    pending = _restore(datasette, request, record_id) if record_id and not form else None
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
        context.update(record=item, mine=data["mine"],
                       title_html=highlight(item["title"], terms, *words),
                       sections=abstract_sections(item["abstract"], terms, *words), terms=terms,
                       include_words=words[0], exclude_words=words[1],
                       chosen=current, chosen_themes=set(current.get("themes") or []),
                       sources=sorted({s["source"] for s in item["searches"]}))
    response = await _page(datasette, request, user, "screening_record.html", status=status,
                           **context)
    if pending:
        response.set_cookie(PENDING_COOKIE, "", expires=0, max_age=0)
    return response


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
    datasette.add_message(request, _t(datasette, request)(
        "resolved" if is_resolution(stage) else "saved"))
    if not is_resolution(stage):
        return Response.redirect(next_url)
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


# --- lists ----------------------------------------------------------------------------------

@login_required
async def mine(request, datasette, user):
    lang = _lang(datasette, request)
    stage = _stage_arg(request, datasette)
    args = {k: request.args.get(k, "").strip() for k in ("q", "decision", "reason")}
    page_arg = request.args.get("page", "1")
    page = min(max(int(page_arg), 1), 10**6) if page_arg.isascii() and page_arg.isdigit() else 1
    data = await _read(datasette, lambda c: (
        q.my_decisions(c, user["id"], limit=101, offset=(page - 1) * 100, stage=stage, **args),
        q.reasons(c, stage), q.themes(c)))
    rows, reasons, themes = data
    return await _page(datasette, request, user, "screening_mine.html", rows=rows[:100],
                       more=len(rows) > 100, page=page, args=args, stage=stage,
                       record_path=_path(datasette, f"{STAGE_PATHS[stage]}/record/"),
                       reasons=_labelled(reasons, lang),
                       reason_labels={r["slug"]: r["label"] for r in reasons},
                       theme_labels={t["slug"]: t["label"] for t in _labelled(themes, lang)})


def _stage_arg(request, datasette) -> str:
    """The reviewers' stage named by ``?stage=`` (title/abstract when absent)."""
    stage = request.args.get("stage") or SCREENING
    if stage not in STAGE_PATHS:
        raise Refusal(404, "not_found")
    return _stage(datasette, stage)


@login_required(lead=True)
async def conflicts(request, datasette, user):
    return await _conflicts_page(datasette, request, user, _stage_arg(request, datasette))


async def _conflicts_page(datasette, request, user, stage: str, *, status: int = 200,
                          failed: dict | None = None) -> Response:
    """One card per conflict: the record, each reviewer's vote side by side, "agree with"
    buttons and a full decision form with the reviewers' themes (their union) preselected.
    ``failed``: a resolution refused (no reason), shown on its card with what was chosen."""
    lang = _lang(datasette, request)

    def load(conn):
        items = q.conflicts(conn, stage)
        for item in items:
            record = q.record(conn, item["record_id"]) or {}
            item.update({k: record.get(k) for k in ("abstract", "authors", "journal", "year")})
        return items, q.reasons(conn, stage), q.themes(conn)

    items, reasons, themes = await _read(datasette, load)
    reasons, themes = _labelled(reasons, lang), _labelled(themes, lang)
    for item in items:
        item["union"] = {slug for vote in item["votes"] for slug in vote["themes"]}
        item["summary"] = next((v["summary"] for v in item["votes"] if v["summary"]), "")
        if failed and failed["record_id"] == item["record_id"]:
            item["error"], item["chosen"] = failed["error"], failed["chosen"]
            item["union"] = set(failed["chosen"].get("themes") or [])
    return await _page(datasette, request, user, "screening_conflicts.html", items=items,
                       reasons=reasons, themes=themes, stage=stage, status=status,
                       record_path=_path(datasette, f"{STAGE_PATHS[stage]}/record/"),
                       resolve_path=_path(datasette, "/-/screen/resolve/" if stage == SCREENING
                                          else "/-/screen/full-text/resolve/"),
                       reason_labels={r["slug"]: r["label"] for r in reasons},
                       theme_labels={t["slug"]: t["label"] for t in themes})


@login_required(lead=True)
async def resolve(request, datasette, user):
    return await _decide(request, datasette, user, _id(request.url_vars.get("id")),
                         stage=RESOLUTION)


@login_required(lead=True)
async def full_text_resolve(request, datasette, user):
    return await _decide(request, datasette, user, _id(request.url_vars.get("id")),
                         stage=resolution_of(_stage(datasette, FULL_TEXT)))


@login_required(lead=True)
async def summary(request, datasette, user):
    stage = _stage_arg(request, datasette)
    counts, kappas = await _read(datasette, lambda c: (q.reviewer_counts(c, stage),
                                                       q.kappas(c, stage)))
    single = evidence_config(datasette).screening.reviewers_per_record == 1
    why = None if kappas else ("no_kappa_single" if single else "no_kappa_yet")
    return await _page(datasette, request, user, "screening_summary.html", counts=counts,
                       kappas=kappas, stage=stage, no_kappa=why)


@login_required
async def duplicates(request, datasette, user):
    if request.method == "POST":
        form = await _form(request)
        action = _one(form, "action")
        if action not in ("merge", "split", "undo"):
            raise Refusal(400, "page_not_found")
        pair_id, lead = _id(request.url_vars.get("id")), user["role"] == "lead"
        if action == "undo" and not lead:
            raise Refusal(403, "forbidden")

        def decide(conn):
            db = sqlite_utils.Database(conn)
            if action == "undo":
                undo_merge(db, pair_id, user["id"])
            else:
                decide_pair(db, pair_id, action, user["id"], lead=lead)
            conn.commit()

        try:
            await _write(datasette, decide)
        except PairDecidedError as e:
            raise Refusal(403, "forbidden") from e
        except DedupeError as e:
            raise Refusal(404, "not_found") from e
        datasette.add_message(request, _t(datasette, request)(
            "merge_undone" if action == "undo" else "pair_decided"))
        return _redirect(datasette, "/-/screen/duplicates")
    pairs, merged = await _read(datasette, lambda c: (
        list_uncertain_pairs(sqlite_utils.Database(c)),
        list_merged_pairs(sqlite_utils.Database(c)) if user["role"] == "lead" else []))
    for pair in pairs:
        for side in ("record_a", "record_b"):
            pair[side] = {**pair[side], "authors": json_list(pair[side].get("authors"))}
    return await _page(datasette, request, user, "screening_duplicates.html", pairs=pairs,
                       merged=merged)


@login_required(lead=True)
async def lists(request, datasette, user):
    if request.method == "POST" and _one(await _form(request), "action") == "words":
        return await _save_words(request, datasette)
    if request.method == "POST":
        from evidence.harvest.store import sync_config

        config = evidence_config(datasette, reload=True)

        def reload(conn):
            sync_config(sqlite_utils.Database(conn), config)
            conn.commit()

        await _write(datasette, reload)
        datasette.add_message(request, _t(datasette, request)("reloaded"))
        return _redirect(datasette, "/-/screen/lists")
    lang = _lang(datasette, request)
    screening = evidence_config(datasette).screening
    themes, reasons, full_text_reasons = await _read(datasette, lambda c: (
        q.themes(c), q.reasons(c), q.reasons(c, FULL_TEXT) if screening.full_text else []))
    return await _page(datasette, request, user, "screening_lists.html",
                       themes=_labelled(themes, lang), reasons=_labelled(reasons, lang),
                       full_text_reasons=_labelled(full_text_reasons, lang),
                       include_words=screening.highlight_include,
                       exclude_words=screening.highlight_exclude,
                       config_path=plugin_settings(datasette)["config_path"])


async def _save_words(request, datasette) -> Response:
    """The lead's include and exclude words, written into the configuration file."""
    form = await _form(request)
    path = plugin_settings(datasette)["config_path"]
    try:
        save_highlight_words(path, parse_words(_one(form, "include")),
                             parse_words(_one(form, "exclude")))
    except ConfigError as e:
        datasette.add_message(request, str(e), datasette.ERROR)
        return _redirect(datasette, "/-/screen/lists")
    evidence_config(datasette, reload=True)
    datasette.add_message(request, _t(datasette, request)("words_saved", path=path))
    return _redirect(datasette, "/-/screen/lists")


ROUTES = [
    (r"^/$", home),
    (r"^/-/login$", login),
    (r"^/-/screen/logout$", logout),
    (r"^/-/screen/static/(?P<name>screening\.(css|js))$", static),
    (r"^/-/screen$", queue),
    (r"^/-/screen/record/(?P<id>\d+)$", record),
    (r"^/-/screen/undo$", undo),
    (r"^/-/screen/mine$", mine),
    (r"^/-/screen/conflicts$", conflicts),
    (r"^/-/screen/resolve/(?P<id>\d+)$", resolve),
    (r"^/-/screen/full-text$", full_text_queue),
    (r"^/-/screen/full-text/record/(?P<id>\d+)$", full_text_record),
    (r"^/-/screen/full-text/resolve/(?P<id>\d+)$", full_text_resolve),
    (r"^/-/screen/full-text/pdf/(?P<id>\d+)$", full_text_pdf),
    (r"^/-/screen/summary$", summary),
    (r"^/-/screen/duplicates$", duplicates),
    (r"^/-/screen/duplicates/(?P<id>\d+)$", duplicates),
    (r"^/-/screen/lists$", lists),
    (r"^/-/screen/language$", language),
    (r"^/-/screen/skip/(?P<id>\d+)$", skip),
]

def checks_csrf(routes, path: str) -> bool:
    """Whether the view ``path`` routes to checks CSRF itself (marked ``checks_csrf``: every
    ``login_required`` view, login and logout); any other route keeps Datasette's check."""
    return any(re.match(pattern, path) and getattr(view, "checks_csrf", False)
               for pattern, view in routes)
