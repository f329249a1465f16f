"""Datasette's own CSV downloads of the published site, with formula cells neutralised.

Datasette writes ``.csv`` itself (not through an output renderer a plugin could replace), so
this ASGI wrapper rewrites the body on its way out: complete CSV records are re-read with the
csv module, every cell goes through :func:`evidence.publish.cells.csv_cell`, and the rows are
written back in the same dialect. It works chunk by chunk, so ``_stream=on`` downloads of the
whole table stay streamed; only a partial last record is held back between chunks.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from evidence.publish.cells import csv_cell


class CsvNeutraliser:
    """Feed it body chunks; it returns the neutralised complete records seen so far."""

    def __init__(self) -> None:
        self.pending = b""

    def _split(self, data: bytes) -> tuple[bytes, bytes]:
        """(complete records, the rest): cut after the last newline outside quotes."""
        quoted, cut, position = False, 0, 0
        for line in data.split(b"\n")[:-1]:
            position += len(line) + 1
            quoted ^= line.count(b'"') % 2 == 1
            if not quoted:
                cut = position
        return data[:cut], data[cut:]

    def feed(self, chunk: bytes, final: bool = False) -> bytes:
        complete, self.pending = self._split(self.pending + chunk)
        if final:
            complete, self.pending = complete + self.pending, b""
        if not complete:
            return b""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        for row in csv.reader(io.StringIO(complete.decode("utf-8", "replace"), newline="")):
            writer.writerow([csv_cell(cell) for cell in row])
        return out.getvalue().encode("utf-8")


def is_csv(scope: dict[str, Any]) -> bool:
    return scope.get("path", "").endswith(".csv") or b"_format=csv" in scope.get(
        "query_string", b"")


def csv_guard(app: Callable) -> Callable:
    """ASGI wrapper neutralising formula cells in every CSV response."""

    async def guarded(scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or not is_csv(scope):
            return await app(scope, receive, send)
        neutraliser, active = CsvNeutraliser(), False

        async def send_neutralised(message: dict) -> None:
            nonlocal active
            if message["type"] == "http.response.start":
                headers = message.get("headers") or []
                kind = dict((k.lower(), v) for k, v in headers).get(b"content-type", b"")
                active = kind.startswith((b"text/csv", b"text/plain"))  # not an error page
                if active:
                    message = {**message, "headers": [
                        (k, v) for k, v in headers if k.lower() != b"content-length"]}
            elif message["type"] == "http.response.body" and active:
                more = message.get("more_body", False)
                message = {**message, "body": neutraliser.feed(message.get("body", b""),
                                                               final=not more)}
            await send(message)

        await app(scope, receive, send_neutralised)

    return guarded
