"""The Zotero Web API: pyzotero pointed at ZOTERO_API_URL, retries, paging by Link headers.
(What an item's JSON says, its identifiers included, is read in harvest/zotero/convert.py,
which needs no HTTP client: reading evidence.yml imports it.)

Shared by the harvester (reading, harvest/zotero/) and `evidence zotero push` (writing,
publish/zotero_push.py), so it sits below both.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
from pyzotero import zotero
from pyzotero import zotero_errors as ze

from evidence.config import ServiceSettings, ZoteroLibrary
from evidence.errors import EvidenceError

log = logging.getLogger("evidence.zotero")

PAGE_SIZE = 100
RETRIES = 5
DEFAULT_URL = "https://api.zotero.org"

Sleep = Callable[[float], None]


class ZoteroError(EvidenceError):
    """Zotero refused or failed a request; the message says which and what to do."""


def connect(library: ZoteroLibrary, services: ServiceSettings) -> zotero.Zotero:
    """A pyzotero client for ``library``; ZOTERO_API_URL replaces the endpoint when set.

    The local desktop API (``local: true``) keeps pyzotero's loopback address unless
    ZOTERO_API_URL names another one.
    """
    zot = zotero.Zotero(library.library_id, library.library_type,
                        services.zotero_api_key, local=library.local)
    url = (services.zotero_url or DEFAULT_URL).rstrip("/")
    if not library.local or url != DEFAULT_URL:
        zot.endpoint = url
    return zot


def call(zot: zotero.Zotero, fn: Callable[[], Any], *, what: str,
         sleep: Sleep = time.sleep, attempts: int = RETRIES) -> Any:
    """Run one pyzotero call, retrying rate limits (429), 5xx and network failures.

    pyzotero already waits out ``Backoff``/``Retry-After`` on reads, but gives up on a 429
    without a delay, does not retry 5xx, and hands a 429 body back from writes; this wrapper
    covers those with the server's delay when it sends one, else exponential backoff.
    ``sleep`` is injectable so tests do not wait.
    """
    for attempt in range(attempts):
        try:
            result = fn()
        except (ze.TooManyRetriesError, ze.TooManyRequestsError) as e:
            failure: Exception = e
        except ze.PreConditionFailedError:
            raise
        except ze.UserNotAuthorisedError as e:
            raise ZoteroError(
                f"Zotero {what}: not authorised; set ZOTERO_API_KEY to a key with access to "
                f"this library (zotero.org/settings/keys)") from e
        except ze.ResourceNotFoundError as e:
            raise ZoteroError(
                f"Zotero {what}: not found ({_short(e)}); check the library's type, id and "
                f"collection key in the configuration") from e
        except ze.PyZoteroError as e:
            status = zot.request.status_code if zot.request is not None else 0
            if status < 500:
                raise ZoteroError(f"Zotero {what}: {_short(e)}") from e
            failure = e
        except (httpx2.UnsupportedProtocol, httpx2.InvalidURL, NotImplementedError) as e:
            raise ZoteroError(f"Zotero {what}: {_short(e)} (a redirect or ZOTERO_API_URL "
                              "outside http/https is not followed)") from e
        except httpx2.TransportError as e:
            failure = e
        except (ValueError, RecursionError) as e:  # JSONDecodeError is a ValueError
            raise ZoteroError(f"Zotero {what}: the answer is not Zotero's JSON "
                              f"({type(e).__name__}); is ZOTERO_API_URL the Zotero API?") from e
        else:
            response = zot.request
            if response is None or response.status_code != 429:
                return result
            failure = ZoteroError("429 Too Many Requests")
        if attempt == attempts - 1:
            raise ZoteroError(f"Zotero {what}: still failing after {attempts} attempts "
                              f"({_describe(zot, failure)}); try again later") from failure
        delay = _delay(zot, attempt)
        log.warning("Zotero %s: %s (attempt %d of %d); trying again in %.0f s", what,
                    _describe(zot, failure), attempt + 1, attempts, delay)
        sleep(delay)
    raise AssertionError("unreachable")


def _delay(zot: zotero.Zotero, attempt: int) -> float:
    headers = zot.request.headers if zot.request is not None else {}
    for name in ("Retry-After", "Backoff"):
        value = headers.get(name)
        if value:
            try:
                return float(value)
            except ValueError:
                continue
    return min(2.0 ** attempt, 60.0)


def _describe(zot: zotero.Zotero, error: BaseException) -> str:
    """What went wrong, in words: a timeout says whom it waited for and how long."""
    if isinstance(error, httpx2.TimeoutException):
        timeout = zot.client.timeout.read if zot.client.timeout else None
        within = f" within {timeout:g} s" if timeout else ""
        return f"no answer from {zot.endpoint}{within}"
    return _short(error)


def _short(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text[:300]


def fetch_pages(zot: zotero.Zotero, params: dict[str, Any], *, collection: str | None = None,
                top: bool = False, sleep: Sleep = time.sleep
                ) -> Iterator[tuple[list[dict], int, int]]:
    """Yield (items, library version, total results) per page of 100, following Link headers.

    ``top`` asks for top-level items only (no notes or attachments).
    """
    params = {**params, "limit": PAGE_SIZE}
    if top:
        page = call(zot, lambda: zot.top(**params), what="top-level items", sleep=sleep)
    elif collection:
        page = call(zot, lambda: zot.collection_items(collection, **params),
                    what=f"collection {collection} items", sleep=sleep)
    else:
        page = call(zot, lambda: zot.items(**params), what="items", sleep=sleep)
    page = _items(page)
    version = header_number(zot, "Last-Modified-Version", 0)
    total = header_number(zot, "Total-Results", len(page))
    yield page, version, total
    seen: set[str] = set()
    while zot.links and zot.links.get("next"):
        link = str(zot.links["next"])
        if link in seen:  # a server whose "next" points back would be read forever
            raise ZoteroError(f"Zotero items: the next-page link {link[:200]} points at a page "
                              "already read; stopping (is ZOTERO_API_URL the Zotero API?)")
        seen.add(link)
        page = call(zot, zot.follow, what="next page of items", sleep=sleep)
        yield _items(page or []), version, total


def _items(page: Any) -> list[dict[str, Any]]:
    """A page of items as Zotero sends it (a JSON list of objects with ``data``), else an
    error naming what came instead (an HTML page, a string)."""
    if not isinstance(page, list) or not all(
            isinstance(item, dict) and isinstance(item.get("data", item), dict) for item in page):
        raise ZoteroError(f"Zotero items: the answer is not Zotero's JSON (got "
                          f"{type(page).__name__} {str(page)[:80]!r}); is ZOTERO_API_URL the "
                          "Zotero API?")
    return page


def header_number(zot: zotero.Zotero, name: str, default: int) -> int:
    """A numeric header of the last answer (``Last-Modified-Version``, ``Total-Results``); a
    value that is not a whole number is the server's error, said as such."""
    value = zot.request.headers.get(name) if zot.request is not None else None
    if value is None:
        return default
    try:
        return int(str(value).strip())
    except ValueError:
        raise ZoteroError(f"Zotero answered {name}: {str(value)[:40]!r}, not a number; is "
                          "ZOTERO_API_URL the Zotero API?") from None
