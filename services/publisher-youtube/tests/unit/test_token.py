"""The leased token for one delivery: renewed before expiry, force-refreshed once on a 401."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from cachalot_common.events import MediaRef, PublishVideo, YouTubeOptions
from cachalot_common.leases import Lease
from cachalot_publisher_youtube.publisher import ReauthNeeded, _Token


class FakeLeases:
    """Hands out numbered tokens; remembers how each was asked for."""

    def __init__(self, lifetime: timedelta) -> None:
        self.lifetime = lifetime
        self.calls: list[bool] = []

    async def lease(
        self,
        account_id: uuid.UUID,
        *,
        post_id: uuid.UUID,
        target_id: uuid.UUID | None = None,
        grant: str | None = None,
        force_refresh: bool = False,
    ) -> Lease:
        self.calls.append(force_refresh)
        return Lease(
            account_id=account_id,
            platform="youtube",
            access_token=f"token-number-{len(self.calls)}",
            expires_at=datetime.now(UTC) + self.lifetime,
            scopes=(),
            platform_user_id=None,
        )


def command() -> PublishVideo:
    return PublishVideo(
        post_id=uuid.uuid4(),
        target_id=uuid.uuid4(),
        client_id=uuid.uuid4(),
        account_id=uuid.uuid4(),
        platform="youtube",
        attempt=1,
        media=MediaRef(
            media_id=uuid.uuid4(), path="a.mp4", size=1, sha256="0" * 64, content_type="video/mp4"
        ),
        options=YouTubeOptions(title="t"),
    )


async def test_a_token_about_to_expire_is_leased_again_before_the_next_call() -> None:
    leases = FakeLeases(lifetime=timedelta(seconds=30))
    cmd = command()
    token = _Token(leases, cmd, await leases.lease(cmd.account_id, post_id=cmd.post_id))

    assert await token.current() == "token-number-2"
    assert leases.calls == [False, False]


async def test_a_fresh_token_is_used_as_it_is() -> None:
    leases = FakeLeases(lifetime=timedelta(hours=1))
    cmd = command()
    token = _Token(leases, cmd, await leases.lease(cmd.account_id, post_id=cmd.post_id))

    assert await token.current() == "token-number-1"


async def test_only_one_forced_refresh_per_delivery() -> None:
    leases = FakeLeases(lifetime=timedelta(hours=1))
    cmd = command()
    token = _Token(leases, cmd, await leases.lease(cmd.account_id, post_id=cmd.post_id))

    assert await token.refresh() == "token-number-2"
    with pytest.raises(ReauthNeeded):
        await token.refresh()
    assert leases.calls == [False, True]
