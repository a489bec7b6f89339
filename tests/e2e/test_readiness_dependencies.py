"""Every service's ``/readyz`` names the dependencies it waits out, and all answer.

Issue 13 item 6: readiness keeps "can take traffic" (``checks``: 503) apart
from "a dependency is down" (``dependencies``: 200 ``degraded``, and the
``CachalotDependencyDown`` alert). Each service declares its own with
``cachalot_common.health.declared_dependencies``: auth and the queue their
outbox relay, contact its relay and broker, each publisher auth (its token
leases), the notifier auth where it mails clients (their addresses).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e

PUBLISHERS = ("tiktok", "youtube", "instagram", "vk", "telegram")


def declared(layout: str) -> dict[str, set[str]]:
    """What each service must list; the notifier mails clients in embedded mode only
    (compose leaves ``CACHALOT_SMTP_HOST`` empty)."""
    return {
        "auth": {"relay"},
        "queue": {"relay"},
        "contact": {"relay", "broker"},
        "notifier": {"auth"} if layout == "embedded" else set(),
        **{f"publisher-{p}": {"auth"} for p in PUBLISHERS},
    }


@pytest.mark.layouts("embedded", "distributed")
def test_every_service_declares_what_it_waits_out_and_each_answers(
    stack: Any, request: pytest.FixtureRequest
) -> None:
    layout = "embedded" if request.node.callspec.params["stack"] == "embedded" else "distributed"
    answers: dict[str, dict[str, Any]] = {}
    for name, wanted in declared(layout).items():
        ready = httpx.get(f"{stack.service_url(name)}/readyz", timeout=10)
        assert ready.status_code == 200, (name, ready.text)
        answers[name] = ready.json()
        assert set(answers[name].get("dependencies", {})) == wanted, (name, answers[name])
    failing = {
        name: body
        for name, body in answers.items()
        if body["status"] != "ready" or "failing" in body.get("dependencies", {}).values()
    }
    assert failing == {}
