"""The queue's part of a client's data export, fetched with the client's own session.

``GET /api/v1/me/export`` answers with everything CACHALOT holds of the
client: auth's part (client, accounts, token leases) and the queue's (posts
with their texts and outcomes, video metadata, deliveries and proposals made to
the client, the posts' audit trail), which the queue serves at
``GET /api/v1/posts/export`` to the same session. Auth asks for it on the
client's behalf, forwarding the session cookie the browser sent, so the
queue applies exactly the access rules it applies to the dashboard and no
service credential can read any other client's posts.

If the queue cannot answer, the export fails as a whole (503): an archive
that silently lacks the posts would mislead the person asking for it.
"""

from __future__ import annotations

from typing import Any

import httpx

from cachalot_common.sessions import COOKIE_NAME

EXPORT_PATH = "/api/v1/posts/export"


class PostsUnavailable(RuntimeError):
    """The queue did not hand over the client's posts."""


class PostsArchive:
    """Fetches ``{"posts", "media", "deliveries", "audit"}`` (lists) from the queue for one
    session."""

    def __init__(self, http: httpx.AsyncClient, queue_url: str) -> None:
        self.http = http
        self.url = queue_url.rstrip("/") + EXPORT_PATH

    async def fetch(self, session_token: str) -> dict[str, Any]:
        try:
            response = await self.http.get(
                self.url, headers={"Cookie": f"{COOKIE_NAME}={session_token}"}
            )
        except httpx.HTTPError as error:
            raise PostsUnavailable(f"the queue is unreachable ({type(error).__name__})") from None
        if response.status_code != 200:
            raise PostsUnavailable(f"the queue answered {response.status_code}")
        body = response.json()
        if not isinstance(body, dict) or not {"posts", "media"} <= set(body):
            raise PostsUnavailable("the queue's answer is not a posts export")
        # deliveries made to the client, their proposals and the posts' audit trail (issue 13
        # item 2); a queue older than them has none to give
        return {
            "posts": body["posts"],
            "media": body["media"],
            "deliveries": body.get("deliveries", []),
            "audit": body.get("audit", []),
        }
