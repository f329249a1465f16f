"""A hostile HTTP server on 127.0.0.1: answers that a real service never gives, for the
harvesters' hardening tests. ``mode`` picks the answer:

- ``drip``: a 200 whose body arrives one byte every ``drip_seconds`` (never a read timeout);
- ``big``: a 200 with ``size`` bytes of XML;
- ``redirect-file``: a 302 to ``file:///etc/passwd``;
- ``count``: an ESearch answer whose ``Count`` is not a number;
- ``self-link``: a Zotero page whose ``Link: rel="next"`` points at itself;
- ``not-json``: an HTML page where Zotero's JSON should be;
- ``nested``: JSON nested 100,000 deep;
- ``bad-version``: a Zotero page with ``Last-Modified-Version: abc``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ESEARCH_BAD_COUNT = (
    b'<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE eSearchResult PUBLIC "-//NLM//DTD '
    b'esearch 20060628//EN" "https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20060628/esearch.dtd">'
    b"\n<eSearchResult><Count>many</Count><RetMax>0</RetMax><RetStart>0</RetStart>"
    b"<QueryKey>1</QueryKey><WebEnv>X</WebEnv><IdList></IdList></eSearchResult>\n")


class Hostile(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, mode: str, **options: float):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mode, self.options, self.requests = mode, options, 0
        self.stop = threading.Event()


class _Handler(BaseHTTPRequestHandler):
    server: Hostile

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.server.requests += 1
        mode = self.server.mode
        if mode == "redirect-file":
            return self._send(302, b"", {"Location": "file:///etc/passwd"})
        if mode == "count":
            return self._send(200, ESEARCH_BAD_COUNT, {"Content-Type": "text/xml"})
        if mode == "big":
            size = int(self.server.options.get("size", 10_000_000))
            return self._send(200, b"<x>" + b"a" * size + b"</x>", {"Content-Type": "text/xml"})
        if mode == "drip":
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            for _ in range(100_000):
                if self.server.stop.is_set():
                    return None
                with contextlib.suppress(OSError):
                    self.wfile.write(b"a")
                    self.wfile.flush()
                time.sleep(self.server.options.get("drip_seconds", 0.2))
            return None
        headers = {"Content-Type": "application/json", "Last-Modified-Version": "5",
                   "Total-Results": "1"}
        body = b'[{"key": "AAAA1111", "version": 1, "data": {"key": "AAAA1111", "version": 1,' \
               b' "itemType": "book", "title": "T"}}]'
        if mode == "self-link":
            here = f"http://127.0.0.1:{self.server.server_address[1]}{self.path}"
            headers["Link"] = f'<{here}>; rel="next"'
        elif mode == "not-json":
            headers["Content-Type"] = "text/html"
            body = b"<html><body>Service unavailable</body></html>"
        elif mode == "nested":
            body = b"[" * 100_000 + b"]" * 100_000
        elif mode == "bad-version":
            headers["Last-Modified-Version"] = "abc"
        return self._send(200, body, headers)

    do_POST = do_GET  # noqa: N815

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(body)


@contextlib.contextmanager
def hostile(mode: str, **options: float) -> Iterator[tuple[str, Hostile]]:
    server = Hostile(mode, **options)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server
    finally:
        server.stop.set()
        server.shutdown()
        server.server_close()
