"""Running a Datasette app with uvicorn for ``evidence screen`` and ``evidence serve``."""

from __future__ import annotations

import errno
import socket

from evidence.errors import EvidenceError


class PortInUseError(EvidenceError):
    """The chosen address and port are taken (often: the other server is already running)."""


def check_port(host: str, port: int) -> None:
    """Fail with one line, before uvicorn starts, when ``host:port`` cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise PortInUseError(
                    f"port {port} on {host} is already in use (is another `evidence screen` or "
                    "`evidence serve` running?); choose another with --port") from e
            raise EvidenceError(f"cannot listen on {host}:{port}: {e.strerror}") from e


def run(app, host: str, port: int) -> None:
    """Serve ``app`` until interrupted.

    ``proxy_headers=False``: uvicorn would otherwise take the client address from
    ``X-Forwarded-For`` of any request from 127.0.0.1, whoever sent it; the screening app
    believes that header only from the configured ``screening.auth.trusted_proxies``.
    """
    import uvicorn

    check_port(host, port)
    uvicorn.run(app, host=host, port=port, log_level="warning", lifespan="on",
                proxy_headers=False)
