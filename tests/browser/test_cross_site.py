"""Browser: a page of a sibling origin cannot act for a signed-in client (issue 8, item 6).

The hostile page is served from another port of the same host: the same
*site* as the gateway, so Chromium sends the client's ``SameSite=Lax``
session cookie with its requests (in production: any sibling subdomain). It
tries what needs no CORS preflight: a ``text/plain`` form posted to the
cancel action, and ``fetch`` with credentials, then a JSON ``fetch`` that
would queue a post. The post is still scheduled afterwards, and the
dashboard itself (same origin) cancels it.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from cachalot_common.sessions import COOKIE_NAME
from cachalot_testing.media import video_file
from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.browser

BOB = "-000sandboxBobOpenId"
VIDEO = video_file()


class HostilePages:
    """A tiny web server on another port of the host, serving pages set by the test."""

    def __init__(self) -> None:
        pages: dict[str, str] = {}
        self.pages = pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path, "not here").encode()
                self.send_response(200 if self.path in pages else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> HostilePages:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def client(stack: EmbeddedStack) -> Iterator[httpx.Client]:
    """A signed-in client with TikTok connected and consent given.

    Signed in as the sandbox's second TikTok person (Bob), so the other
    browser tests still meet Alice as a newcomer.
    """
    with httpx.Client(timeout=30) as http:
        start = http.get(f"{stack.gateway}/api/v1/auth/tiktok/login", params={"next": "/"})
        assert start.status_code == 302, start.text
        consent_page = httpx.URL(start.headers["location"]).copy_merge_params(
            {"sandbox_auto": "allow", "sandbox_user": BOB}
        )
        back = http.get(consent_page)
        assert back.status_code in (302, 303), back.text
        landed = http.get(back.headers["location"])
        assert landed.status_code == 302, landed.text
        consent = http.post(
            f"{stack.gateway}/api/v1/me/consent",
            json={"adult": True, "email": f"bob-{uuid.uuid4().hex[:6]}@example.com"},
        )
        assert consent.status_code == 200, consent.text
        yield http


def _scheduled_post(client: httpx.Client, stack: EmbeddedStack) -> dict[str, Any]:
    accounts = client.get(f"{stack.gateway}/api/v1/accounts").json()
    tiktok = next(a["id"] for a in accounts if a["platform"] == "tiktok")
    media = client.post(
        f"{stack.gateway}/api/v1/media",
        content=VIDEO.read_bytes(),
        headers={"Content-Type": "video/mp4"},
    )
    assert media.status_code == 201, media.text
    body = {
        "media_id": media.json()["id"],
        "scheduled_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
        "targets": [
            {"account_id": tiktok, "tiktok": {"privacy_level": "SELF_ONLY", "caption": "not yet"}}
        ],
    }
    deadline = time.monotonic() + 30
    while True:  # the queue learns the account from accounts.v1
        created = client.post(f"{stack.gateway}/api/v1/posts", json=body)
        if created.status_code == 201 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert created.status_code == 201, created.text
    return dict(created.json())


def _statuses(client: httpx.Client, stack: EmbeddedStack, post_id: str) -> list[str]:
    post = client.get(f"{stack.gateway}/api/v1/posts/{post_id}").json()
    return [t["status"] for t in post["targets"]]


def _signed_in_context(browser: Any, client: httpx.Client, stack: EmbeddedStack) -> Any:
    context = browser.new_context()
    host = urlsplit(stack.gateway).hostname
    token = next(c.value for c in client.cookies.jar if c.name == COOKIE_NAME)
    context.add_cookies(
        [
            {
                "name": COOKIE_NAME,
                "value": token,
                "domain": host,
                "path": "/",
                "httpOnly": True,
                "sameSite": "Lax",
            }
        ]
    )
    return context


def test_a_sibling_origins_page_cannot_cancel_or_queue_but_the_dashboard_can_cancel(
    stack: EmbeddedStack, browser: Any, client: httpx.Client
) -> None:
    post = _scheduled_post(client, stack)
    cancel = f"{stack.gateway}/api/v1/posts/{post['id']}/cancel"
    before = len(client.get(f"{stack.gateway}/api/v1/posts").json()["items"])
    context = _signed_in_context(browser, client, stack)
    try:
        with HostilePages() as hostile:
            assert urlsplit(hostile.origin).port != urlsplit(stack.gateway).port
            hostile.pages["/form"] = f"""<!doctype html>
<form method="POST" action="{cancel}" enctype="text/plain">
  <input name="a" value="b"></form>
<script>document.forms[0].submit()</script>"""
            hostile.pages["/fetch"] = f"""<!doctype html><script>
window.done = (async () => {{
  const tries = [
    fetch("{cancel}", {{method: "POST", credentials: "include", mode: "no-cors"}}),
    fetch("{cancel}", {{method: "POST", credentials: "include", mode: "no-cors",
                       headers: {{"Content-Type": "text/plain"}}, body: "{{}}"}}),
    fetch("{stack.gateway}/api/v1/posts", {{method: "POST", credentials: "include",
      mode: "no-cors", headers: {{"Content-Type": "text/plain"}},
      body: JSON.stringify({{media_id: "{post["media_id"]}", targets: [
        {{account_id: "{post["targets"][0]["account_id"]}",
          tiktok: {{caption: "x", privacy_level: "SELF_ONLY"}}}}]}})}}),
  ];
  for (const attempt of tries) {{ try {{ await attempt; }} catch (e) {{}} }}
  return "sent";
}})();
</script>"""
            page = context.new_page()
            page.goto(f"{hostile.origin}/form")
            page.wait_for_url(cancel, timeout=15_000)
            page.wait_for_load_state()
            assert _statuses(client, stack, post["id"]) == ["scheduled"], "the form cancelled it"
            assert "cross-origin-request" in page.content()
            page.goto(f"{hostile.origin}/fetch")
            assert page.evaluate("window.done") == "sent"

        assert _statuses(client, stack, post["id"]) == ["scheduled"]
        assert len(client.get(f"{stack.gateway}/api/v1/posts").json()["items"]) == before

        page.goto(f"{stack.gateway}/")
        button = page.locator("#posts-body button:has-text('Cancel')").first
        button.wait_for(timeout=15_000)
        button.click()
        deadline = time.monotonic() + 15
        while _statuses(client, stack, post["id"]) != ["cancelled"]:
            assert time.monotonic() < deadline, _statuses(client, stack, post["id"])
            time.sleep(0.2)
    finally:
        context.close()
