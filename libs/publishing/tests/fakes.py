"""Fakes for the runtime's tests, passed through the composition root (no patches).

* :class:`FakePlatform`: a platform whose publish does what each test scripts
  per target (wait, fail, raise, ask for a token...);
* :class:`FakeLeases`: auth's lease endpoint, counting calls and checking
  grants as auth does (a grant that does not verify is refused);
* :func:`make_command`: a ``PublishPost`` with a real (queue-signed) grant;
* :func:`forged_grants`: grants for a command that nobody holding the queue's
  private key signed.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt

from cachalot_common.events import MediaRef, PublishPost, TelegramOptions, TikTokOptions
from cachalot_common.grants import GrantError, generate_signing_key, mint_grant, verify_grant
from cachalot_common.leases import Lease, LeaseAsk, LeaseError, LeaseRefused
from cachalot_publishing.outcome import Published
from cachalot_publishing.ports import Context
from cachalot_publishing.settings import PublisherSettings

Step = Callable[[PublishPost, Context], Awaitable[Published]]
GRANT_KEY = generate_signing_key("publishing-tests")  # the queue's private grant key


@dataclass
class FakePlatform:
    """Publishes instantly unless a test scripts a target's behaviour."""

    scripts: dict[uuid.UUID, Step] = field(default_factory=dict)
    started: list[uuid.UUID] = field(default_factory=list)
    finished: list[uuid.UUID] = field(default_factory=list)
    running: int = 0
    most_running: int = 0

    async def publish(self, command: PublishPost, ctx: Context) -> Published:
        self.started.append(command.target_id)
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            script = self.scripts.get(command.target_id)
            if script is not None:
                published = await script(command, ctx)
            else:
                published = Published(f"remote-{command.target_id}", None)
        finally:
            self.running -= 1
        self.finished.append(command.target_id)
        return published


@dataclass
class FakeLeases:
    """Auth's lease endpoint: a token per account, refreshed on force; ``failures`` raise.

    Confirmation batches answer each ask as a lease (recorded in ``calls`` too) and are
    recorded in ``batches`` (the accounts of each); while ``hold`` is set, they wait for
    ``release`` first (a slow auth: confirmations pile up behind the request out).
    """

    calls: list[dict[str, Any]] = field(default_factory=list)
    failures: dict[uuid.UUID, LeaseError] = field(default_factory=dict)
    lifetime_s: float = 3600
    batches: list[list[uuid.UUID]] = field(default_factory=list)
    hold: bool = False
    release: asyncio.Event = field(default_factory=asyncio.Event)
    rejections: list[tuple[uuid.UUID, int | None]] = field(default_factory=list)
    """Each token rejection reported: the account and the refused lease's version."""
    versions: dict[uuid.UUID, int] = field(default_factory=dict)
    """Each account's token version: 1 at its first lease, bumped by a forced refresh (auth
    bumps it each time it stores the account's tokens)."""
    destinations: dict[uuid.UUID, str] = field(default_factory=dict)
    """Where an account's posts go (a Telegram channel), when a test says."""
    people: dict[uuid.UUID, str] = field(default_factory=dict)
    """The platform's person behind an account (``platform_user_id``), when a test says."""

    async def rejected(self, ask: LeaseAsk, *, token_version: int | None) -> None:
        self.rejections.append((ask.account_id, token_version))

    async def confirm(self, asks: Sequence[LeaseAsk]) -> list[Lease | LeaseError]:
        self.batches.append([ask.account_id for ask in asks])
        if self.hold:
            await self.release.wait()
        answers: list[Lease | LeaseError] = []
        for ask in asks:  # checked now, after the wait: as auth checks when it gets them
            try:
                answers.append(
                    await self.lease(
                        ask.account_id,
                        post_id=ask.post_id,
                        target_id=ask.target_id,
                        grant=ask.grant,
                    )
                )
            except LeaseError as error:
                answers.append(error)
        return answers

    async def lease(
        self,
        account_id: uuid.UUID,
        *,
        post_id: uuid.UUID,
        target_id: uuid.UUID | None = None,
        grant: str | None = None,
        force_refresh: bool = False,
    ) -> Lease:
        self.calls.append(
            {"account_id": account_id, "grant": grant, "force_refresh": force_refresh}
        )
        if account_id in self.failures:
            raise self.failures[account_id]
        try:  # auth's own check (its account binding is left out here)
            verify_grant(grant, keys=GRANT_KEY.ring())
        except GrantError as error:
            raise LeaseRefused(403, error.code, error.detail) from None
        if force_refresh or account_id not in self.versions:
            self.versions[account_id] = self.versions.get(account_id, 0) + 1
        return Lease(
            account_id=account_id,
            platform="tiktok",
            access_token=f"token-{account_id}-{len(self.calls)}",
            expires_at=datetime.now(UTC) + timedelta(seconds=self.lifetime_s),
            scopes=("video.publish",),
            platform_user_id=self.people.get(account_id),
            destination=self.destinations.get(account_id),
            token_version=self.versions[account_id],
        )


@dataclass
class StoredVideo:
    relative: str
    size: int
    sha256: str


def store_video(media_dir: Path) -> StoredVideo:
    """A small file in the media store, as the queue would have stored it."""
    data = b"\x00\x01video" * 100
    (media_dir / "v.mp4").write_bytes(data)
    return StoredVideo("v.mp4", len(data), hashlib.sha256(data).hexdigest())


def make_command(
    video: StoredVideo,
    *,
    account_id: uuid.UUID | None = None,
    client_id: uuid.UUID | None = None,
    attempt: int = 1,
    grant: bool = True,
    platform: str = "tiktok",
) -> PublishPost:
    post_id, target_id = uuid.uuid4(), uuid.uuid4()
    account_id = account_id or uuid.uuid4()
    client_id = client_id or uuid.uuid4()
    signed = mint_grant(
        post_id=post_id,
        target_id=target_id,
        client_id=client_id,
        account_id=account_id,
        platform=platform,
        attempt=attempt,
        key=GRANT_KEY,
        lifetime_s=3600,
    )
    return PublishPost(
        post_id=post_id,
        target_id=target_id,
        client_id=client_id,
        account_id=account_id,
        platform=platform,  # type: ignore[arg-type]
        attempt=attempt,
        media=MediaRef(
            media_id=uuid.uuid4(),
            path=video.relative,
            size=video.size,
            sha256=video.sha256,
            content_type="video/mp4",
        ),
        options=TelegramOptions(caption="hi")
        if platform == "telegram"
        else TikTokOptions(caption="hi", privacy_level="SELF_ONLY"),
        grant=signed if grant else None,
    )


def settings_for(
    media_dir: Path, bootstrap: str = "127.0.0.1:1", **overrides: Any
) -> PublisherSettings:
    values: dict[str, Any] = {
        "kafka_bootstrap": bootstrap,
        "media_dir": media_dir,
        "grant_public_keys": GRANT_KEY.public_setting(),
        "environment": "test",
        "publish_commit_interval_s": 0.05,
        "kafka_session_timeout_ms": 6000,
        "kafka_idempotence": False,
        # a replica stopped mid-rebalance leaves the group within this (the rebalance timeout)
        "kafka_max_poll_interval_ms": 10_000,
    }
    values.update(overrides)
    return PublisherSettings(**values)


async def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.01)


def forged_grants(command: PublishPost) -> dict[str, str]:
    """Grants naming exactly ``command`` (its claims and the queue's ``kid``) that the
    queue's private key did not sign: what someone able to write to the publish topic
    could make."""
    assert command.grant
    claims = jwt.decode(command.grant, options={"verify_signature": False})
    kid = {"kid": GRANT_KEY.kid}
    public = GRANT_KEY.public_raw()
    return {
        "unsigned": jwt.encode(claims, None, algorithm="none", headers=kid),
        "another Ed25519 key under the queue's kid": jwt.encode(
            claims,
            generate_signing_key(GRANT_KEY.kid).private_key,
            algorithm="EdDSA",
            headers=kid,
        ),
        "HS256 with a guessed secret": jwt.encode(
            claims, "dev-queue-service-secret-not-for-production", algorithm="HS256", headers=kid
        ),
        "HS256 keyed with the public key": jwt.encode(
            claims, public, algorithm="HS256", headers=kid
        ),
        "a signature cut off": command.grant.rsplit(".", 1)[0] + ".",
    }
