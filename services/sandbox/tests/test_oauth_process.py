"""The fake OAuth servers inside the real sandbox process, over a real socket."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from cachalot_testing.processes import ServiceProcess

CLIENT_KEY = "process-test-client-key"
SECRET = "process-test-client-secret"
REDIRECT = "http://127.0.0.1:9/callback/"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    process = ServiceProcess(
        "cachalot_sandbox",
        env={
            "CACHALOT_TIKTOK_CLIENT_KEY": CLIENT_KEY,
            "CACHALOT_TIKTOK_CLIENT_SECRET": SECRET,
            "CACHALOT_TIKTOK_PKCE_ENCODING": "hex",
            "CACHALOT_ACCESS_TOKEN_LIFETIME_S": "7200",
            "CACHALOT_TIKTOK_REDIRECT_URIS": json.dumps([REDIRECT]),
        },
        log_path=tmp_path_factory.mktemp("sbx-oauth") / "sandbox.log",
    ).start()
    yield process.base_url
    process.stop()


def test_a_redirect_following_client_signs_in_when_auto_consent_is_on(sandbox: str) -> None:
    verifier = secrets.token_urlsafe(48)
    with httpx.Client(base_url=sandbox) as api:
        api.post("/sandbox/reset").raise_for_status()
        api.post("/sandbox/oauth/tiktok/config", json={"auto_consent": 1}).raise_for_status()

        consent = api.get(
            "/tiktok/v2/auth/authorize/",
            params={
                "client_key": CLIENT_KEY,
                "scope": "user.info.basic,video.publish",
                "response_type": "code",
                "redirect_uri": REDIRECT,
                "state": "xyz",
                "code_challenge": hashlib.sha256(verifier.encode()).hexdigest(),
                "code_challenge_method": "S256",
            },
        )
        code = parse_qs(urlsplit(consent.headers["location"]).query)["code"][0]
        tokens = api.post(
            "/tiktok/v2/oauth/token/",
            data={
                "client_key": CLIENT_KEY,
                "client_secret": SECRET,
                "code": code,
                "grant_type": "authorization_code",
                "redirect_uri": REDIRECT,
                "code_verifier": verifier,
            },
        ).json()
        publish = api.post(
            "/tiktok/v2/post/publish/creator_info/query/",
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
        )
        api.post("/sandbox/reset").raise_for_status()
        after_reset = api.get("/sandbox/oauth/tiktok/config").json()

    assert consent.status_code == 302
    assert tokens["expires_in"] == 7200
    assert publish.status_code == 200, publish.text
    assert after_reset["auto_consent"] == 0
