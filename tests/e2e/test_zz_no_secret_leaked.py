"""After everything else ran: no secret reached any log line of the whole system.

Named to run last, so it reads what every other end-to-end and browser test
made the system log, in each layout: every service's output (each replica's
in the distributed layout), the gateway's (nginx's access and error logs
there), the access logs. The secrets it looks for are the real ones of this
run: every token the fake platforms issued (access and refresh), and the
deployment's own keys (bot token, session secret, token key, service
secrets; the distributed layout's database passwords too).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e


@pytest.mark.layouts("embedded", "distributed")
def test_no_token_or_key_appears_in_any_log_of_the_run(stack: Any) -> None:
    issued = httpx.get(f"{stack.sandbox}/sandbox/issued-secrets", timeout=5).json()
    tokens = issued["access_tokens"] + issued["refresh_tokens"]
    secrets = [s for s in tokens + stack.own_secrets() if len(s) >= 12]
    assert issued["access_tokens"], "the run issued no token: the other tests did not run?"

    logs: dict[str, str] = stack.logs()
    leaks = [
        (where, secret[:6] + "…")
        for where, text in logs.items()
        for secret in secrets
        if secret in text
    ]
    assert leaks == []
    assert sum(len(text) for text in logs.values()) > 1000, "no service output captured"
