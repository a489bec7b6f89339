"""VK's part of the publisher test harness (the rest: ``cachalot_testing.publisher``).

VK user tokens are minted by the sandbox for the account's VK user id.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx

from cachalot_common.events import Article, PublishPost, VKOptions
from cachalot_testing.publisher import Commands as BaseCommands
from cachalot_testing.publisher import LeaseStandIn, Results, sha256_of

__all__ = ["SERVICE_SECRET", "Commands", "LeaseServer", "Results", "sha256_of", "vk_user_of"]

SERVICE = "publisher-vk"
SERVICE_SECRET = "test-publisher-vk-secret-0123456789abcdef"
SCOPES = ["vkid.personal_info", "wall", "video", "photos", "groups"]


def vk_user_of(account_id: uuid.UUID | str) -> int:
    return 100_000 + uuid.UUID(str(account_id)).int % 1_000_000


class LeaseServer(LeaseStandIn):
    """Auth's lease endpoint handing out sandbox VK tokens."""

    def __init__(self, sandbox_url: str) -> None:
        super().__init__(
            sandbox_url,
            service=SERVICE,
            secret=SERVICE_SECRET,
            platform="vk",
            scopes=SCOPES,
            subject=lambda account_id: str(vk_user_of(account_id)),
        )

    def expire(self, account_id: uuid.UUID) -> None:
        httpx.post(
            f"{self.sandbox_url}/sandbox/tokens/expire",
            json={"platform": "vk", "subject": str(vk_user_of(account_id))},
        ).raise_for_status()


class Commands(BaseCommands):
    """``PublishPost`` commands for ``posts.publish.vk.v1``."""

    def command(
        self,
        *,
        account_id: uuid.UUID | None = None,
        video: Path | None = None,
        images: list[Path] | None = None,
        article: tuple[str, str, Path | None] | None = None,
        **options: Any,
    ) -> PublishPost:
        content: dict[str, Any] = {}
        if video is not None:
            content = {"kind": "video", "media": self.ref(video, "video/mp4")}
        elif images:
            content = {"kind": "photo", "images": tuple(self.ref(p, "image/png") for p in images)}
        elif article is not None:
            title, body, cover = article
            cover_ref = self.ref(cover, "image/png") if cover is not None else None
            content = {
                "kind": "article",
                "article": Article(title=title, body_html=body, cover=cover_ref),
            }
        else:  # a text-only post: an article without a cover
            content = {"kind": "article", "article": Article(title="T", body_html="<p>x</p>")}
        return PublishPost(
            post_id=uuid.uuid4(),
            target_id=uuid.uuid4(),
            client_id=uuid.uuid4(),
            account_id=account_id or uuid.uuid4(),
            platform="vk",
            attempt=1,
            options=VKOptions(**options),
            grant=f"grant-{uuid.uuid4().hex}",
            **content,
        )
