"""The plumbing every screening page uses: reading and writing the database, the posted
form and its CSRF token, the logged-in account, URLs, the language, rendering a template, the
app's refusal pages and the ``login_required`` guard (plus the home redirect and the app's
CSS and JS).

Separate from the view modules (``login_view``, ``record_view``, ``lists_view``, ``find_view``
...) so each of those holds only its pages. Each view checks ``request.actor`` itself: the
instance ``allow`` rule gates Datasette's own pages, not plugin routes. Reads go through
``db.execute_fn`` and writes through ``db.execute_write_fn`` (the single write connection),
both calling plain functions in :mod:`screening.queries`.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import time
import traceback
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

import sqlite_utils
from datasette.utils.asgi import Base400, NotFound, Response
from datasette.views.base import DatasetteError
from itsdangerous import BadSignature, URLSafeSerializer

from evidence.db.config_sync import sync_config
from evidence.db.migrations import BUSY_TIMEOUT_MS
from evidence.screening import auth, sessions
from evidence.screening import queries as q
from evidence.screening.app import config_error, evidence_config, plugin_settings
from evidence.screening.i18n import CATALOGUES, choose_language, format_number, translator

STATIC = Path(__file__).parent / "static"
MAX_ID = 2**63 - 1
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
LANGUAGES = tuple(CATALOGUES)
#: A decision posted after the session ended, kept (signed) until the reviewer logs in again;
#: only the account that posted it gets it back (see ``_session_ended``).
PENDING_COOKIE = "evidence_pending"
PENDING_FIELDS = ("decision", "reason", "themes", "summary", "note", "next")
#: A kept decision whose account the browser no longer names (its login cookie had expired)
#: goes to a login made this soon after it, by the person who was typing, and else to nobody.
UNOWNED_PENDING_SECONDS = 600


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


#: Printable ASCII but the space: what a ``next`` address keeps as it is.
_URL_SAFE = "".join(chr(c) for c in range(33, 127))


def _safe_next(datasette, value: str, default: str = "/-/screen") -> str:
    """``value`` when it is a page of the app itself, else ``default`` (no open redirects).

    A value with a control character (CR, LF, NUL: a header it could split or end) is not
    one; other characters a ``Location`` header cannot carry are percent-encoded."""
    own = _path(datasette, "/-/screen")
    if (not value.startswith(own) or "//" in value
            or any(ord(c) < 32 or 127 <= ord(c) < 160 for c in value)):
        return _path(datasette, default)
    return quote(value, safe=_URL_SAFE)


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
                   num=lambda value, decimals=2: format_number(value, decimals, lang),
                   languages=LANGUAGES, here=request.path + (
                       f"?{request.query_string}" if request.query_string else ""),
                   dual=config.screening.reviewers_per_record > 1,
                   full_text_stage=config.screening.full_text,
                   config_error=config_error(datasette) if is_lead else None)
    html = await datasette.render_template(template, context, request=request)
    return Response.html(html, status=status)


async def _refusal_page(datasette, request, user, refusal: Refusal) -> Response:
    """The refusal as a page of the app: titled "Not saved" where a form was turned down,
    else by what happened ("No access", "Page not found"), with a way back."""
    back = refusal.back or _safe_next(datasette, request.headers.get("referer", "").split(
        request.host, 1)[-1] if request.headers.get("referer") else "")
    t = _t(datasette, request)
    status = refusal.status
    if request.method == "POST" and status != 404:
        title = t("refused")
    else:
        title = t(f"error_{status}") if f"error_{status}" in CATALOGUES["en"] else t(
            "error_other")
    return await _page(datasette, request, user, "screening_refused.html", status=status,
                       message=t(refusal.key), back=back, title=title)


#: Datasette's own errors in the app: the message each status gets.
_ERROR_MESSAGES = {400: "bad_request", 401: "login_required", 403: "no_access",
                   404: "page_not_found"}


async def error_page(request, datasette, exception: Exception) -> Response:
    """An error Datasette raised (an unknown address, a table page this account may not
    open, a failure) as a page of the app, in the user's language and with its navigation,
    instead of Datasette's English page without a way back."""
    status = exception.status if isinstance(exception, (Base400, DatasetteError)) else 500
    if status >= 500:
        traceback.print_exception(exception)
    try:
        user = await _user(request, datasette)
    except Exception:  # the database itself may be what failed
        user = None
    if user is not None:
        request.scope["evidence_lang"] = user.get("language")
    key = _ERROR_MESSAGES.get(status, "server_error" if status >= 500 else "bad_request")
    return await _refusal_page(datasette, request, user, Refusal(status, key))


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
    """Mirror the configuration into the database whenever the file changed since this
    server last did: stages, exclusion reasons, themes and the rule change together, before
    the page that first sees the new file is drawn (a full-text stage turned on while the
    app runs once showed an empty reason list until a restart)."""
    config = evidence_config(datasette)
    if getattr(datasette, "_evidence_synced", None) is config:
        return

    def sync(conn):
        sync_config(sqlite_utils.Database(conn), config)
        conn.commit()

    await _write(datasette, sync)
    datasette._evidence_synced = config


def _labelled(items: list[dict], lang: str) -> list[dict]:
    for number, item in enumerate(items, start=1):
        item["number"] = number
        item["label"] = item.get(f"name_{lang}") or item.get("name_en") or item["slug"]
        if "group_slug" in item:
            item["group"] = item.get(f"group_{lang}") or item.get("group_en") or ""
    return items


# --- the session ended while a decision was being posted -----------------------------------

async def _session_ended(request, datasette) -> Response:
    """A decision posted after the session ended (logged out, expired, server restarted
    without EVIDENCE_SECRET): keep what was chosen and typed in a signed cookie, ask for the
    login, and fill the record in again afterwards (see ``record_view._restore``).

    The kept decision and private note belong to the account the login cookie named, and
    are filled in for that account only (:func:`pending_for`); logging out clears them, so
    the next person at a shared browser never sees them."""
    form = await _form(request)
    record_id = request.url_vars.get("id")
    response = await _page(datasette, request, None, "screening_login.html", status=401,
                           notice=_t(datasette, request)("session_expired"),
                           next=_safe_next(datasette, request.path))
    if record_id and request.path.startswith(_path(datasette, "/-/screen/record/")):
        pending = {"record": int(record_id), "user": _cookie_owner(request, datasette),
                   "at": int(time.time()), **{k: form.get(k, []) for k in PENDING_FIELDS}}
        _keep_pending(datasette, response, pending)
    return response


def _keep_pending(datasette, response: Response, pending: dict) -> None:
    response.set_cookie(PENDING_COOKIE, datasette.sign(pending, "pending"), httponly=True,
                        max_age=3600, samesite="lax")


def clear_pending(response: Response) -> None:
    response.set_cookie(PENDING_COOKIE, "", expires=0, max_age=0)


def _cookie_owner(request, datasette) -> str | None:
    """The account the ``ds_actor`` cookie names, its session ended or not. A cookie signed
    with an earlier secret (a restart without EVIDENCE_SECRET) is read without its
    signature: the name only decides who may see the kept form, which a forged name cannot
    turn into a leak (the forger's own browser holds what the forger typed)."""
    raw = request.cookies.get("ds_actor")
    if not raw:
        return None
    try:
        signed = datasette.unsign(raw, "actor")
    except BadSignature:
        try:
            signed = URLSafeSerializer(b"-", "actor").loads_unsafe(raw)[1]
        except Exception:  # not even a readable payload: nobody known
            signed = None
    actor = signed.get("a") if isinstance(signed, dict) else None
    name = actor.get("id") if isinstance(actor, dict) else None
    return name if isinstance(name, str) else None


def _read_pending(request, datasette) -> dict | None:
    raw = request.cookies.get(PENDING_COOKIE)
    if not raw:
        return None
    try:
        pending = datasette.unsign(raw, "pending")
    except BadSignature:
        return None
    return pending if isinstance(pending, dict) else None


def pending_for(request, datasette, username: str) -> dict | None:
    """The kept decision if it is ``username``'s, else None."""
    pending = _read_pending(request, datasette)
    return pending if pending and pending.get("user") == username else None


def bind_pending(request, datasette, response: Response, username: str) -> None:
    """At a login: a kept decision of another account is dropped; one whose account was
    unknown becomes this account's if the login follows it within
    :data:`UNOWNED_PENDING_SECONDS`, else it is dropped too."""
    pending = _read_pending(request, datasette)
    if pending is None:
        if request.cookies.get(PENDING_COOKIE):
            clear_pending(response)
        return
    age = time.time() - (pending.get("at") or 0)
    if pending.get("user") is None and 0 <= age < UNOWNED_PENDING_SECONDS:
        _keep_pending(datasette, response, {**pending, "user": username})
    elif pending.get("user") != username:
        clear_pending(response)


# --- the home page and the app's CSS and JS ------------------------------------------------

async def home(request, datasette):
    return _redirect(datasette, "/-/screen")


async def static(request, datasette):
    path = STATIC / request.url_vars["name"]
    if not path.is_file():
        raise NotFound("no such file")
    return Response(path.read_text(encoding="utf-8"), content_type=STATIC_TYPES[path.suffix],
                    headers={"cache-control": "max-age=300"})


ROUTES = [
    (r"^/$", home),
    (r"^/-/screen/static/(?P<name>screening\.(css|js))$", static),
]


def checks_csrf(routes, path: str) -> bool:
    """Whether the view ``path`` routes to checks CSRF itself (marked ``checks_csrf``: every
    ``login_required`` view, login and logout); any other route keeps Datasette's check."""
    return any(re.match(pattern, path) and getattr(view, "checks_csrf", False)
               for pattern, view in routes)
