"""End to end: a session the client ended is refused by the queue too, within seconds.

Issue 8 item 1: after ``POST /api/v1/auth/logout`` or ``DELETE /api/v1/me``
the same cookie kept listing and uploading at the queue for 14 days. The
whole embedded stack runs (gateway, auth, queue, broker); the cookie is
replayed as a thief who kept it would.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import httpx
import pytest

from cachalot_common.sessions import COOKIE_NAME
from cachalot_testing.media import video_file
from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.e2e

VIDEO = video_file()
USER = "-000sandboxBobOpenId"  # not the pipeline tests' client: this one gets erased


@contextlib.contextmanager
def _signed_in(stack: EmbeddedStack) -> Iterator[httpx.Client]:
    """A browser signed in with TikTok as the sandbox's second user."""
    with httpx.Client(timeout=30) as http:
        yield _sign_in(http, stack)


def _sign_in(http: httpx.Client, stack: EmbeddedStack) -> httpx.Client:
    start = http.get(f"{stack.gateway}/api/v1/auth/tiktok/login", params={"next": "/"})
    assert start.status_code == 302, start.text
    consent_url = httpx.URL(start.headers["location"]).copy_merge_params(
        {"sandbox_auto": "allow", "sandbox_user": USER}
    )
    consent = http.get(consent_url)
    assert consent.status_code in (302, 303), consent.text
    callback = http.get(consent.headers["location"])
    assert callback.status_code == 302, callback.text
    assert "connected=tiktok" in callback.headers["location"]
    assert http.cookies.get(COOKIE_NAME)
    return http


def _as_thief(stack: EmbeddedStack, cookie: str) -> httpx.Client:
    return httpx.Client(
        base_url=stack.gateway, headers={"Cookie": f"{COOKIE_NAME}={cookie}"}, timeout=30
    )


def _upload(http: httpx.Client) -> httpx.Response:
    return http.post(
        "/api/v1/media", content=VIDEO.read_bytes(), headers={"content-type": "video/mp4"}
    )


def _refused_within(thief: httpx.Client, seconds: float) -> float:
    """Poll the queue's list until 401; how long it took."""
    started = time.monotonic()
    while True:
        response = thief.get("/api/v1/posts")
        if response.status_code == 401:
            assert response.headers["content-type"] == "application/problem+json"
            return time.monotonic() - started
        assert response.status_code == 200, response.text
        if time.monotonic() - started > seconds:
            raise AssertionError(f"the queue still accepts the ended session after {seconds}s")
        time.sleep(0.2)


def test_after_logout_the_same_cookie_is_refused_by_the_queue_within_seconds(
    stack: EmbeddedStack,
) -> None:
    with _signed_in(stack) as browser:
        cookie = browser.cookies[COOKIE_NAME]
        with _as_thief(stack, cookie) as thief:
            assert thief.get("/api/v1/posts").status_code == 200  # the queue knew it
            logout = browser.post(f"{stack.gateway}/api/v1/auth/logout")
            assert logout.status_code == 204
            _refused_within(thief, 10)
            assert _upload(thief).status_code == 401
            assert thief.get("/api/v1/me").status_code == 401


def test_after_erasure_the_same_cookie_is_refused_by_the_queue_and_its_videos_are_gone(
    stack: EmbeddedStack,
) -> None:
    with _signed_in(stack) as browser:
        cookie = browser.cookies[COOKIE_NAME]
        with _as_thief(stack, cookie) as thief:
            uploaded = _upload(thief)
            assert uploaded.status_code == 201, uploaded.text
            media_id = uploaded.json()["id"]
            stored = list((stack.var_dir / "media").glob(f"{media_id}.*"))
            assert stored
            erase = browser.delete(f"{stack.gateway}/api/v1/me")
            assert erase.status_code == 204
            _refused_within(thief, 10)
            assert _upload(thief).status_code == 401
            deadline = time.monotonic() + 10
            while stored[0].exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert not stored[0].exists(), "the erased client's video is still kept"
