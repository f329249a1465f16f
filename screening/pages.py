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
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

import sqlite_utils
from datasette.utils.asgi import NotFound, Response
from itsdangerous import BadSignature

from evidence.db.config_sync import save_screening_rule
from evidence.db.migrations import BUSY_TIMEOUT_MS
from evidence.screening import auth, sessions
from evidence.screening import queries as q
from evidence.screening.app import config_error, evidence_config, plugin_settings
from evidence.screening.i18n import CATALOGUES, choose_language, translator

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
    login, and fill the record in again afterwards (see ``record_view._restore``)."""
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
