"""Logging in and out and choosing the language: the pages that work without an account.

Separate from :mod:`screening.pages` (the guard and helpers they share) because these views
check CSRF and the account themselves instead of going through ``login_required``.
"""

from __future__ import annotations

from datasette.utils.asgi import Response

from evidence.screening import auth, sessions
from evidence.screening import queries as q
from evidence.screening import throttle as login_limits
from evidence.screening.pages import (
    LANG_COOKIE,
    LANGUAGES,
    PENDING_COOKIE,
    Refusal,
    _check_csrf,
    _form,
    _one,
    _page,
    _path,
    _read,
    _redirect,
    _refusal_page,
    _safe_next,
    _t,
    _user,
    _write,
    bind_pending,
    clear_pending,
)


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
    bind_pending(request, datasette, response, actor["id"])
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
    clear_pending(response)  # a decision kept for this account is not the next user's
    return response


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


login.checks_csrf = logout.checks_csrf = language.checks_csrf = True


ROUTES = [
    (r"^/-/login$", login),
    (r"^/-/screen/logout$", logout),
    (r"^/-/screen/language$", language),
]
