"""After everything else ran: no secret reached any log line of the whole system.

Named to run last, so it reads what every other end-to-end and browser test
made the system log: every service's output, the gateway's, the access logs.
The secrets it looks for are the real ones of this run: every token the fake
platforms issued (access and refresh), and the deployment's own keys (bot
token, session secret, token key, service secrets).
"""

from __future__ import annotations

import json

import httpx
import pytest

from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.e2e


def test_no_token_or_key_appears_in_any_log_of_the_run(stack: EmbeddedStack) -> None:
    issued = httpx.get(f"{stack.sandbox}/sandbox/issued-secrets", timeout=5).json()
    tokens = issued["access_tokens"] + issued["refresh_tokens"]
    own = json.loads((stack.var_dir / "dev-secrets.json").read_text())
    secrets = [s for s in tokens + list(own.values()) if len(s) >= 12]
    assert issued["access_tokens"], "the run issued no token: the other tests did not run?"

    logs = {"stack output": stack.output()}
    for path in (stack.var_dir / "access-logs").glob("*"):
        logs[path.name] = path.read_text(errors="replace")
    leaks = [
        (where, secret[:6] + "…")
        for where, text in logs.items()
        for secret in secrets
        if secret in text
    ]
    assert leaks == []
    assert len(logs["stack output"]) > 1000, "no service output captured"
