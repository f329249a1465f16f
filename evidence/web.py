"""HTTP hardening shared by the screening app and the published site, as one ASGI wrapper.

Both Datasette plugins return :func:`guard` from their ``asgi_wrapper`` hook, so every page,
Datasette's own and ours, gets the same treatment in one place:

- security headers: ``X-Frame-Options`` and CSP ``frame-ancestors`` (no framing, so no
  clickjacking of the decision buttons), a ``Content-Security-Policy`` that allows scripts,
  styles and images from the site itself only, ``Referrer-Policy``, ``nosniff``;
- request bodies over ``max_body`` bytes are refused with 413 before the app reads them;
- ``Secure`` on every cookie when ``EVIDENCE_SECURE_COOKIES`` is set (a site behind HTTPS);
- malformed ``_timelimit`` values (Datasette turns them into a 500) are dropped.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]

#: Forms of the screening app are a few kB; a 50 MB note was once stored and served.
MAX_BODY = 1024 * 1024
#: Datasette's pages use inline scripts and styles; everything else comes from the site.
CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
       "style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
SECURE_COOKIES_ENV = "EVIDENCE_SECURE_COOKIES"


def secure_cookies_wanted(environ: dict[str, str] | None = None) -> bool:
    """``EVIDENCE_SECURE_COOKIES=1`` (or true/yes): the site is served over HTTPS."""
    value = (environ if environ is not None else os.environ).get(SECURE_COOKIES_ENV, "")
    return value.strip().lower() in ("1", "true", "yes", "on")


def security_headers(referrer_policy: str) -> list[tuple[bytes, bytes]]:
    return [(b"x-frame-options", b"DENY"), (b"content-security-policy", CSP.encode()),
            (b"referrer-policy", referrer_policy.encode()),
            (b"x-content-type-options", b"nosniff")]


def _with_headers(headers: list, extra: list[tuple[bytes, bytes]], secure: bool) -> list:
    names = {name.lower() for name, _ in headers}
    result = []
    for name, value in headers:
        if secure and name.lower() == b"set-cookie" and b"; secure" not in value.lower():
            value = value + b"; Secure"
        result.append((name, value))
    return result + [(n, v) for n, v in extra if n not in names]


def _clean_query(scope: Scope) -> Scope:
    """Drop a ``_timelimit`` that is not a plain number (Datasette answers it with a 500)."""
    raw = scope.get("query_string", b"")
    if b"_timelimit" not in raw:
        return scope
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
    kept = [(k, v) for k, v in pairs
            if k != "_timelimit" or (v.isascii() and v.isdigit() and len(v) < 10)]
    return {**scope, "query_string": urlencode(kept).encode("latin-1")}


async def _send_status(send: Callable, status: int, text: str,
                       headers: list[tuple[bytes, bytes]] = ()) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), *headers]})
    await send({"type": "http.response.body", "body": text.encode("utf-8")})


def _is_form(scope: Scope) -> bool:
    kind = dict(scope.get("headers") or []).get(b"content-type", b"")
    return kind.startswith(b"application/x-www-form-urlencoded")


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


async def _read_body(receive: Callable, limit: int) -> bytes | None:
    """The whole body, or None when it exceeds ``limit``."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        size += len(message.get("body", b""))
        if size > limit:
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes, receive: Callable) -> Callable:
    """A ``receive`` that hands the app the body already read, then the real channel."""
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def guard(app: ASGIApp, *, referrer_policy: str = "same-origin", max_body: int = MAX_BODY,
          secure_cookies: bool | None = None) -> ASGIApp:
    """Wrap ``app`` with the headers, body limit and cookie flags described above."""
    secure = secure_cookies_wanted() if secure_cookies is None else secure_cookies
    extra = security_headers(referrer_policy)

    async def guarded(scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await app(scope, receive, send)
        scope = _clean_query(scope)
        length = dict(scope.get("headers") or []).get(b"content-length", b"0")
        if not length.isdigit() or int(length) > max_body:
            return await _send_status(send, 413, f"Request body over {max_body} bytes", extra)
        if scope.get("method") in ("POST", "PUT", "PATCH"):
            body = await _read_body(receive, max_body)
            if body is None:
                return await _send_status(send, 413, f"Request body over {max_body} bytes",
                                          extra)
            if _is_form(scope) and not _is_utf8(body):  # asgi-csrf would fail with a 500
                return await _send_status(send, 400, "The form is not UTF-8 text", extra)
            receive = _replay(body, receive)

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": _with_headers(
                    list(message.get("headers") or []), extra, secure)}
            await send(message)

        await app(scope, receive, send_with_headers)

    return guarded
