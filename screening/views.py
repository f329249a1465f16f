"""Routes of the screening app. Each view checks ``request.actor`` itself: the instance ``allow``
rule gates Datasette's own pages, not plugin routes.

Reads go through ``db.execute_fn`` and writes through ``db.execute_write_fn`` (the single
write connection), both calling plain functions in :mod:`screening.queries`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

import sqlite_utils
from datasette.utils.asgi import Forbidden, NotFound, Response
from itsdangerous import BadSignature

from evidence.config import NOT_RETRIEVED
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
from evidence.dedupe.cluster import decide_pair, list_uncertain_pairs
from evidence.harvest.store import save_screening_rule
from evidence.screening import auth
from evidence.screening import queries as q
from evidence.screening.app import evidence_config, plugin_settings
from evidence.screening.full_text import find_pdf, full_text_links
from evidence.screening.i18n import translator
from evidence.screening.text import abstract_sections, highlight, search_terms

STATIC = Path(__file__).parent / "static"
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


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
    body = await request.post_body()
    return parse_qs(body.decode("utf-8"), keep_blank_values=True)


def _one(form: dict[str, list[str]], key: str) -> str:
    return (form.get(key) or [""])[-1].strip()


async def _user(request, datasette) -> dict | None:
    """The logged-in account, re-read from the database (a disabled user is logged out)."""
    actor = request.actor
    if not actor or not actor.get("id"):
        return None
    return await _read(datasette, lambda conn: auth.current_user(conn, actor["id"]))


async def actor_now(request, datasette) -> dict | None:
    """The signed cookie's account re-read from the users table; a disabled or deleted
    account becomes ``{"id": name, "role": "disabled"}``, which no ``allow`` rule admits
    (returning None would let Datasette's own hook trust the cookie instead)."""
    try:
        signed = datasette.unsign(request.cookies["ds_actor"], "actor")
    except BadSignature:
        return None
    actor = signed.get("a") if isinstance(signed, dict) else None
    if not isinstance(actor, dict) or not isinstance(actor.get("id"), str):
        return None
    user = await _read(datasette, lambda conn: auth.current_user(conn, actor["id"]))
    return user or {"id": actor["id"], "role": "disabled"}


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


def _t(datasette):
    return translator(evidence_config(datasette).language)


async def _page(datasette, request, user, template: str, status: int = 200,
                **context: Any) -> Response:
    config = evidence_config(datasette)
    context.update(t=translator(config.language), lang=config.language, user=user,
                   is_lead=bool(user and user["role"] == "lead"),
                   dual=config.screening.reviewers_per_record > 1,
                   full_text_stage=config.screening.full_text)
    html = await datasette.render_template(template, context, request=request)
    return Response.html(html, status=status)


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
            if user is None:
                return _to_login(request, datasette)
            if lead and user["role"] != "lead":
                raise Forbidden(_t(datasette)("forbidden"))
            return await view(request, datasette, user)

        guarded.__name__, guarded.__doc__ = view.__name__, view.__doc__
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
        return await _page(datasette, request, None, "screening_login.html", next=next_url)
    if "ds_csrftoken" not in request.cookies:
        raise Forbidden("csrftoken missing: load the login page first")
    form = await _form(request)
    username, password = _one(form, "username"), (form.get("password") or [""])[-1]
    actor = await _read(datasette, lambda c: auth.authenticate(c, username, password))
    next_url = _safe_next(datasette, _one(form, "next"))
    if actor is None:
        return await _page(datasette, request, None, "screening_login.html", status=401,
                           error=_t(datasette)("login_failed"), next=next_url,
                           username=username)
    response = Response.redirect(next_url)
    response.set_cookie("ds_actor", datasette.sign({"a": actor}, "actor"), httponly=True)
    return response


async def logout(request, datasette):
    if request.method != "POST":
        return _redirect(datasette, "/-/screen")
    response = _redirect(datasette, "/-/login")
    response.set_cookie("ds_actor", "", expires=0, max_age=0)
    return response


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
        raise NotFound(_t(datasette)("not_found"))
    return stage


async def _queue(request, datasette, user, stage: str):
    config = evidence_config(datasette).screening
    skip = [int(s) for s in request.args.get("skip", "").split(",") if s.isdigit()]
    record_id, left, total = await _read(datasette, lambda c: q.queue_state(
        c, user["id"], needed=config.reviewers_per_record, order=config.order, skip=skip,
        stage=stage))
    return await _record_page(datasette, request, user, record_id, skip=skip,
                              counts=(left, total), stage=stage)


async def _record(request, datasette, user, stage: str):
    record_id = int(request.url_vars["id"])
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
    record_id = int(request.url_vars["id"])
    item = await _read(datasette, lambda c: q.record(c, record_id))
    path = find_pdf(evidence_config(datasette).screening.full_text_folder, item) if item else None
    if path is None:
        raise NotFound(_t(datasette)("not_found"))
    return Response(path.read_bytes(), content_type="application/pdf", headers={
        "content-disposition": f'inline; filename="{path.name}"',
        "x-content-type-options": "nosniff"})


async def _record_page(datasette, request, user, record_id: int | None, *, explicit=False,
                       skip=(), error: str | None = None, status: int = 200,
                       next: str | None = None, form: dict | None = None,
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
                "rate": q.rate_per_hour(conn, me)}

    data = await _read(datasette, load)
    if explicit and data["record"] is None:
        raise NotFound(_t(datasette)("not_found"))
    queue_path = _path(datasette, STAGE_PATHS[stage])
    left, total = data["counts"]
    context: dict[str, Any] = {
        "left": left, "total": total, "rate": round(data["rate"]) if data["rate"] else None,
        "eta": _eta(left, data["rate"]), "error": error,
        "next": next or queue_path,
        "themes": _labelled(data["themes"], config.language),
        "reasons": _labelled([r for r in data["reasons"] if r["slug"] != NOT_RETRIEVED],
                             config.language),
        "stage": stage, "queue_path": queue_path, "record_path": f"{queue_path}/record/",
        "require_reason": config.screening.require_reason_on_exclude,
        "skip": ",".join(str(s) for s in [*skip, record_id] if s),
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
        context.update(record=item, mine=data["mine"], title_html=highlight(item["title"], terms),
                       sections=abstract_sections(item["abstract"], terms), terms=terms,
                       chosen=current, chosen_themes=set(current.get("themes") or []),
                       sources=sorted({s["source"] for s in item["searches"]}))
    return await _page(datasette, request, user, "screening_record.html", status=status,
                       **context)


def _validate(datasette, form: dict[str, list[str]], reasons: list[str],
              themes: list[str]) -> tuple[dict[str, Any], str | None]:
    """The cleaned decision fields, and a message for the reviewer when they are not valid."""
    t, screening = _t(datasette), evidence_config(datasette).screening
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
        raise NotFound(_t(datasette)("not_found"))
    chosen, error = _validate(datasette, form, lists[1], lists[2])
    queue_path = STAGE_PATHS[voting]
    next_url = _safe_next(datasette, _one(form, "next"), default=queue_path)
    if error:
        if is_resolution(stage):
            return Response.html(str(error), status=400)
        return await _record_page(datasette, request, user, record_id, error=error, status=400,
                                  next=next_url, form=chosen, stage=stage)
    await _write(datasette, lambda c: save_decision(
        c, record_id, user["id"], chosen["decision"], stage=stage, reason=chosen["reason"],
        note=chosen["note"], summary=chosen["summary"], theme_slugs=chosen["themes"]))
    datasette.add_message(request, _t(datasette)("resolved" if is_resolution(stage) else "saved"))
    if not is_resolution(stage):
        return Response.redirect(next_url)
    suffix = "" if voting == SCREENING else f"?stage={voting}"
    return _redirect(datasette, f"/-/screen/conflicts{suffix}")


@login_required
async def undo(request, datasette, user):
    undone = await _write(datasette, lambda c: q.undo_last_decision(c, user["id"]))
    t = _t(datasette)
    datasette.add_message(request, t("undone") if undone else t("nothing_to_undo"))
    if not undone:
        return _redirect(datasette, "/-/screen")
    record_id, stage = undone
    return _redirect(datasette, f"{STAGE_PATHS[reviewers_stage(stage)]}/record/{record_id}")


# --- lists ----------------------------------------------------------------------------------

@login_required
async def mine(request, datasette, user):
    lang = evidence_config(datasette).language
    stage = _stage_arg(request, datasette)
    args = {k: request.args.get(k, "").strip() for k in ("q", "decision", "reason")}
    page_arg = request.args.get("page", "1")
    page = max(int(page_arg), 1) if page_arg.isdigit() else 1
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
        raise NotFound(_t(datasette)("not_found"))
    return _stage(datasette, stage)


@login_required(lead=True)
async def conflicts(request, datasette, user):
    lang = evidence_config(datasette).language
    stage = _stage_arg(request, datasette)
    items, reasons, themes = await _read(datasette, lambda c: (
        q.conflicts(c, stage), q.reasons(c, stage), q.themes(c)))
    reasons, themes = _labelled(reasons, lang), _labelled(themes, lang)
    return await _page(datasette, request, user, "screening_conflicts.html", items=items,
                       reasons=reasons, themes=themes, stage=stage,
                       record_path=_path(datasette, f"{STAGE_PATHS[stage]}/record/"),
                       resolve_path=_path(datasette, "/-/screen/resolve/" if stage == SCREENING
                                          else "/-/screen/full-text/resolve/"),
                       reason_labels={r["slug"]: r["label"] for r in reasons},
                       theme_labels={t["slug"]: t["label"] for t in themes})


@login_required(lead=True)
async def resolve(request, datasette, user):
    return await _decide(request, datasette, user, int(request.url_vars["id"]),
                         stage=RESOLUTION)


@login_required(lead=True)
async def full_text_resolve(request, datasette, user):
    return await _decide(request, datasette, user, int(request.url_vars["id"]),
                         stage=resolution_of(_stage(datasette, FULL_TEXT)))


@login_required(lead=True)
async def summary(request, datasette, user):
    stage = _stage_arg(request, datasette)
    counts, kappas = await _read(datasette, lambda c: (q.reviewer_counts(c, stage),
                                                       q.kappas(c, stage)))
    return await _page(datasette, request, user, "screening_summary.html", counts=counts,
                       kappas=kappas, stage=stage)


@login_required
async def duplicates(request, datasette, user):
    if request.method == "POST":
        form = await _form(request)
        action = _one(form, "action")
        if action not in ("merge", "split"):
            return Response.html("merge or split", status=400)
        pair_id = int(request.url_vars["id"])

        def decide(conn):
            decide_pair(sqlite_utils.Database(conn), pair_id, action, user["id"])
            conn.commit()

        await _write(datasette, decide)
        datasette.add_message(request, _t(datasette)("pair_decided"))
        return _redirect(datasette, "/-/screen/duplicates")
    pairs = await _read(datasette, lambda c: list_uncertain_pairs(sqlite_utils.Database(c)))
    for pair in pairs:
        for side in ("record_a", "record_b"):
            pair[side] = {**pair[side], "authors": json_list(pair[side].get("authors"))}
    return await _page(datasette, request, user, "screening_duplicates.html", pairs=pairs)


@login_required(lead=True)
async def lists(request, datasette, user):
    if request.method == "POST":
        from evidence.harvest.store import sync_config

        config = evidence_config(datasette, reload=True)

        def reload(conn):
            sync_config(sqlite_utils.Database(conn), config)
            conn.commit()

        await _write(datasette, reload)
        datasette.add_message(request, _t(datasette)("reloaded"))
        return _redirect(datasette, "/-/screen/lists")
    lang = evidence_config(datasette).language
    themes, reasons = await _read(datasette, lambda c: (q.themes(c), q.reasons(c)))
    return await _page(datasette, request, user, "screening_lists.html",
                       themes=_labelled(themes, lang), reasons=_labelled(reasons, lang),
                       config_path=plugin_settings(datasette)["config_path"])


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
]
