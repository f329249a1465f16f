"""Who is asking, behind a reverse proxy: the client address and the institution's user.

Both answers trust the proxy only when the request's direct peer is in
``screening.auth.trusted_proxies`` (addresses or CIDR networks): anyone can send
``X-Forwarded-For`` or ``X-Remote-User``, so from any other address those headers are
ignored. uvicorn's own ``proxy_headers`` is switched off (evidence.server) because it
trusted 127.0.0.1 whatever the configuration said.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: Longer values are not user names (an e-mail address is at most 254 characters).
MAX_NAME = 254


@functools.lru_cache(maxsize=32)
def networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    """The configured proxies as networks (a bare address is a network of one)."""
    return tuple(ipaddress.ip_network(value, strict=False) for value in trusted)


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [2001:db8::1]:443
        value = value[1:value.index("]")]
    elif value.count(":") == 1:  # 10.0.0.5:443
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def is_trusted(peer: str | None, trusted: Iterable[Network]) -> bool:
    address = _address(peer) if peer else None
    return address is not None and any(address in network for network in trusted)


def _peer(scope: dict[str, Any]) -> str | None:
    client = scope.get("client")
    return client[0] if client else None


def _headers(scope: dict[str, Any], name: str) -> list[str]:
    wanted = name.lower().encode("latin-1")
    return [_text(value) for key, value in scope.get("headers") or [] if key.lower() == wanted]


def _text(value: bytes) -> str:
    """A header value as text: UTF-8 (a proxy passing "øyvind" on), else Latin-1 as HTTP has it."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def client_address(scope: dict[str, Any], trusted: tuple[str, ...]) -> str | None:
    """The client's address: the peer, or behind trusted proxies the rightmost address in
    ``X-Forwarded-For`` that is not one of them (the entries left of it are the client's
    own claims, and a client can write anything there)."""
    peer = _peer(scope)
    nets = networks(trusted)
    if not nets or not is_trusted(peer, nets):
        return peer
    hops = [hop.strip() for line in _headers(scope, "x-forwarded-for") for hop in line.split(",")]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return peer  # garbage in the chain: count the proxy, not a made-up address
        if not any(address in network for network in nets):
            return str(address)
    return peer


def remote_user(scope: dict[str, Any], header: str | None,
                trusted: tuple[str, ...]) -> str | None:
    """The user name a trusted proxy put in ``header``, else None.

    Only from a direct peer in ``trusted``; a header sent twice, blank, too long or holding
    control characters or spaces is no name.
    """
    if not header or not is_trusted(_peer(scope), networks(trusted)):
        return None
    values = _headers(scope, header)
    if len(values) != 1:
        return None
    name = values[0].strip()
    if not name or len(name) > MAX_NAME or any(c.isspace() or ord(c) < 32 or ord(c) == 127
                                               for c in name):
        return None
    return name
