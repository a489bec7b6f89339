"""Schemathesis through the embedded gateway, with the gateway's own OpenAPI document.

The document is the one the gateway serves at ``/api/v1/openapi.json``: the
services' public operations plus what the gateway answers for them itself
(400 for a path it refuses, 413 over a body cap, 503/504 for a service that
is down), so a gateway answer that is not documented there is a finding. Generated requests carry a
signed-in session (TikTok and YouTube connected, consent given) and a
sign-in binding for every platform; the operations that end the session run
last.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from cachalot_testing.fuzz import fuzz_openapi
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


def test_generated_requests_through_the_gateway_get_no_5xx_and_only_documented_answers(
    stack: EmbeddedStack, signed_in: dict[str, str]
) -> None:
    document = httpx.get(f"{stack.gateway}/api/v1/openapi.json", timeout=30).json()
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
    assert report.findings == [], report.summary()
