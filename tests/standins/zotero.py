"""A stand-in Zotero Web API v3 server for tests: real response shapes, in memory.

It serves items shaped like the real API's bodies (tests/fixtures/zotero/, from pyzotero's
tests) for a generated library of N items, with ``Last-Modified-Version``, ``since``,
``/deleted``, paging by ``start``/``limit`` with ``Link`` headers, ``Total-Results``,
429 + ``Retry-After`` on demand (``state.faults``), 412 on stale writes, and the write
endpoints ``POST /items`` (create or update, the real successful/success/unchanged/failed
answer), ``PATCH``/``PUT /items/KEY`` and ``POST /collections``.

Usage::

    with serve(ZoteroState.generated(5000)) as (url, state):
        ...  # ZOTERO_API_URL=url; state.requests logs (method, path, params)
"""

from __future__ import annotations

import contextlib
import copy
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "zotero"
STATIC = {"/itemFields": "item_fields.json", "/itemTypes": "item_types.json"}
KEY_CHARS = "23456789ABCDEFGHIJKLMNPQRSTUVWXYZ"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def make_key(n: int) -> str:
    """A deterministic 8-character Zotero-style key for number ``n``."""
    chars = []
    for _ in range(8):
        n, r = divmod(n, len(KEY_CHARS))
        chars.append(KEY_CHARS[r])
    return "".join(reversed(chars))


_ARTICLE = next(i["data"] for i in fixture("items_doc.json")
                if i["data"]["itemType"] == "journalArticle")


def article(n: int, **fields: Any) -> dict[str, Any]:
    """A journalArticle ``data`` dict shaped like the fixture's, varied by ``n``."""
    data = copy.deepcopy(_ARTICLE)
    data.update(
        title=f"Community mental health study {n}",
        creators=[{"creatorType": "author", "firstName": "Kari", "lastName": f"Nordmann{n}"},
                  {"creatorType": "editor", "firstName": "Ola", "lastName": "Editor"}],
        abstractNote=f"Background: study {n} of municipal services.",
        publicationTitle="Scandinavian Journal of Public Health", journalAbbreviation="Scand J "
        "Public Health", volume=str(1 + n % 50), issue=str(1 + n % 12), pages=f"{n}-{n + 9}",
        date=f"{2000 + n % 25}-03-01", DOI=f"10.1000/zs.{n}", extra=f"PMID: {30000000 + n}",
        tags=[{"tag": "mental health"}], collections=[], url="")
    data.update(fields)
    return data


class ZoteroState:
    """One library in memory; every write bumps the library version, like Zotero."""

    def __init__(self, library_type: str = "groups", library_id: str = "1234567"):
        self.library_type, self.library_id = library_type, library_id
        self.version = 0
        self.items: dict[str, dict[str, Any]] = {}
        self.collections: dict[str, dict[str, Any]] = {}
        self.deleted: dict[str, int] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        #: (status, headers) answers given, in order, to the requests after the first
        #: ``faults_after`` ones (429 + Retry-After, 500...); status 0 accepts the request
        #: and never answers (until ``release`` is set).
        self.faults: list[tuple[int, dict[str, str]]] = []
        self.faults_after = 0
        self.release = threading.Event()
        #: called (with the state) just before the next item write is checked: simulates a
        #: researcher editing in Zotero between our read and our write.
        self.before_write: Callable[[ZoteroState], None] | None = None
        self.lock = threading.RLock()
        self._next_key = 10_000

    @classmethod
    def generated(cls, n: int, *, notes_every: int = 0) -> ZoteroState:
        state = cls()
        state.version = 1
        for i in range(n):
            key = make_key(i)
            state.items[key] = {**article(i), "key": key, "version": 1}
            if notes_every and i % notes_every == 0:
                note = make_key(1_000_000 + i)
                state.items[note] = {"key": note, "version": 1, "itemType": "note",
                                     "parentItem": key, "note": f"<p>Note on {i}</p>",
                                     "tags": [], "relations": {}}
        return state

    def new_key(self) -> str:
        self._next_key += 1
        return make_key(2_000_000 + self._next_key)

    # --- changes made "by the researcher in Zotero" -------------------------------------
    def edit(self, key: str, **fields: Any) -> None:
        with self.lock:
            self.version += 1
            self.items[key].update(fields, version=self.version)

    def add(self, data: dict[str, Any]) -> str:
        with self.lock:
            self.version += 1
            key = data.get("key") or self.new_key()
            self.items[key] = {**data, "key": key, "version": self.version}
            return key

    def delete(self, key: str) -> None:
        with self.lock:
            self.version += 1
            del self.items[key]
            self.deleted[key] = self.version

    def add_collection(self, name: str, parent: str | None = None) -> str:
        with self.lock:
            self.version += 1
            key = self.new_key()
            self.collections[key] = {"key": key, "version": self.version, "name": name,
                                     "parentCollection": parent or False, "relations": {}}
            return key

    # --- response bodies -------------------------------------------------------------------
    def library(self) -> dict[str, Any]:
        return {"type": self.library_type[:-1], "id": int(self.library_id), "name": "Library",
                "links": {"alternate": {"href": "https://www.zotero.org/groups/library",
                                        "type": "text/html"}}}

    def children(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in self.items.values():
            if item.get("parentItem"):
                counts[item["parentItem"]] = counts.get(item["parentItem"], 0) + 1
        return counts

    def item_json(self, data: dict[str, Any], children: dict[str, int] | None = None
                  ) -> dict[str, Any]:
        href = f"https://api.zotero.org/{self.library_type}/{self.library_id}/items/{data['key']}"
        counts = self.children() if children is None else children
        meta: dict[str, Any] = {"numChildren": counts.get(data["key"], 0)}
        if data.get("date"):
            meta["parsedDate"] = data["date"]
        return {"key": data["key"], "version": data["version"], "library": self.library(),
                "links": {"self": {"href": href, "type": "application/json"}},
                "meta": meta, "data": copy.deepcopy(data)}

    def collection_json(self, data: dict[str, Any]) -> dict[str, Any]:
        subs = sum(1 for c in self.collections.values()
                   if c.get("parentCollection") == data["key"])
        items = sum(1 for i in self.items.values() if data["key"] in i.get("collections", []))
        return {"key": data["key"], "version": data["version"], "library": self.library(),
                "meta": {"numCollections": subs, "numItems": items}, "data": copy.deepcopy(data)}


def _matches(state: ZoteroState, data: dict[str, Any], params: dict[str, str],
             collection: str | None, top: bool) -> bool:
    if "since" in params and data["version"] <= int(params["since"]):
        return False
    if data.get("deleted") and params.get("includeTrashed") != "1":
        return False
    if top and data.get("parentItem"):
        return False
    if "itemKey" in params and data["key"] not in params["itemKey"].split(","):
        return False
    item_type = params.get("itemType")
    if item_type:
        if item_type.startswith("-") and data.get("itemType") == item_type[1:]:
            return False
        if not item_type.startswith("-") and data.get("itemType") != item_type:
            return False
    if "tag" in params and params["tag"] not in [t["tag"] for t in data.get("tags", [])]:
        return False
    if collection:
        owner = state.items.get(data.get("parentItem", "")) or data
        if collection not in owner.get("collections", []):
            return False
    if params.get("q"):
        fields = [data.get("title", ""), data.get("date", "")] + [
            c.get("lastName", c.get("name", "")) for c in data.get("creators", [])]
        if params.get("qmode") == "everything":
            fields += [data.get("abstractNote", ""), data.get("extra", ""), data.get("note", "")]
        if params["q"].lower() not in " ".join(fields).lower():
            return False
    return True


class Handler(BaseHTTPRequestHandler):
    server: ZoteroServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet: tests read state.requests instead."""

    @property
    def state(self) -> ZoteroState:
        return self.server.state

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Last-Modified-Version", str(self.state.version))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _route(self, method: str) -> None:
        url = urlparse(self.path)
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        path = url.path.rstrip("/")
        with self.state.lock:
            self.state.requests.append((method, path, params))
            status = None
            if self.state.faults and len(self.state.requests) > self.state.faults_after:
                status, headers = self.state.faults.pop(0)
                if status:
                    return self._send(status, {"error": "injected"}, headers)
        if status == 0:
            self.state.release.wait(600)
            return None
        prefix = f"/{self.state.library_type}/{self.state.library_id}"
        if path in STATIC:
            return self._send(200, fixture(STATIC[path]))
        if not path.startswith(prefix):
            return self._send(404, {"error": f"no library at {path}"})
        rest = path[len(prefix):].strip("/").split("/")
        body = None
        if method in ("POST", "PATCH", "PUT"):
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"null")
        with self.state.lock:
            return self._dispatch(method, rest, params, body)

    def _dispatch(self, method: str, rest: list[str], params: dict[str, str], body: Any) -> None:
        state = self.state
        if method == "GET":
            if rest == ["deleted"]:
                since = int(params.get("since", 0))
                keys = [k for k, v in state.deleted.items() if v > since]
                return self._send(200, {"collections": [], "searches": [], "items": keys,
                                        "tags": [], "settings": []})
            if rest[0] == "items" and len(rest) == 2 and rest[1] != "top":
                data = state.items.get(rest[1])
                return (self._send(200, state.item_json(data)) if data
                        else self._send(404, None))
            if rest[0] == "items":
                return self._list_items(params, None, rest[-1] == "top")
            if rest[0] == "collections" and len(rest) >= 3 and rest[2] == "items":
                return self._list_items(params, rest[1], rest[-1] == "top")
            if rest[0] == "collections":
                return self._list_collections(rest, params)
            return self._send(404, None)
        if rest == ["items"] and method == "POST":
            return self._write_items(body)
        if rest == ["collections"] and method == "POST":
            return self._create_collections(body)
        if rest[0] == "items" and len(rest) == 2 and method in ("PATCH", "PUT"):
            return self._write_one(rest[1], body, replace=method == "PUT")
        return self._send(405, None)

    def _page(self, rows: list[dict], params: dict[str, str],
              render: Callable[[dict], dict]) -> None:
        start = int(params.get("start", 0))
        limit = int(params.get("limit", 25))
        headers = {"Total-Results": str(len(rows))}
        if params.get("format") == "versions":
            return self._send(200, {r["key"]: r["version"] for r in rows}, headers)
        page = [render(r) for r in rows[start:start + limit]]
        links = []
        base = f"http://{self.headers['Host']}{urlparse(self.path).path}"
        if start + limit < len(rows):
            links.append(f'<{base}?{urlencode({**params, "start": start + limit})}>; rel="next"')
            last = (len(rows) - 1) // limit * limit
            links.append(f'<{base}?{urlencode({**params, "start": last})}>; rel="last"')
        if links:
            headers["Link"] = ", ".join(links)
        return self._send(200, page, headers)

    def _list_items(self, params: dict[str, str], collection: str | None, top: bool) -> None:
        state = self.state
        rows = sorted((d for d in state.items.values()
                       if _matches(state, d, params, collection, top)),
                      key=lambda d: (d["version"], d["key"]))
        children = state.children()
        return self._page(rows, params, lambda d: state.item_json(d, children))

    def _list_collections(self, rest: list[str], params: dict[str, str]) -> None:
        state = self.state
        if len(rest) == 2 and rest[1] != "top":
            data = state.collections.get(rest[1])
            return self._send(200, state.collection_json(data)) if data else self._send(404)
        if len(rest) == 3 and rest[2] == "collections":
            rows = [c for c in state.collections.values() if c["parentCollection"] == rest[1]]
        elif rest[-1] == "top":
            rows = [c for c in state.collections.values() if not c["parentCollection"]]
        else:
            rows = list(state.collections.values())
        return self._page(rows, params, state.collection_json)

    def _precondition(self) -> bool:
        """False (and a 412 sent) when If-Unmodified-Since-Version is older than the library."""
        header = self.headers.get("If-Unmodified-Since-Version")
        if header is not None and int(header) < self.state.version:
            self._send(412, {"error": "Library has been modified since specified version "
                                      f"(expected {header}, found {self.state.version})"})
            return False
        return True

    def _write_items(self, body: list[dict[str, Any]]) -> None:
        state = self.state
        if state.before_write is not None:
            hook, state.before_write = state.before_write, None
            hook(state)
        if not isinstance(body, list) or len(body) > 50:
            return self._send(413 if isinstance(body, list) else 400, None)
        if not self._precondition():
            return None
        result: dict[str, dict] = {"successful": {}, "success": {}, "unchanged": {}, "failed": {}}
        new_version = state.version + 1
        changed = False
        for i, obj in enumerate(body):
            index = str(i)
            key = obj.get("key")
            stored = state.items.get(key) if key else None
            if stored is None:
                key = key or state.new_key()
                data = {k: v for k, v in obj.items() if k != "version"}
                state.items[key] = {**data, "key": key, "version": new_version}
                result["successful"][index] = state.item_json(state.items[key])
                result["success"][index] = key
                changed = True
                continue
            if "version" in obj and obj["version"] != stored["version"]:
                result["failed"][index] = {
                    "key": key, "code": 412,
                    "message": f"Item has been modified since specified version (expected "
                               f"{obj['version']}, found {stored['version']})"}
                continue
            updated = {**stored, **{k: v for k, v in obj.items() if k != "version"}}
            if updated == stored:
                result["unchanged"][index] = key
                continue
            state.items[key] = {**updated, "version": new_version}
            result["successful"][index] = state.item_json(state.items[key])
            result["success"][index] = key
            changed = True
        if changed:
            state.version = new_version
        return self._send(200, result)

    def _write_one(self, key: str, body: dict[str, Any], *, replace: bool) -> None:
        state = self.state
        stored = state.items.get(key)
        if stored is None:
            return self._send(404, None)
        header = self.headers.get("If-Unmodified-Since-Version")
        expected = int(header) if header is not None else body.get("version")
        if expected is None:
            return self._send(428, {"error": "If-Unmodified-Since-Version not provided"})
        if int(expected) != stored["version"]:
            return self._send(412, {"error": "Item has been modified since specified version"})
        state.version += 1
        fields = {k: v for k, v in body.items() if k != "version"}
        state.items[key] = {**({"key": key} if replace else stored), **fields,
                            "version": state.version}
        return self._send(204, None)

    def _create_collections(self, body: list[dict[str, Any]]) -> None:
        state = self.state
        if not self._precondition():
            return None
        result: dict[str, dict] = {"successful": {}, "success": {}, "unchanged": {}, "failed": {}}
        state.version += 1
        for i, obj in enumerate(body):
            key = state.new_key()
            state.collections[key] = {"key": key, "version": state.version,
                                      "name": obj["name"],
                                      "parentCollection": obj.get("parentCollection") or False,
                                      "relations": {}}
            result["successful"][str(i)] = state.collection_json(state.collections[key])
            result["success"][str(i)] = key
        return self._send(200, result)

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self._route("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._route("POST")

    def do_PATCH(self) -> None:  # noqa: N802
        self._route("PATCH")

    def do_PUT(self) -> None:  # noqa: N802
        self._route("PUT")


class ZoteroServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: ZoteroState):
        super().__init__(("127.0.0.1", 0), Handler)
        self.state = state


@contextlib.contextmanager
def serve(state: ZoteroState | None = None) -> Iterator[tuple[str, ZoteroState]]:
    """Run the stand-in in a thread; yields (base URL, state)."""
    server = ZoteroServer(state or ZoteroState.generated(0))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.state
    finally:
        server.shutdown()
        server.server_close()
