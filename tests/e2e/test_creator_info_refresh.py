"""End to end through the gateway, issue 12 (s12 LOW): the composer's creator-info read
answered 502 when TikTok refused the access token once (``access_token_invalid``). TikTok
may refuse a token still within its lifetime; the rule publishers follow after a 401
(:class:`cachalot_common.leases.OneRefresh`) holds for auth's read too: refresh once and
read again; refused again, the account must be reconnected."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cachalot_testing.clients import connect_tiktok
from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.e2e


@pytest.fixture
def client(stack: EmbeddedStack) -> Iterator[tuple[httpx.Client, str]]:
    """A client with a TikTok account of its own (a sandbox user made for this test)."""
    with httpx.Client(follow_redirects=True, timeout=30) as http:
        account = connect_tiktok(http, stack.gateway, f"sandbox-extra-ci{uuid.uuid4().hex[:8]}")
        yield http, account
        http.delete(f"{stack.gateway}/api/v1/accounts/{account}")


def _refuse_tokens(stack: EmbeddedStack, times: int) -> None:
    """The sandbox TikTok answers the next ``times`` creator_info reads 401
    ``access_token_invalid``."""
    httpx.post(
        f"{stack.sandbox}/sandbox/tiktok/faults",
        json={"endpoint": "creator_info", "kind": "token_invalid", "times": times},
        timeout=5,
    ).raise_for_status()


def _account(http: httpx.Client, stack: EmbeddedStack, account: str) -> dict[str, Any]:
    accounts = http.get(f"{stack.gateway}/api/v1/accounts").json()
    return dict(next(a for a in accounts if a["id"] == account))


def test_a_token_tiktok_refuses_once_is_refreshed_and_the_creator_info_is_read(
    stack: EmbeddedStack, client: tuple[httpx.Client, str]
) -> None:
    http, account = client
    assert _account(http, stack, account)["refreshed_at"] is None
    _refuse_tokens(stack, 1)
    answer = http.get(f"{stack.gateway}/api/v1/accounts/{account}/tiktok/creator-info")
    assert answer.status_code == 200, answer.text
    assert answer.json()["can_post"] is True
    after = _account(http, stack, account)
    assert after["status"] == "ok"
    assert after["refreshed_at"] is not None  # auth refreshed the token, then read again


def test_a_token_refused_again_after_its_refresh_asks_for_a_reconnect(
    stack: EmbeddedStack, client: tuple[httpx.Client, str]
) -> None:
    http, account = client
    _refuse_tokens(stack, 2)
    answer = http.get(f"{stack.gateway}/api/v1/accounts/{account}/tiktok/creator-info")
    assert answer.status_code == 409, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "must be reconnected" in answer.json()["detail"]
    assert _account(http, stack, account)["status"] == "reauth_required"
