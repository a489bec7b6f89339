"""TikTok's ``creator_info`` for the dashboard's composer (issue 12 item 2).

TikTok's Direct Post UX rules (shared/reference/platforms.md §1.2, "Direct Post UX
rules") make the composer read ``creator_info`` when it opens: the creator's nickname,
the privacy levels the person picks from (no preselected value), which of comment,
duet and stitch the creator turned off, the longest video allowed, and whether the
creator may post at all right now (the posting caps ``spam_risk_*`` and
``reached_active_user_cap``, which TikTok answers with HTTP 200).

TikTok allows 20 calls a minute per token, shared with publisher-tiktok's reads at
publish time, so an answer is kept :data:`KEEP_S` seconds per account in auth's
database (:class:`~cachalot_auth.models.CreatorInfoKept`), which every auth replica
shares: the composer costs at most one call per account per 30 s (2 a minute) however
many replicas answer it. Two replicas missing at the same instant may both call (the
later write wins); that is one call more, not a new bound.

What the queue needs of an answer (:class:`~cachalot_common.events.CreatorInfoFacts`:
the privacy levels offered, the interactions turned off, the longest video) goes on
``accounts.v1`` as an ``updated`` event, in the transaction that keeps the answer, when
a read finds it different from the answer kept before (the first read included): the
queue then refuses, when a post is queued, what TikTok would refuse at publish time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Protocol, runtime_checkable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_auth.leasing import AccountNotFound, LeasedToken, LeaseRefused, TokenKeeper
from cachalot_auth.models import Account, CreatorInfoKept, utcnow
from cachalot_auth.outbox import account_event
from cachalot_auth.providers.base import PlatformOAuthError
from cachalot_common.events import CreatorInfoFacts
from cachalot_common.leases import OneRefresh

KEEP_S: Final = 30.0

# What the person reads when TikTok says the creator cannot post now (platforms.md §1.2).
CANNOT_POST: Final = {
    "spam_risk_too_many_posts": "TikTok says this account has posted too much today; "
    "try again tomorrow.",
    "spam_risk_user_banned_from_posting": "TikTok does not let this account post right now.",
    "reached_active_user_cap": "TikTok's daily limit of people posting through CACHALOT is "
    "reached; try again tomorrow.",
}


@runtime_checkable
class ReadsCreatorInfo(Protocol):
    async def creator_info(self, access_token: str) -> dict[str, Any]: ...


class CreatorInfoRefused(Exception):
    """TikTok refused the read for a reason other than a posting cap (``code``: TikTok's)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(slots=True)
class CreatorInfo:
    """Reads ``creator_info`` per account and keeps it :attr:`keep_s` seconds in the
    database every replica shares."""

    keeper: TokenKeeper
    tiktok: ReadsCreatorInfo
    factory: async_sessionmaker[AsyncSession]
    keep_s: float = KEEP_S
    clock: Callable[[], datetime] = field(default=utcnow)
    on_commit: Callable[[], None] = field(default=lambda: None)
    """Called after a read that wrote an ``accounts.v1`` event commits (the relay's nudge)."""

    async def read(self, client_id: str, account_id: str) -> dict[str, Any]:
        """``{nickname, username, avatar_url, privacy_level_options: [str],
        comment_disabled, duet_disabled, stitch_disabled, max_video_post_duration_sec,
        can_post: bool, cannot_post_reason: str | None, cannot_post_code: str | None}``
        for the client's TikTok account (``cannot_post_code``: TikTok's error code).

        A token TikTok refuses (``access_token_invalid``) is refreshed once and the read
        tried again, as publishers do after a 401 (:class:`OneRefresh`); refused again, the
        account is marked ``reauth_required``.

        Raises ``AccountNotFound`` (not the client's, or not a TikTok account),
        ``LeaseRefused`` (needs a reconnect: the refresh was refused, or the refreshed
        token too), ``PlatformUnavailable`` and :class:`CreatorInfoRefused`.
        """
        token = await self.keeper.for_owner(account_id, client_id)  # ownership, every time
        if token.platform != "tiktok":
            raise AccountNotFound(account_id)
        now = self.clock()
        kept = await self._kept(account_id, now)
        if kept is not None:
            return kept

        async def refresh() -> LeasedToken:
            return await self.keeper.refresh(account_id, force=True)

        async def refused(lease: LeasedToken) -> BaseException:
            await self.keeper.rejected_for_owner(
                account_id, client_id, token_version=lease.token_version
            )
            return LeaseRefused("reauth_required", "TikTok refused the token even after a refresh")

        try:
            data = await OneRefresh[LeasedToken]().call(
                self.tiktok.creator_info, token, refresh=refresh, refused=refused
            )
        except PlatformOAuthError as error:
            if error.code not in CANNOT_POST:
                raise CreatorInfoRefused(error.code) from None
            answer: dict[str, Any] = {
                "nickname": None,
                "username": None,
                "avatar_url": None,
                "privacy_level_options": [],
                "comment_disabled": True,
                "duet_disabled": True,
                "stitch_disabled": True,
                "max_video_post_duration_sec": None,
                "can_post": False,
                "cannot_post_reason": CANNOT_POST[error.code],
                "cannot_post_code": error.code,  # for a page to word (web/composer.js)
            }
        else:
            options = data.get("privacy_level_options")
            duration = data.get("max_video_post_duration_sec")
            answer = {
                "nickname": _text(data.get("creator_nickname")),
                "username": _text(data.get("creator_username")),
                "avatar_url": _text(data.get("creator_avatar_url")),
                "privacy_level_options": [str(o) for o in options]
                if isinstance(options, list)
                else [],
                "comment_disabled": data.get("comment_disabled") is True,
                "duet_disabled": data.get("duet_disabled") is True,
                "stitch_disabled": data.get("stitch_disabled") is True,
                "max_video_post_duration_sec": duration
                if isinstance(duration, int) and not isinstance(duration, bool)
                else None,
                "can_post": True,
                "cannot_post_reason": None,
                "cannot_post_code": None,
            }
        await self._keep(account_id, now, answer)
        return answer

    async def _kept(self, account_id: str, now: datetime) -> dict[str, Any] | None:
        """The kept answer if it is younger than :attr:`keep_s` (a clock set back counts
        as stale, not as fresh)."""
        async with self.factory() as db:
            row = await db.get(CreatorInfoKept, account_id)
            if row is None or not timedelta(0) <= now - row.read_at < timedelta(
                seconds=self.keep_s
            ):
                return None
            answer: dict[str, Any] = json.loads(row.answer)
            return answer

    async def _keep(self, account_id: str, now: datetime, answer: dict[str, Any]) -> None:
        facts = _facts(answer)
        told = False
        try:
            async with self.factory() as db, db.begin():
                row = await db.get(CreatorInfoKept, account_id)
                before = _facts(json.loads(row.answer)) if row is not None else None
                if row is None:
                    db.add(
                        CreatorInfoKept(
                            account_id=account_id, read_at=now, answer=json.dumps(answer)
                        )
                    )
                else:
                    row.read_at, row.answer = now, json.dumps(answer)
                account = await db.get(Account, account_id)
                if facts is not None and facts != before and account is not None:
                    account_event(db, account, "updated", creator_info=facts)
                    told = True
        except IntegrityError:
            return  # another replica kept its answer first, or the account was just deleted
        if told:
            self.on_commit()


def _facts(answer: dict[str, Any]) -> CreatorInfoFacts | None:
    """What the queue needs of a kept answer; None for "cannot post now" (no choice is
    offered then, which says nothing of the account's own settings)."""
    if not answer.get("can_post"):
        return None
    return CreatorInfoFacts.model_validate(answer)


def _text(value: object) -> str | None:
    return str(value) if value else None
