"""The client's IP, believing ``X-Forwarded-For`` only from trusted proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from starlette.requests import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=32)
def _networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(
        ipaddress.ip_network(item.strip(), strict=False) for item in trusted if item.strip()
    )


def _is_trusted(ip: str, networks: tuple[Network, ...]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in net for net in networks)


def client_ip(request: Request, trusted_proxies: Iterable[str]) -> str | None:
    """The first untrusted hop from the right of ``X-Forwarded-For``.

    A peer outside the trusted list is the client, whatever it claims; a
    trusted proxy's header is walked from the nearest hop outwards, skipping
    hops that are themselves trusted proxies.
    """
    peer = request.client.host if request.client else None
    networks = _networks(tuple(trusted_proxies))
    if peer is None or not _is_trusted(peer, networks):
        return peer
    header = request.headers.get("x-forwarded-for", "")
    hops = [h.strip() for h in header.split(",") if h.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer
        if not _is_trusted(hop, networks):
            return hop
    return hops[0] if hops else peer
