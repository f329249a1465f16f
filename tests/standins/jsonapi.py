"""What the Crossref and OpenAlex stand-ins share: a threaded server, latency, faults, a log.

``state.latency`` seconds pass before each answer (requests in flight wait in parallel, as at
the real services); ``state.faults`` are (status, headers) answers given, first come first
served, to the requests after the first ``state.faults_after`` (429 + ``Retry-After``, 500);
``state.requests`` logs (path, params) of every request; ``state.in_flight_max`` records the
most requests answered at once.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

Answer = tuple[int, dict[str, str], Any]


class ApiState:
    def __init__(self) -> None:
        self.latency = 0.0
        self.faults: list[tuple[int, dict[str, str]]] = []
        self.faults_after = 0
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.in_flight_max = 0
        self.headers: dict[str, str] = {}

    def route(self, path: str, params: dict[str, str]) -> Answer:
        raise NotImplementedError

    def matching(self, key: str, works: list[Any], match: Callable[[Any], bool]) -> list[Any]:
        """The works ``match`` keeps, computed once per ``key`` (the request's filter) while
        ``works`` is the same list (replace or extend it to change what is found, not a work
        in it). A real service answers a page from its index; the stand-in's own scan of every
        work, in one process and under one GIL however many requests are in flight, would
        otherwise slow concurrent clients only, beyond the latency it stands for."""
        cache = self.__dict__.setdefault("_matching", {})
        stamp = (key, id(works), len(works))
        if stamp not in cache:
            if len(cache) > 256:
                cache.clear()
            cache[stamp] = [w for w in works if match(w)]
        return cache[stamp]


def _handler(state: ApiState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            url = urlparse(self.path)
            params = {k: v[-1] for k, v in parse_qs(url.query).items()}
            with state.lock:
                state.requests.append((url.path, params))
                fault = state.faults.pop(0) if state.faults and \
                    len(state.requests) > state.faults_after else None
                state.in_flight += 1
                state.in_flight_max = max(state.in_flight_max, state.in_flight)
            try:
                if state.latency:
                    time.sleep(state.latency)
                if fault:
                    status, headers, body = fault[0], fault[1], {"status": "error",
                                                                 "message": "stand-in fault"}
                else:
                    status, headers, body = state.route(url.path, params)
            finally:
                with state.lock:
                    state.in_flight -= 1
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            for key, value in {**state.headers, **headers}.items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextlib.contextmanager
def serve(state: ApiState) -> Iterator[tuple[str, ApiState]]:
    """Serve ``state`` on 127.0.0.1 (a free port); yields (base url, state)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()


_ITEMS = "__stand_in_items__"


def with_items(envelope: dict[str, Any], items: list[bytes]) -> bytes:
    """``envelope`` as JSON with ``items`` (each already encoded) where it holds the marker
    :data:`ITEMS`: the stand-in encodes each work once, so its own CPU (on the machine
    under test, unlike the real service's) stays out of the benchmarks."""
    return json.dumps(envelope).encode().replace(
        json.dumps(_ITEMS).encode(), b"[" + b",".join(items) + b"]", 1)


ITEMS = _ITEMS


class Encoded:
    """Each work's JSON, encoded once per field selection."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, str], bytes] = {}

    def __call__(self, work: dict[str, Any], select: str = "") -> bytes:
        key = (id(work), select)
        if key not in self._cache:
            keep = select.split(",") if select else None
            self._cache[key] = json.dumps(
                {k: work[k] for k in keep if k in work} if keep else work).encode()
        return self._cache[key]


def paged(items: list[Any], cursors: dict[str, int], cursor: str, size: int,
          new_token: Callable[[], str]) -> tuple[list[Any], str]:
    """One page of ``items`` from ``cursor`` (``*`` = the start) and the next cursor."""
    start = 0 if cursor == "*" else cursors[cursor]
    token = new_token()
    cursors[token] = start + size
    return items[start:start + size], token
