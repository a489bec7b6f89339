"""X-Forwarded-For is believed only from trusted proxies."""

from __future__ import annotations

from starlette.requests import Request

from cachalot_common.net import client_ip


def _request(peer: str, forwarded: str | None = None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return Request({"type": "http", "client": (peer, 1234), "headers": headers})


def test_untrusted_peer_is_the_client_whatever_it_claims() -> None:
    assert client_ip(_request("203.0.113.9", "1.2.3.4"), ["10.0.0.0/8"]) == "203.0.113.9"


def test_trusted_proxy_header_gives_the_first_untrusted_hop_from_the_right() -> None:
    request = _request("10.0.0.2", "6.6.6.6, 198.51.100.7, 10.0.0.5")
    assert client_ip(request, ["10.0.0.0/8"]) == "198.51.100.7"


def test_trusted_proxy_without_header_is_the_peer() -> None:
    assert client_ip(_request("10.0.0.2"), ["10.0.0.0/8"]) == "10.0.0.2"


def test_garbage_in_the_header_falls_back_to_the_peer() -> None:
    assert client_ip(_request("10.0.0.2", "not-an-ip"), ["10.0.0.0/8"]) == "10.0.0.2"
