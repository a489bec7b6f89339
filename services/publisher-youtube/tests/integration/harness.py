"""YouTube's part of the publisher test harness (the rest: ``cachalot_testing.publisher``).

Google access tokens are minted by the sandbox for the account's channel.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from cachalot_common.events import PublishPost, YouTubeOptions
from cachalot_testing.publisher import Commands as BaseCommands
from cachalot_testing.publisher import LeaseStandIn, Results, sha256_of

__all__ = ["SERVICE_SECRET", "UPLOAD_SCOPE", "Commands", "LeaseServer", "Results", "sha256_of"]

UPLOAD_SCOPE = "https://www.googleapis.com/auth/youtube.upload"
READ_SCOPE = "https://www.googleapis.com/auth/youtube.readonly"  # to list the channel's uploads
SERVICE = "publisher-youtube"
SERVICE_SECRET = "test-publisher-youtube-secret-0123456789"


def channel_of(account_id: str) -> str:
    return "UC" + uuid.UUID(account_id).hex[:22]


class LeaseServer(LeaseStandIn):
    """Auth's lease endpoint handing out sandbox Google tokens.

    ``upload_only_accounts`` are granted ``youtube.upload`` alone (the lease
    still lists both scopes, as auth would for a grant it believes whole).
    """

    def __init__(self, sandbox_url: str) -> None:
        super().__init__(
            sandbox_url,
            service=SERVICE,
            secret=SERVICE_SECRET,
            platform="youtube",
            token_platform="google",
            scopes=[UPLOAD_SCOPE, READ_SCOPE],
            subject=channel_of,
        )
        self.upload_only_accounts: set[str] = set()
        self.reauth_accounts = self.reauth

    def minted_scopes_of(self, account_id: str) -> list[str]:
        if account_id in self.upload_only_accounts:
            return [UPLOAD_SCOPE]
        return self.scopes_of(account_id)


class Commands(BaseCommands):
    """``PublishPost`` commands for ``posts.publish.youtube.v1``."""

    def command(self, media: Path, **options: Any) -> PublishPost:
        return PublishPost(
            post_id=uuid.uuid4(),
            target_id=uuid.uuid4(),
            client_id=uuid.uuid4(),
            account_id=uuid.uuid4(),
            platform="youtube",
            attempt=1,
            media=self.ref(media, "video/mp4"),
            options=YouTubeOptions(title=options.pop("title", "A test video"), **options),
            grant=f"grant-{uuid.uuid4().hex}",  # the lease stand-in only records it
        )
