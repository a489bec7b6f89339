"""The signed-in client's own data: profile, consent, accounts, export, erasure.

Every query here is scoped by the session's client id, so a client never
sees, changes or deletes another client's accounts (another client's id
looks exactly like an id that does not exist: 404).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final, Protocol, runtime_checkable

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_auth.custody import TokenVault
from cachalot_auth.models import (
    NEEDS_CHANNEL,
    Account,
    Client,
    LeaseAudit,
    OutboxMessage,
    SessionRow,
    Token,
    utcnow,
)
from cachalot_auth.outbox import account_event, session_event
from cachalot_auth.providers.base import (
    PlatformOAuthError,
    PlatformUnavailable,
    Provider,
    StoredGrant,
)
from cachalot_auth.providers.telegram import BotApi, ChannelNotUsable, TelegramBusy
from cachalot_common import platforms
from cachalot_common.db import checkpoint_after_commit
from cachalot_common.events import Community
from cachalot_common.sessions import Session

logger = logging.getLogger(__name__)

CONSENT_GIVEN = "You confirmed being 18 or over and gave an email; publishing resumes."
"""The reason of the ``connected`` events that consent emits (shown on resumed posts)."""


class NotSignedIn(Exception):
    pass


class NotFound(Exception):
    pass


class ChannelRefused(Exception):
    """A channel is not linked: ``detail`` says why (English), ``code`` which, for pages to
    word it in their language (the problem's ``errors[].type`` is ``channel_<code>``):
    :class:`ChannelNotUsable`'s codes, ``telegram_not_set_up``, ``not_telegram``,
    ``no_telegram_account``, ``account_unnamed``, ``telegram_account_revoked``,
    ``telegram_refused`` (its words in ``detail``), ``telegram_busy``,
    ``telegram_unavailable``; ``params`` the entry's extra keys (``channel`` as written);
    ``field`` the field it is about when it is not the channel (``account_id``)."""

    def __init__(self, detail: str, code: str, *, field: str | None = None, **params: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.field = field
        self.params = params

    def error(self, field: str) -> dict[str, Any]:
        """The problem document's entry naming ``field`` (the channel's field of the route),
        or the field this refusal is about when it is not the channel (``account_id``)."""
        where = self.field or field
        entry = {
            "field": where,
            "in": "body",
            "message": self.detail,
            "type": f"channel_{self.code}",
        }
        return {**entry, **self.params}


DETAILS_READ_EVERY: Final = timedelta(minutes=1)
"""The least time between two reads of one account's details on the client's ask
(:meth:`ClientService.read_details`): sooner, the kept ones are answered."""

OwnerToken = Callable[[str, str], Awaitable[str]]
"""``(account_id, client_id)`` → a usable access token of the client's own account
(``TokenKeeper.for_owner``); raises its ``AccountNotFound``, ``LeaseRefused``,
``PlatformUnavailable``."""


@runtime_checkable
class CommunityReader(Protocol):
    """A provider that lists the communities a person administers (VK's ``groups.get``)."""

    async def communities(self, access_token: str) -> tuple[Community, ...] | None: ...


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def account_public(account: Account) -> dict[str, Any]:
    """What the dashboard may see of an account: never a token."""
    return {
        "id": account.id,
        "platform": account.platform,
        "display_name": account.display_name,
        "platform_user_id": account.platform_user_id,
        "status": account.status,
        "status_reason": account.status_reason,
        "scopes": account.scope_list(),
        "channel_id": account.channel_id,
        "channel_title": account.channel_title,
        # VK: the communities the person administered at the last sign-in (the dashboard's
        # owner_id choices), ids and each with its name; None when not known or another platform
        "communities": account.community_list(),
        "community_details": (
            None
            if (details := account.community_details()) is None
            else [c.model_dump() for c in details]
        ),
        # a Telegram account posts only once a channel is linked (and its link holds)
        "needs_channel": platforms.get(account.platform).sign_in == "widget"
        and account.status != "revoked"
        and (account.channel_id is None or account.status in (NEEDS_CHANNEL, "reauth_required")),
        "connected_at": _iso(account.connected_at),
        "refreshed_at": _iso(account.refreshed_at),
    }


class ClientService:
    def __init__(
        self,
        *,
        factory: async_sessionmaker[AsyncSession],
        vault: TokenVault,
        providers: Mapping[str, Provider],
        bot: BotApi | None,
        on_commit: Callable[[], None],
        owner_token: OwnerToken | None = None,
    ) -> None:
        self._factory = factory
        self._vault = vault
        self._providers = providers
        self._bot = bot
        self._on_commit = on_commit
        self._owner_token = owner_token

    async def client_of(self, db: AsyncSession, session: Session | None) -> Client:
        """The client behind a live session (checked against our sessions table)."""
        if session is None:
            raise NotSignedIn()
        row = await db.get(SessionRow, session.session_id)
        if (
            row is None
            or row.revoked_at is not None
            or row.client_id != str(session.client_id)
            or row.expires_at <= utcnow()
        ):
            raise NotSignedIn()
        client = await db.get(Client, row.client_id)
        if client is None:
            raise NotSignedIn()
        return client

    async def client_id(self, session: Session | None) -> str:
        """The id of the client behind a live session; :class:`NotSignedIn` otherwise."""
        async with self._factory() as db:
            return (await self.client_of(db, session)).id

    async def live(self, session: Session | None) -> Session | None:
        """``session`` if our sessions table still holds it unrevoked and unexpired, else None."""
        if session is None:
            return None
        async with self._factory() as db:
            try:
                await self.client_of(db, session)
            except NotSignedIn:
                return None
        return session

    async def me(self, session: Session | None) -> dict[str, Any]:
        async with self._factory() as db:
            client = await self.client_of(db, session)
            return {
                "client_id": client.id,
                "created_at": _iso(client.created_at),
                "email": client.email,
                "email_at": _iso(client.email_at),
                "adult_confirmed_at": _iso(client.adult_confirmed_at),
                "consent_given": bool(client.email and client.adult_confirmed_at),
                "language": client.language,
            }

    async def consent(
        self, session: Session | None, *, email: str, language: str | None = None
    ) -> dict[str, Any]:
        """Record the client's 18+ confirmation and email (privacy policy: no one under 18).

        Until both are given, leases of the client's accounts are refused with
        ``consent_required`` and the queue pauses their targets. When this call
        completes the consent, an ``accounts.v1`` ``connected`` event for each
        account the client holds in status ``ok`` goes into the same
        transaction (outbox): the queue resumes those accounts' paused targets
        (:mod:`cachalot_queue.results`), the notifier ignores it. Accounts
        needing reauthorisation get nothing: their targets wait for a reconnect.

        ``language`` (``en``/``ru``): the language of the client's e-mails, kept
        when given. Returns :meth:`me`. Raises :class:`NotSignedIn`.
        """
        now = utcnow()
        emitted = False
        async with self._factory() as db, db.begin():
            client = await self.client_of(db, session)
            had_consent = bool(client.email and client.adult_confirmed_at)
            if client.adult_confirmed_at is None:
                client.adult_confirmed_at = now
            if language is not None:
                client.language = language
            if client.email != email:
                client.email = email
                client.email_at = now
            if not had_consent:
                held = await db.scalars(
                    select(Account)
                    .where(Account.client_id == client.id, Account.status == "ok")
                    .order_by(Account.created_at)
                )
                for account in held.all():
                    account_event(db, account, "connected", reason=CONSENT_GIVEN)
                    emitted = True
        if emitted:
            self._on_commit()
        return await self.me(session)

    async def logout(self, session: Session | None) -> None:
        """Revoke the session here and tell every service (``sessions.v1`` ``revoked``)."""
        if session is None:
            return
        async with self._factory() as db, db.begin():
            result = await db.execute(
                update(SessionRow)
                .where(SessionRow.id == session.session_id, SessionRow.revoked_at.is_(None))
                .values(revoked_at=utcnow())
                .returning(SessionRow.expires_at)
            )
            row = result.first()
            if row is None:  # already ended: nothing new to tell
                return
            session_event(
                db,
                "revoked",
                client_id=session.client_id,
                session_id=session.session_id,
                expires_at=row.expires_at,
            )
        self._on_commit()

    async def accounts(self, session: Session | None) -> list[dict[str, Any]]:
        async with self._factory() as db:
            client = await self.client_of(db, session)
            rows = (
                await db.scalars(
                    select(Account)
                    .where(Account.client_id == client.id)
                    .order_by(Account.created_at)
                )
            ).all()
            return [account_public(a) for a in rows]

    async def _own_account(self, db: AsyncSession, client: Client, account_id: str) -> Account:
        try:
            uuid.UUID(account_id)
        except ValueError:
            raise NotFound() from None
        account = await db.scalar(
            select(Account)
            .where(Account.id == account_id, Account.client_id == client.id)
            .with_for_update()
        )
        if account is None:
            raise NotFound()
        return account

    async def disconnect(self, session: Session | None, account_id: str) -> None:
        """Revoke at the platform (best effort), delete the tokens, emit ``revoked``."""
        async with self._factory() as db:
            client = await self.client_of(db, session)
            account = await self._own_account(db, client, account_id)
            tokens = {
                t.kind: t
                for t in (
                    await db.scalars(select(Token).where(Token.account_id == account.id))
                ).all()
            }
            provider = self._providers.get(account.platform)
            grant = None
            if provider is not None and tokens:
                try:
                    grant = StoredGrant(
                        access_token=self._vault.open(account, tokens["access"])
                        if "access" in tokens
                        else None,
                        refresh_token=self._vault.open(account, tokens["refresh"])
                        if "refresh" in tokens
                        else None,
                        device_id=account.device_id,
                    )
                except Exception as error:
                    logger.error("disconnect: %s", error)
        if provider is not None and grant is not None:
            try:
                await provider.revoke(grant)
            except (PlatformOAuthError, PlatformUnavailable) as error:
                logger.warning(
                    "revoking account %s at %s failed (%s); tokens deleted here anyway",
                    account_id,
                    account.platform,
                    type(error).__name__,
                )
        async with self._factory() as db, db.begin():
            client = await self.client_of(db, session)
            account = await self._own_account(db, client, account_id)
            await db.execute(delete(Token).where(Token.account_id == account.id))
            account.status = "revoked"
            account.status_reason = "disconnected by the client"
            account.updated_at = utcnow()
            account_event(db, account, "revoked", reason="disconnected by the client")
        self._on_commit()

    async def link_telegram_channel(
        self, session: Session | None, *, channel_id: str, account_id: str | None = None
    ) -> dict[str, Any]:
        """Attach a channel where our bot can post to the client's Telegram account.

        ``channel_id``: ``@username`` or the numeric ``-100…`` id; the numeric id
        is stored (``getChat``). ``account_id``: that Telegram account of the
        client (default: its only Telegram account; refused naming ``account_id`` when it has
        more than one, since any pick could be the wrong one). Linking again mends a link the
        publisher found broken (the account is ``ok`` again and ``connected`` is
        emitted, so its paused posts resume). Raises :class:`NotSignedIn`,
        :class:`NotFound` (no such account of this client) or
        :class:`ChannelRefused` naming what to do.
        """
        if self._bot is None:
            raise ChannelRefused("Telegram is not set up on this server", "telegram_not_set_up")
        account: Account | None
        async with self._factory() as db:
            client = await self.client_of(db, session)
            if account_id is not None:
                account = await self._own_account(db, client, account_id)
                if account.platform != "telegram":
                    raise ChannelRefused("only a Telegram account links a channel", "not_telegram")
            else:
                found = list(
                    await db.scalars(
                        select(Account).where(
                            Account.client_id == client.id, Account.platform == "telegram"
                        )
                    )
                )
                live = [a for a in found if a.status != "revoked"]  # a revoked one is no pick
                if len(live) > 1:
                    raise ChannelRefused(
                        f"you have {len(live)} Telegram accounts: name the one to link "
                        "(account_id, or PUT /api/v1/accounts/{id}/telegram-channel)",
                        "account_unnamed",
                        field="account_id",
                    )
                account = (live or found)[0] if found else None
            if account is None:
                raise ChannelRefused(
                    "sign in with Telegram first, then link a channel", "no_telegram_account"
                )
            if account.status == "revoked":  # given up: only a new Telegram sign-in takes it back
                raise ChannelRefused(
                    "this Telegram account was disconnected; sign in with Telegram again, "
                    "then link a channel",
                    "telegram_account_revoked",
                )
            user_id = account.platform_user_id
        try:
            channel = await self._bot.check_channel(channel_id, user_id)
        except ChannelNotUsable as refused:
            raise ChannelRefused(str(refused), refused.code, **refused.params) from None
        except PlatformOAuthError as error:
            raise ChannelRefused(
                f"Telegram says: {error.description or error.code}", "telegram_refused"
            ) from None
        except TelegramBusy as busy:
            raise ChannelRefused(
                f"Telegram asks us to wait {busy.retry_after or 'a few'} seconds; try again then",
                "telegram_busy",
            ) from None
        except PlatformUnavailable:
            raise ChannelRefused(
                "Telegram is not answering; try again in a few minutes", "telegram_unavailable"
            ) from None
        async with self._factory() as db, db.begin():
            client = await self.client_of(db, session)
            account = await self._own_account(db, client, account.id)
            account.channel_id = channel.id  # the account keeps its own name (issue 12)
            account.channel_title = channel.title
            account.status = "ok"
            account.status_reason = None
            account.updated_at = utcnow()
            account_event(db, account, "connected")
            public = account_public(account)
        self._on_commit()
        return public

    async def read_details(self, session: Session | None, account_id: str) -> dict[str, Any]:
        """The account (:func:`account_public`) after reading again what the platform says of
        the places it posts to: the communities a VK person administers with their names
        (``groups.get``, :class:`CommunityReader`) and a linked Telegram channel's title
        (``getChat``). Sign-in reads them too; this keeps the names current in between.

        At most once per :data:`DETAILS_READ_EVERY` per account (kept in
        ``details_read_at``, so replicas share the bound): the read is claimed by one
        conditional UPDATE, so of asks at once only one calls the platform; a sooner ask, or
        a revoked account, answers what is kept. A read that fails gives its claim back.
        A change is told on ``accounts.v1`` (``updated``), which
        refreshes the queue's community check and every open dashboard. A channel our bot
        can no longer read keeps its title (the publisher reports a broken link itself).
        Raises :class:`NotSignedIn`, :class:`NotFound`, the lease's ``LeaseRefused`` (the
        account must be reconnected) and ``PlatformUnavailable``.
        """
        now = utcnow()
        async with self._factory() as db, db.begin():
            client = await self.client_of(db, session)
            account = await self._own_account(db, client, account_id)
            last = account.details_read_at
            claimed = await db.execute(
                update(Account)
                .where(
                    Account.id == account.id,
                    Account.status != "revoked",
                    (Account.details_read_at.is_(None))
                    # a clock set back by more than the bound: read. Not any later time:
                    # an ask that began a moment before another's claim would read again
                    | (Account.details_read_at > now + DETAILS_READ_EVERY)
                    | (Account.details_read_at <= now - DETAILS_READ_EVERY),
                )
                .values(details_read_at=now)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return account_public(account)
            provider = self._providers.get(account.platform)
            channel_id, user_id = account.channel_id, account.platform_user_id
        try:
            communities: list[dict[str, Any]] | None = None
            if isinstance(provider, CommunityReader) and self._owner_token is not None:
                token = await self._owner_token(account_id, client.id)
                found = await provider.communities(token)
                communities = None if found is None else [c.model_dump() for c in found]
            title: str | None = None
            if channel_id is not None and self._bot is not None:
                try:
                    title = (await self._bot.check_channel(channel_id, user_id)).title
                except (ChannelNotUsable, PlatformOAuthError):
                    title = None
        except Exception:
            async with self._factory() as db, db.begin():  # the claim back: ask again at once
                await db.execute(
                    update(Account)
                    .where(Account.id == account_id, Account.details_read_at == now)
                    .values(details_read_at=last)
                )
            raise
        async with self._factory() as db, db.begin():
            client = await self.client_of(db, session)
            account = await self._own_account(db, client, account_id)
            changed = False
            if communities is not None and communities != account.vk_communities:
                account.vk_communities, changed = communities, True
            if title and channel_id == account.channel_id and title != account.channel_title:
                account.channel_title, changed = title, True
            if changed:
                account.updated_at = now
                account_event(db, account, "updated")
            public = account_public(account)
        if changed:
            self._on_commit()
        return public

    async def export(self, session: Session | None) -> dict[str, Any]:
        async with self._factory() as db:
            client = await self.client_of(db, session)
            accounts = (
                await db.scalars(select(Account).where(Account.client_id == client.id))
            ).all()
            leases = (
                await db.scalars(
                    select(LeaseAudit)
                    .where(LeaseAudit.client_id == client.id)
                    .order_by(LeaseAudit.id)
                )
            ).all()
        me = await self.me(session)
        return {
            "client": me,
            "accounts": [account_public(a) for a in accounts],
            "token_leases": [
                {
                    "account_id": lease.account_id,
                    "service": lease.service,
                    "post_id": lease.post_id,
                    "target_id": lease.target_id,
                    "leased_at": _iso(lease.leased_at),
                }
                for lease in leases
            ],
        }

    async def erase(self, session: Session | None) -> None:
        """Disconnect every account, then delete the client and all its rows.

        Its sent outbox rows go too (they are kept an hour for a broker that lost them, and
        name it). Left naming it, by ids only, are the erasure's own announcements
        (``revoked`` per account, ``deleted``, ``sessions.v1`` ``client_erased``), which
        every reader needs and which the relay deletes an hour after sending them, like
        every sent row."""
        async with self._factory() as db:
            client = await self.client_of(db, session)
            ids = (
                await db.scalars(
                    select(Account.id).where(
                        Account.client_id == client.id, Account.status != "revoked"
                    )
                )
            ).all()
        for account_id in ids:
            await self.disconnect(session, account_id)
        async with self._factory() as db, db.begin():
            checkpoint_after_commit(db)  # no copy of the rows left in SQLite's WAL
            client = await self.client_of(db, session)
            await db.execute(
                delete(OutboxMessage).where(
                    OutboxMessage.sent_at.is_not(None),
                    or_(OutboxMessage.key == client.id, OutboxMessage.payload.contains(client.id)),
                )
            )
            for account in (
                await db.scalars(select(Account).where(Account.client_id == client.id))
            ).all():
                account_event(db, account, "deleted", reason="the client erased their data")
            longest = await db.scalar(
                select(func.max(SessionRow.expires_at)).where(SessionRow.client_id == client.id)
            )
            session_event(  # session is live here, so longest is not None
                db, "client_erased", client_id=client.id, expires_at=longest or utcnow()
            )
            await db.execute(delete(LeaseAudit).where(LeaseAudit.client_id == client.id))
            await db.execute(delete(Account).where(Account.client_id == client.id))
            await db.execute(delete(SessionRow).where(SessionRow.client_id == client.id))
            await db.execute(delete(Client).where(Client.id == client.id))
        self._on_commit()
