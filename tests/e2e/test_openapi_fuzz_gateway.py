"""Schemathesis through the embedded gateway: each public service's OpenAPI, sent to the gateway.

The documents are read from the services themselves (the gateway serves only
the public API, not ``/openapi.json``); only their ``/api/v1`` operations are
exercised, as a browser would reach them. Generated requests carry a
signed-in session (TikTok and YouTube connected, consent given) and a
sign-in binding for every platform; the operations that end the session run
last.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import unquote

import httpx
import pytest

from cachalot_testing.fuzz import Finding, fuzz_openapi
from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.e2e

PLATFORMS = {"tiktok": "tiktok", "youtube": "google"}
ENDS_SESSION = ("POST /api/v1/auth/logout", "DELETE /api/v1/me")


@pytest.fixture(scope="module")
def signed_in(stack: EmbeddedStack) -> Iterator[dict[str, str]]:
    """The cookies of a signed-in browser that has started sign-in on every platform."""
    with httpx.Client(follow_redirects=True, timeout=30) as http:
        for platform, oauth in PLATFORMS.items():
            httpx.post(
                f"{stack.sandbox}/sandbox/oauth/{oauth}/config", json={"auto_consent": 1}
            ).raise_for_status()
            landed = http.get(f"{stack.gateway}/api/v1/auth/{platform}/login")
            assert f"connected={platform}" in str(landed.url), str(landed.url)
            if platform == "tiktok":
                consent = http.post(
                    f"{stack.gateway}/api/v1/me/consent",
                    json={"adult": True, "email": f"fuzz-{uuid.uuid4().hex[:6]}@example.com"},
                )
                assert consent.status_code == 200, consent.text
        for platform in ("tiktok", "youtube", "instagram", "vk", "telegram"):
            http.get(f"{stack.gateway}/api/v1/auth/{platform}/login", follow_redirects=False)
        yield {cookie.name: cookie.value for cookie in http.cookies.jar}


# Auth last: its sign-out and erasure end the session the others use.
@pytest.mark.parametrize("service", ["contact", "queue", "auth"])
def test_generated_requests_through_the_gateway_get_no_5xx_and_only_documented_answers(
    stack: EmbeddedStack, signed_in: dict[str, str], service: str
) -> None:
    document = httpx.get(f"{stack.service_url(service)}/openapi.json", timeout=30).json()
    report = fuzz_openapi(
        document,
        stack.gateway,
        cookies=signed_in,
        max_examples=10,
        path_prefix="/api/v1/",
        run_last=ENDS_SESSION,
    )
    print(report.summary())
    assert report.operations, report.summary()
    ours = [f for f in report.findings if not _gateway_fault(f)]
    assert ours == [], report.summary()
    pending = [f for f in report.findings if _gateway_fault(f)]
    if pending:
        pytest.xfail(
            "gateway fix pending on branch sec/gateway: the gateway itself answers 500 (or a "
            "non-problem body) to non-ASCII header values or control characters in the path "
            f"({len(pending)} findings here; sent to the services directly they get a 4xx)"
        )


def _gateway_fault(finding: Finding) -> bool:
    """A fault of the gateway itself (issue 8.7), not of the service behind it.

    Non-ASCII header values, and a path whose decoded form holds a control
    character, make the embedded gateway fail while building its upstream
    request (a 500, or an answer that is not a problem document); the services
    answer both with a documented 4xx when asked directly (see each service's
    own schemathesis test). Any other finding is ours.
    """
    if finding.check == "odd_headers":
        return True
    decoded = unquote(finding.path)
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in decoded)
