"""Every fake consent page refuses a redirect_uri the app did not register, as the platforms do.

Issue 8, item 10: the sandbox took any redirect_uri, so a regression in auth's own
check could not show. TikTok, Google, Instagram and VK ID all compare the whole
string with the URIs registered in the developer console and show an error page
(never a redirect) when it is not one of them (platforms.md).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from cachalot_sandbox.main import create_app
from cachalot_sandbox.settings import SandboxSettings

APP = "http://127.0.0.1:8000"
SETTINGS = SandboxSettings(public_url=APP)


@dataclass(frozen=True)
class Platform:
    oauth: str  # the sandbox's name for it, under /sandbox/oauth/<oauth>
    app: str  # auth's name for it, in the callback path
    authorize: str
    params: dict[str, str]
    error: str
    words: str

    @property
    def registered(self) -> str:
        return f"{APP}/api/v1/auth/{self.app}/callback"


PLATFORMS = [
    Platform(
        "tiktok",
        "tiktok",
        "/tiktok/v2/auth/authorize/",
        {
            "client_key": SETTINGS.tiktok_client_key,
            "scope": "user.info.basic,video.publish",
            "response_type": "code",
            "code_challenge": "a" * 64,
            "code_challenge_method": "S256",
        },
        "redirect_uri",
        "log in with TikTok. This may be due to specific app settings",
    ),
    Platform(
        "google",
        "youtube",
        "/google/o/oauth2/v2/auth",
        {
            "client_id": SETTINGS.google_client_id,
            "scope": "https://www.googleapis.com/auth/youtube.upload",
            "response_type": "code",
            "access_type": "offline",
        },
        "redirect_uri_mismatch",
        "Error 400: redirect_uri_mismatch",
    ),
    Platform(
        "instagram",
        "instagram",
        "/instagram/oauth/authorize",
        {
            "client_id": SETTINGS.instagram_client_id,
            "scope": "instagram_business_basic,instagram_business_content_publish",
            "response_type": "code",
        },
        "invalid_request",
        "Invalid redirect_uri",
    ),
    Platform(
        "vk",
        "vk",
        "/vk/authorize",
        {
            "client_id": SETTINGS.vk_client_id,
            "scope": "vkid.personal_info email wall video",
            "response_type": "code",
            "code_challenge": "a" * 43,
            "code_challenge_method": "s256",
        },
        "invalid_request",
        "redirect_uri is incorrect",
    ),
]
IDS = [p.oauth for p in PLATFORMS]


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(SETTINGS)


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        (await client.post("/sandbox/reset")).raise_for_status()
        yield client


async def ask(
    api: httpx.AsyncClient, platform: Platform, redirect_uri: str, **extra: str
) -> httpx.Response:
    params = {
        **platform.params,
        "redirect_uri": redirect_uri,
        "state": "s" * 32,
        "sandbox_auto": "allow",
        **extra,
    }
    return await api.get(platform.authorize, params=params)


def refused(response: httpx.Response, platform: Platform) -> bool:
    return (
        response.status_code == 400
        and "location" not in response.headers
        and f'<code id="error">{platform.error}</code>' in response.text
        and platform.words in response.text
    )


@pytest.mark.parametrize("platform", PLATFORMS, ids=IDS)
async def test_the_registered_callback_of_auth_is_accepted(
    api: httpx.AsyncClient, platform: Platform
) -> None:
    response = await ask(api, platform, platform.registered)
    assert response.status_code == 302, response.text
    assert response.headers["location"].startswith(platform.registered)


@pytest.mark.parametrize("platform", PLATFORMS, ids=IDS)
@pytest.mark.parametrize(
    "variant",
    [
        "https://evil.example/api/v1/auth/{app}/callback",
        "{registered}?via=elsewhere",
        "{registered}/",
        "http://127.0.0.1:8001/api/v1/auth/{app}/callback",
        "{registered_other}",
    ],
    ids=["other-host", "extra-query", "trailing-slash", "other-port", "other-platform"],
)
async def test_an_unregistered_redirect_uri_gets_the_platforms_error_page_and_no_redirect(
    api: httpx.AsyncClient, platform: Platform, variant: str
) -> None:
    other = "vk" if platform.app != "vk" else "tiktok"
    redirect_uri = variant.format(
        app=platform.app,
        registered=platform.registered,
        registered_other=f"{APP}/api/v1/auth/{other}/callback",
    )
    assert refused(await ask(api, platform, redirect_uri), platform)


@pytest.mark.parametrize("platform", PLATFORMS, ids=IDS)
async def test_a_bad_request_to_an_unregistered_uri_is_not_sent_there(
    api: httpx.AsyncClient, platform: Platform
) -> None:
    """An error for another parameter goes to the redirect URI only once it is registered."""
    response = await ask(api, platform, "https://evil.example/cb", response_type="token")
    assert refused(response, platform)


@pytest.mark.parametrize("platform", PLATFORMS, ids=IDS)
async def test_a_uri_registered_at_run_time_is_accepted_until_reset(
    api: httpx.AsyncClient, platform: Platform
) -> None:
    extra = "https://app.example/cb"
    listed = await api.post(f"/sandbox/oauth/{platform.oauth}/redirect-uris", json=[extra])
    assert listed.json() == sorted([platform.registered, extra])
    assert (await ask(api, platform, extra)).status_code == 302
    (await api.post("/sandbox/reset")).raise_for_status()
    assert refused(await ask(api, platform, extra), platform)
    assert (await api.get(f"/sandbox/oauth/{platform.oauth}/redirect-uris")).json() == [
        platform.registered
    ]


def test_explicit_redirect_uris_replace_the_callback_built_on_the_public_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CACHALOT_PUBLIC_URL", "https://cachalot.example")
    monkeypatch.setenv("CACHALOT_VK_REDIRECT_URIS", json.dumps(["https://a.example/cb"]))
    settings = SandboxSettings()
    assert settings.redirect_uris("youtube") == [
        "https://cachalot.example/api/v1/auth/youtube/callback"
    ]
    assert settings.redirect_uris("vk") == ["https://a.example/cb"]
