"""End to end through the gateway (issue 13): an operator signs in with Telegram, sees the
clients without a token and a client's failed post with its reason; roles never mix."""

from __future__ import annotations

import httpx
import pytest

from cachalot_testing.operators import DEV_OPERATOR, failed_post, operator_sign_in
from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.e2e


def test_an_operator_sees_a_clients_failed_post_and_the_client_without_a_token(
    stack: EmbeddedStack,
) -> None:
    with httpx.Client(timeout=30) as client, httpx.Client(timeout=30) as operator:
        post_id = failed_post(client, stack.gateway, stack.sandbox, caption="refused")
        landed = operator_sign_in(operator, stack.gateway, DEV_OPERATOR)
        assert landed.status_code == 302, landed.text
        assert landed.headers["location"] == "/operator.html"

        failed = operator.get(f"{stack.gateway}/api/v1/operator/posts", params={"status": "failed"})
        assert failed.status_code == 200, failed.text
        [item] = [i for i in failed.json()["items"] if i["post_id"] == post_id]
        assert item["reason"]
        assert item["platform"] == "tiktok"
        assert item["trace_id"]

        me = client.get(f"{stack.gateway}/api/v1/me").json()
        clients = operator.get(f"{stack.gateway}/api/v1/operator/clients")
        assert clients.status_code == 200, clients.text
        [row] = [c for c in clients.json()["items"] if c["client_id"] == me["client_id"]]
        assert [a["platform"] for a in row["accounts"]] == ["tiktok"]
        issued = httpx.get(f"{stack.sandbox}/sandbox/issued-secrets", timeout=5).json()
        tokens = [t for t in issued["access_tokens"] + issued["refresh_tokens"] if t]
        assert tokens
        assert not [t[:6] for t in tokens if t in clients.text]

        summary = operator.get(f"{stack.gateway}/api/v1/operator/posts/summary").json()
        [mine] = [s for s in summary["items"] if s["client_id"] == me["client_id"]]
        assert mine["targets"] == {"failed": 1}

        # neither session passes as the other
        assert client.get(f"{stack.gateway}/api/v1/operator/clients").status_code == 403
        assert client.get(f"{stack.gateway}/api/v1/operator/posts?status=failed").status_code == 403
        assert operator.get(f"{stack.gateway}/api/v1/posts").status_code == 403
        assert operator.get(f"{stack.gateway}/api/v1/me").status_code == 403


def test_a_telegram_user_who_is_not_an_operator_is_refused_at_the_gateway(
    stack: EmbeddedStack,
) -> None:
    with httpx.Client(timeout=30) as stranger:
        refused = operator_sign_in(stranger, stack.gateway, "700000001")
        assert refused.status_code == 302
        assert refused.headers["location"].startswith("/operator.html?auth_error=not_an_operator&")
        assert "cachalot_session" not in stranger.cookies
