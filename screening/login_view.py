"""Logging in and out and choosing the language: the pages that work without an account.

Separate from :mod:`screening.pages` (the guard and helpers they share) because these views
check CSRF and the account themselves instead of going through ``login_required``.
"""

from __future__ import annotations

import asyncio

from datasette.utils.asgi import Response

from evidence.screening import auth, remote, sessions
from evidence.screening import queries as q
from evidence.screening import throttle as login_limits
from evidence.screening.app import evidence_config
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


def _auth_settings(datasette):
    return evidence_config(datasette).screening.auth


def client_address(request, datasette) -> str | None:
    """The client's address for throttling: behind trusted proxies, from X-Forwarded-For."""
    return remote.client_address(request.scope, _auth_settings(datasette).trusted_proxies)


def proxy_user(request, datasette) -> str | None:
    """The name the institution's trusted proxy sent, or None (not configured, not from a
    trusted address, no header)."""
    settings = _auth_settings(datasette)
    return remote.remote_user(request.scope, settings.header, settings.trusted_proxies)


async def proxy_account(request, datasette) -> tuple[str | None, dict | None]:
    """(the name from the proxy, its active account or None). Creates a reviewer account for
    a new name when ``screening.auth.create_users`` is on."""
    name = proxy_user(request, datasette)
    if name is None:
        return None, None
    create = _auth_settings(datasette).create_users
    reader = _write if create else _read
    return name, await reader(datasette, lambda c: auth.remote_account(c, name, create=create))


async def proxy_actor(request, datasette) -> dict:
    """The actor of a request signed in through the proxy; a name without an active
    account is an actor no ``allow`` rule admits (so no cookie is trusted instead)."""
    name, account = await proxy_account(request, datasette)
    if account is None:
        return {"id": name, "role": "disabled"}
    return {"id": account["id"], "role": account["role"]}


async def _login_page(request, datasette, status: int = 200, **context):
    settings = _auth_settings(datasette)
    return await _page(datasette, request, None, "screening_login.html", status=status,
                       sso=bool(settings.header), **context)


async def login(request, datasette):
    next_url = _safe_next(datasette, request.args.get("next", ""))
    name, account = await proxy_account(request, datasette)
    if account is not None:  # signed in through the institution already
        return Response.redirect(next_url)
    if name is not None:
        message = _t(datasette, request)("sso_no_account").format(name=name)
        return await _login_page(request, datasette, status=403, sso_refused=True,
                                 heading="sso_no_access", error=message)
    if request.method != "POST":
        message = (_t(datasette, request)("session_expired")
                   if request.cookies.get(PENDING_COOKIE) else None)
        return await _login_page(request, datasette, next=next_url, notice=message)
    try:
        await _check_csrf(request)
    except Refusal as refusal:
        refusal.back = _path(datasette, "/-/login")
        return await _refusal_page(datasette, request, None, refusal)
    form = await _form(request)
    username, password = _one(form, "username"), (form.get("password") or [""])[-1]
    next_url = _safe_next(datasette, _one(form, "next"))
    actor, wait, device = await _check_password(request, datasette, username, password)
    if actor is None:
        if wait:
            await asyncio.sleep(login_limits.REFUSAL_PAUSE)
        t = _t(datasette, request)
        error = (t("login_throttled").format(minutes=-(-wait // 60)) if wait
                 else t("login_failed"))
        return await _login_page(request, datasette, status=429 if wait else 401,
                                 error=error, next=next_url, username=username)
    response = Response.redirect(next_url)
    response.set_cookie("ds_actor", sessions.cookie_value(datasette, actor, actor["generation"]),
                        httponly=True, max_age=sessions.SESSION_SECONDS, samesite="lax")
    if device is None:  # this browser may skip the queue for this account from now on
        response.set_cookie(login_limits.DEVICE_COOKIE,
                            login_limits.device_cookie(datasette, actor["id"]), httponly=True,
                            max_age=login_limits.DEVICE_SECONDS, samesite="lax")
    bind_pending(request, datasette, response, actor["id"])
    return response


async def _check_password(request, datasette, username: str,
                          password: str) -> tuple[dict | None, int, str | None]:
    """(actor or None, seconds to wait or 0, trusted device id) for one login attempt.

    The attempt reserves its place under the limits before the slow check, so guesses sent
    at once cannot all slip under the per-account limit (see screening.throttle).
    """
    throttle, lane = login_limits.for_app(datasette)
    device = login_limits.trusted_device(
        datasette, request.cookies.get(login_limits.DEVICE_COOKIE), username)
    address = client_address(request, datasette)
    keys = login_limits.login_keys(username, address, device)
    wait = throttle.begin(keys)
    if wait:
        return None, wait, device
    actor = None
    try:
        row = await _read(datasette, lambda c: auth.login_row(c, username))
        actor = await lane.run(auth.check_login, row, password, address=address,
                               priority=device is not None)
    except login_limits.LaneBusy:
        throttle.end(keys, failed=False)
        return None, login_limits.IN_FLIGHT_WAIT, device
    except BaseException:
        throttle.end(keys, failed=False)
        raise
    throttle.end(keys, failed=actor is None)
    if actor is not None:
        throttle.succeeded(keys[0][0])
    return actor, 0, device


async def logout(request, datasette):
    """Log out (the app's button and Datasette's own ``/-/logout``): every session of the
    account ends on the server, not only this cookie."""
    if request.method != "POST":
        return _redirect(datasette, "/-/screen")
    try:
        await _check_csrf(request)
    except Refusal as refusal:
        return await _refusal_page(datasette, request, None, refusal)
    user = await _user(request, datasette)
    if user is not None:  # every session of this account ends, not only this cookie
        await _write(datasette, lambda c: auth.end_sessions(c, user["id"]))
    if proxy_user(request, datasette) is not None:  # the proxy signs the user in again
        response = await _login_page(request, datasette, notice=_t(datasette, request)(
            "sso_logout"), sso_refused=True, heading="logout")
    else:
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
    (r"^/-/logout$", logout),  # Datasette's own Log out button, which kept the session alive
    (r"^/-/screen/language$", language),
]
