"""The operator's side of whole-system tests: a Telegram sign-in, a post that fails.

:func:`operator_sign_in` goes through the gateway's operator login and the
sandbox's Telegram Login page (answering at once as a sandbox Telegram user);
:func:`failed_post` makes a client (a fresh sandbox TikTok user) whose post
TikTok refuses for good (the sandbox's ``spam_risk`` fault), and waits until
the queue says it failed.
"""

from __future__ import annotations

import time
import uuid

import httpx

from cachalot_testing.clients import connect_tiktok, create_post, upload_media
from cachalot_testing.media import video_bytes

DEV_OPERATOR = "700000003"
"""The sandbox Telegram user embedded mode lists in CACHALOT_OPERATOR_TELEGRAM_IDS."""


def operator_sign_in(http: httpx.Client, gateway: str, telegram_user: str) -> httpx.Response:
    """Our operator login, the sandbox widget answering as ``telegram_user``, our callback.

    Returns the callback's answer (302 to the operator page, signed in or with ``auth_error``).
    """
    start = http.get(f"{gateway}/api/v1/auth/operator/login", follow_redirects=False)
    assert start.status_code == 302, start.text
    widget = http.get(
        httpx.URL(start.headers["location"]).copy_merge_params(
            {"sandbox_auto": "1", "user": telegram_user}
        ),
        follow_redirects=False,
    )
    assert widget.status_code in (302, 303), widget.text
    return http.get(widget.headers["location"], follow_redirects=False)


def failed_post(http: httpx.Client, gateway: str, sandbox: str, *, caption: str) -> str:
    """A new client on ``http`` whose TikTok post failed for good; the post id."""
    account = connect_tiktok(http, gateway, f"sandbox-extra-ops-{uuid.uuid4().hex[:8]}")
    media = upload_media(http, gateway, video_bytes())
    httpx.post(
        f"{sandbox}/sandbox/tiktok/faults",
        json={"endpoint": "creator_info", "kind": "spam_risk"},
        timeout=5,
    ).raise_for_status()
    post_id = create_post(
        http,
        gateway,
        {
            "media_id": media["id"],
            "targets": [
                {
                    "account_id": account,
                    "tiktok": {"privacy_level": "SELF_ONLY", "caption": caption},
                }
            ],
        },
    )
    deadline = time.monotonic() + 60
    while True:
        status = http.get(f"{gateway}/api/v1/posts/{post_id}").json()["targets"][0]["status"]
        if status == "failed":
            return post_id
        assert status not in ("published", "cancelled"), status
        assert time.monotonic() < deadline, f"the post is still {status}"
        time.sleep(0.3)
