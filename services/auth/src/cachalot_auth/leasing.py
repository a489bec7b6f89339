"""Token leases and refresh: one refresh per account at a time, everywhere.

A lease hands a publisher a valid access token (never the refresh token)
and records who asked, for which post. When the token is within the
refresh margin of expiry (or the publisher saw a 401 and asks with
``force_refresh``), the account is refreshed first, serialised twice over:

* in-process, an ``asyncio.Lock`` per account, so concurrent callers of one
  replica queue up instead of each opening a transaction;
* across replicas, ``SELECT … FOR UPDATE`` on the account row (PostgreSQL;
  SQLite's embedded mode is one process, so the lock above is enough).

Under the lock the token is read again: if someone refreshed it meanwhile
it is used as is, so 50 concurrent leases cause one refresh. The new access
token and the rotated refresh token are written in one transaction. Network
errors and 5xx are retried (in the provider) and never disconnect;
``invalid_grant`` marks the account ``reauth_required``, deletes the dead
refresh token (and a self-renewing platform's dead access token) and emits
the event, so the reconnect asks for consent and gets a new one.

Before anything is opened, the lease is bound (issue 8 item 3: tokens serve
only content the client queued): the caller must be the publisher of the
account's platform (:data:`cachalot_common.service_auth.PUBLISHER_SERVICES`)
and must bring the queue's publish grant (:mod:`cachalot_common.grants`) for
this very account, platform and post, issued to the client that holds the
account *now*, for an attempt that is not over (:mod:`cachalot_auth.attempts`:
the queue's status events end attempts; one indexed query in the lease's own
transaction, one ``IN`` query for a batch of confirmations); otherwise
:class:`LeaseForbidden` names the reason. The audit row records the grant's post
and target.

A publisher confirms a lease again right before a post's visible step
(:meth:`TokenKeeper.confirm_many`): the same checks, for many commands in one
request and one transaction (one query per table, one audit INSERT).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_auth.attempts import AttemptLedger
from cachalot_auth.custody import TokenVault
from cachalot_auth.models import (
    CHANNEL_LINK_BROKEN,
    CHANNEL_NOT_LINKED,
    CHANNEL_NOT_LINKED_REASON,
    NEEDS_CHANNEL,
    Account,
    Client,
    LeaseAudit,
    Token,
    utcnow,
)
from cachalot_auth.notices import LANGUAGES
from cachalot_auth.outbox import account_event
from cachalot_auth.providers.base import (
    PlatformOAuthError,
    PlatformUnavailable,
    Provider,
    StoredGrant,
)
from cachalot_auth.signin import store_tokens
from cachalot_common import platforms
from cachalot_common.crypto import TokenDecryptionError
from cachalot_common.grants import GrantError, GrantKeyRing, PublishGrant, verify_grant
from cachalot_common.service_auth import publisher_of

logger = logging.getLogger(__name__)

DEAD_GRANT_ERRORS = frozenset({"invalid_grant", "invalid_token"})


class LeaseRefused(Exception):
    """The account cannot be used: ``code`` is reauth_required, revoked, consent_required…"""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class AccountNotFound(Exception):
    pass


class LeaseForbidden(Exception):
    """This caller may not lease this account for this grant.

    ``code``: ``wrong_platform`` (the caller is not the account's platform's
    publisher), ``grant_invalid`` (missing, forged, or bound to another account,
    platform, post or target), ``grant_expired``, ``not_owner`` (the account now
    belongs to another client than the one the post was queued by), ``grant_spent``
    (the grant's attempt is over: published, cancelled, failed, scheduled again,
    paused or re-dispatched; not retryable, a new attempt brings a new grant).
    """

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class LeaseRequest:
    """Who asks (``service``, proven by its JWT) and for what (the raw ``grant`` and ids)."""

    service: str
    grant: str | None
    post_id: str | None
    target_id: str | None


@dataclass(frozen=True, slots=True)
class LeasedToken:
    account_id: str
    platform: str
    access_token: str
    expires_at: datetime
    scopes: list[str]
    platform_user_id: str
    refreshed: bool
    destination: str | None = None
    token_version: int = 0
    """The account's :attr:`Account.token_version` when this token was read (not secret)."""
    language: str | None = None
    """Channel leases: the client's language (``en``/``ru``,
    :data:`~cachalot_auth.notices.LANGUAGES`), for the words our bot adds to the client's
    posts; None when unknown."""

    def __repr__(self) -> str:
        return f"LeasedToken(account_id={self.account_id}, token=***)"


@dataclass(frozen=True, slots=True)
class _Snapshot:
    account: Account
    access: Token | None
    refresh: Token | None


class TokenKeeper:
    """Leases and refreshes; the only code that opens tokens for use."""

    def __init__(
        self,
        *,
        factory: async_sessionmaker[AsyncSession],
        vault: TokenVault,
        providers: Mapping[str, Provider],
        refresh_margin_s: float,
        on_commit: Callable[[], None],
        grant_keys: GrantKeyRing | None = None,
        attempts: AttemptLedger | None = None,
    ) -> None:
        """``grant_keys``: kid → the queue's public key; they verify publish grants.
        ``attempts``: the spent-attempt memory (default: the table, rows kept 6 h)."""
        self._factory = factory
        self._attempts = attempts or AttemptLedger(factory, grant_lifetime_s=6 * 3600.0)
        self._grant_keys = dict(grant_keys or {})
        self._vault = vault
        self._providers = providers
        self._margin = timedelta(seconds=refresh_margin_s)
        self._on_commit = on_commit
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self.refresh_count = 0

    @property
    def self_renewing_platforms(self) -> tuple[str, ...]:
        """Platforms whose long-lived access token is renewed with itself (no refresh token)."""
        return tuple(name for name, p in self._providers.items() if p.self_renewing)

    def _lock(self, account_id: str) -> asyncio.Lock:
        lock = self._locks.get(account_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[account_id] = lock
        return lock

    def _fresh(self, token: Token | None, now: datetime) -> bool:
        if token is None:
            return False
        return token.expires_at is None or token.expires_at - self._margin > now

    async def lease(
        self, account_id: str, request: LeaseRequest, *, force_refresh: bool = False
    ) -> LeasedToken:
        """A usable access token for ``account_id``, bound to ``request``'s grant.

        Raises :class:`AccountNotFound`, :class:`LeaseForbidden` (caller or grant
        not bound to this account as it is now), :class:`LeaseRefused` (account
        not usable), ``PlatformUnavailable`` (refresh impossible right now).
        """
        async with self._factory() as db, db.begin():
            read = await self._read(db, [(account_id, request)])
            answer = self._answer(read, account_id, request, force_refresh=force_refresh)
            if isinstance(answer, LeasedToken):
                await self._audit(db, [read.audit_row(account_id, request, refreshed=False)])
                return answer
        return await self._refresh_and_lease(account_id, request, answer, force=force_refresh)

    async def confirm_many(
        self,
        asks: Sequence[tuple[str, LeaseRequest]],
        *,
        first: Callable[[AsyncSession], Awaitable[None]] | None = None,
    ) -> list[LeasedToken | LeaseFailure]:
        """Each ``(account_id, request)`` answered as :meth:`lease` would answer it alone
        (no forced refresh): a :class:`LeasedToken`, or the exception :meth:`lease`
        would raise for it (a :data:`LeaseFailure`), in order.

        A publisher's confirmations before the visible steps of many commands
        (issue 9): every ask is checked in one transaction, with one query per
        table for the whole batch, and audited by one INSERT; the rare ask whose
        token must be refreshed first is then leased alone.

        ``first(db)``: run first in that transaction (the caller's service JWT spent,
        :meth:`~cachalot_auth.service_tokens.SpentTokens.spend`, so a request costs one
        transaction, not two); what it raises ends the call before anything is read.
        """
        answers: list[LeasedToken | LeaseFailure | None] = [None] * len(asks)
        stale: dict[int, str | None] = {}
        async with self._factory() as db, db.begin():
            if first is not None:
                await first(db)
            read = await self._read(db, asks)
            audits = []
            for index, (account_id, request) in enumerate(asks):
                try:
                    answer = self._answer(read, account_id, request, force_refresh=False)
                except LEASE_FAILURES as error:
                    answers[index] = error
                    continue
                if isinstance(answer, LeasedToken):
                    answers[index] = answer
                    audits.append(read.audit_row(account_id, request, refreshed=False))
                else:
                    stale[index] = answer
            await self._audit(db, audits)
        for index, seen in stale.items():
            account_id, request = asks[index]
            try:
                answers[index] = await self._refresh_and_lease(
                    account_id, request, seen, force=False
                )
            except LEASE_FAILURES as error:
                answers[index] = error
        done = [answer for answer in answers if answer is not None]
        assert len(done) == len(asks)
        return done

    async def _refresh_and_lease(
        self, account_id: str, request: LeaseRequest, seen: str | None, *, force: bool
    ) -> LeasedToken:
        """Refresh (``seen``: the access ciphertext read before), then bind and audit again:
        the account may have changed hands meanwhile."""
        leased = await self.refresh(account_id, force=force, seen_ciphertext=seen)
        async with self._factory() as db, db.begin():
            read = await self._read(db, [(account_id, request)])
            if account_id not in read.accounts:
                raise AccountNotFound(account_id)
            self._bind(read, read.accounts[account_id], request)
            await self._audit(db, [read.audit_row(account_id, request, refreshed=leased.refreshed)])
        return leased

    async def _read(self, db: AsyncSession, asks: Sequence[tuple[str, LeaseRequest]]) -> _Read:
        """What leasing ``asks`` needs, one query per table: the accounts, their tokens
        and clients, and the spent attempts of the targets their grants name (each grant
        verified once here)."""
        ids = {account_id for account_id, _ in asks if _is_uuid(account_id)}
        accounts = {
            a.id: a for a in (await db.scalars(select(Account).where(Account.id.in_(ids)))).all()
        }
        grants: dict[str | None, PublishGrant | GrantError] = {}
        for _, request in asks:
            if request.grant not in grants:
                try:
                    grants[request.grant] = verify_grant(request.grant, keys=self._grant_keys)
                except GrantError as error:
                    grants[request.grant] = error
        targets = {str(g.target_id) for g in grants.values() if isinstance(g, PublishGrant)}
        spent = await self._attempts.spent_of(db, targets) if targets else {}
        tokens: dict[str, dict[str, Token]] = {}
        clients: dict[str, Client] = {}
        if accounts:
            rows = await db.scalars(
                select(Token)
                .where(Token.account_id.in_(accounts))
                .execution_options(populate_existing=True)
            )
            for token in rows.all():
                tokens.setdefault(token.account_id, {})[token.kind] = token
            owners = {a.client_id for a in accounts.values()}
            clients = {
                c.id: c for c in (await db.scalars(select(Client).where(Client.id.in_(owners))))
            }
        return _Read(accounts, tokens, clients, grants, spent)

    def _answer(
        self, read: _Read, account_id: str, request: LeaseRequest, *, force_refresh: bool
    ) -> LeasedToken | str | None:
        """The lease of ``account_id`` for ``request`` from ``read``, or, when its token must
        be refreshed first, the access ciphertext seen (None: no access token).

        Raises what :meth:`lease` raises, checked in its order: not found, the binding,
        the channel (widget platforms), usable (status, consent).
        """
        account = read.accounts.get(account_id)
        if account is None:
            raise AccountNotFound(account_id)
        self._bind(read, account, request)
        if _posts_to_channel(account):
            return _channel_lease(account, read.clients.get(account.client_id))
        _check_usable(account, read.clients.get(account.client_id))
        snap = read.snapshot(account)
        if not force_refresh and self._fresh(snap.access, utcnow()):
            return self._leased(snap, refreshed=False)
        return snap.access.ciphertext if snap.access is not None else None

    async def for_owner(self, account_id: str, client_id: str) -> LeasedToken:
        """A usable access token of ``client_id``'s own account, for a read the dashboard
        asks on the client's behalf (TikTok's ``creator_info`` while composing): no publish
        grant, nothing posted. Refreshed first when it is about to expire.

        Raises :class:`AccountNotFound` (no such account of this client),
        :class:`LeaseRefused` (revoked, needs a reconnect, no consent, no token) and
        ``PlatformUnavailable`` (refresh impossible right now).
        """
        async with self._factory() as db:
            snap = await self._load(db, account_id, lock=False)
            if snap.account.client_id != client_id:
                raise AccountNotFound(account_id)
            _check_usable(snap.account, await db.get(Client, snap.account.client_id))
            if self._fresh(snap.access, utcnow()):
                return self._leased(snap, refreshed=False)
            seen = snap.access.ciphertext if snap.access is not None else None
        return await self.refresh(account_id, seen_ciphertext=seen)

    def _bind(self, read: _Read, account: Account, request: LeaseRequest) -> PublishGrant:
        """The request's grant, if it binds this caller to this account as it is now
        and its attempt is not over (as ``read`` in the lease's transaction; ``read`` is
        :meth:`_read` of asks that include ``request``, so its grant is verified there)."""
        if request.service != publisher_of(account.platform):
            raise LeaseForbidden(
                "wrong_platform", f"{request.service} may not lease {account.platform} accounts"
            )
        grant = read.grants[request.grant]
        if isinstance(grant, GrantError):
            raise LeaseForbidden(grant.code, grant.detail)
        if str(grant.account_id) != account.id or grant.platform != account.platform:
            raise LeaseForbidden("grant_invalid", "the publish grant is for another account")
        if request.post_id is not None and str(grant.post_id) != request.post_id:
            raise LeaseForbidden("grant_invalid", "the publish grant is for another post")
        if request.target_id is not None and str(grant.target_id) != request.target_id:
            raise LeaseForbidden("grant_invalid", "the publish grant is for another target")
        if str(grant.client_id) != account.client_id:
            raise LeaseForbidden(
                "not_owner", "the account no longer belongs to the client who queued this post"
            )
        over = read.spent.get(str(grant.target_id))
        if over is not None and grant.attempt <= over:
            logger.warning(
                "lease refused: service=%s account=%s target=%s attempt=%s refusal=grant_spent",
                request.service,
                account.id,
                grant.target_id,
                grant.attempt,
            )
            raise LeaseForbidden(
                "grant_spent",
                f"attempt {grant.attempt} of this target is over (published, cancelled, failed "
                "or dispatched again); only the current attempt's grant leases a token",
            )
        return grant

    async def channel_report(
        self, account_id: str, request: LeaseRequest, report: ChannelReport
    ) -> bool:
        """The publisher's word on an account's channel, bound like a lease (caller + grant).

        ``migrated``: Telegram moved the chat; the new id (and ``report.title``, the
        new chat's title, when given) is stored when the account still has the old id,
        so the dashboard names the channel the posts now go to. ``broken``: our bot
        may not post there any more; the account becomes ``needs_channel`` with
        ``report.reason`` (the fix) and
        ``accounts.v1`` says so (type ``needs_channel``, code ``channel_link_broken``;
        its posts wait until the client links a channel
        again). Answers whether anything changed. Raises :class:`AccountNotFound`,
        :class:`LeaseForbidden`.
        """
        changed = False
        async with self._factory() as db, db.begin():
            snap = await self._load(db, account_id, lock=True)
            account = snap.account
            self._bind(await self._read(db, [(account_id, request)]), account, request)
            if not _posts_to_channel(account) or account.channel_id != report.chat_id:
                return False
            if report.event == "migrated" and report.migrate_to_chat_id:
                account.channel_id = report.migrate_to_chat_id
                if report.title:
                    account.channel_title = report.title
                account.updated_at = utcnow()
                changed = True
            elif report.event == "broken" and account.status == "ok":
                account.status = NEEDS_CHANNEL
                account.status_reason = report.reason or (
                    "our bot can no longer post in the linked channel; link the channel again"
                )
                account.updated_at = utcnow()
                account_event(
                    db,
                    account,
                    NEEDS_CHANNEL,
                    reason=account.status_reason,
                    code=CHANNEL_LINK_BROKEN,
                )
                changed = True
        if changed:
            self._on_commit()
            logger.info(
                "account %s: channel %s reported by the publisher", account_id, report.event
            )
        return changed

    async def token_rejected(
        self, account_id: str, request: LeaseRequest, *, token_version: int
    ) -> bool:
        """The publisher's word that the platform refused the account's token even after a
        forced refresh (VK error 5, a second 401), bound like a lease (caller + grant).

        ``token_version``: the refused lease's :attr:`LeasedToken.token_version`. The account
        becomes ``reauth_required`` and ``accounts.v1`` says so, so the dashboard and
        ``GET /api/v1/accounts`` show what the queue's pause says (issue 10: one source of
        truth for an account's state). Answers whether anything changed: an account not
        ``ok`` is left as it is, and so is one whose tokens were stored again since that
        lease (a late report on a token the client replaced by reconnecting; logged).
        Raises :class:`AccountNotFound`, :class:`LeaseForbidden`.
        """
        async with self._factory() as db, db.begin():
            snap = await self._load(db, account_id, lock=True)
            self._bind(await self._read(db, [(account_id, request)]), snap.account, request)
            changed = _mark_rejected(db, snap.account, token_version)
        return self._told(changed, account_id)

    async def rejected_for_owner(
        self, account_id: str, client_id: str, *, token_version: int
    ) -> bool:
        """As :meth:`token_rejected`, for a read auth made itself on ``client_id``'s behalf
        (:meth:`for_owner`: TikTok's ``creator_info``) whose token the platform refused even
        after a forced refresh. Raises :class:`AccountNotFound` (not this client's)."""
        async with self._factory() as db, db.begin():
            snap = await self._load(db, account_id, lock=True)
            if snap.account.client_id != client_id:
                raise AccountNotFound(account_id)
            changed = _mark_rejected(db, snap.account, token_version)
        return self._told(changed, account_id)

    def _told(self, changed: bool, account_id: str) -> bool:
        """After a rejection's transaction committed: the relay's nudge when it changed."""
        if changed:
            self._on_commit()
            logger.warning("account %s needs reauthorisation (token rejected)", account_id)
        return changed

    async def refresh(
        self, account_id: str, *, force: bool = False, seen_ciphertext: str | None = None
    ) -> LeasedToken:
        """Refresh unless someone else just did; return the usable access token."""
        async with self._lock(account_id):
            dead: PlatformOAuthError | None = None
            async with self._factory() as db, db.begin():
                snap = await self._load(db, account_id, lock=True)
                now = utcnow()
                if snap.account.status != "ok":
                    raise LeaseRefused(snap.account.status, _refusal(snap.account))
                replaced = (
                    seen_ciphertext is not None
                    and snap.access is not None
                    and snap.access.ciphertext != seen_ciphertext
                )
                if self._fresh(snap.access, now) and (not force or replaced):
                    return self._leased(snap, refreshed=False)
                provider = self._providers.get(snap.account.platform)
                if provider is None:
                    raise LeaseRefused("no_token", "this platform has no token to lease")
                grant = StoredGrant(
                    access_token=self._open(snap.account, snap.access),
                    refresh_token=self._open(snap.account, snap.refresh),
                    device_id=snap.account.device_id,
                )
                try:
                    tokens = await provider.refresh(grant)
                except PlatformOAuthError as error:
                    if error.code not in DEAD_GRANT_ERRORS:
                        raise PlatformUnavailable(
                            f"{snap.account.platform} refused the refresh: {error.code}"
                        ) from None
                    dead = error
                    # The platform says the grant is dead: what we hold of it can never
                    # work again, and holding it would make a reconnect skip the consent
                    # that brings a new one (issue 11, item 4).
                    await db.execute(
                        delete(Token).where(
                            Token.account_id == account_id,
                            Token.kind.in_(
                                ("refresh", "access") if provider.self_renewing else ("refresh",)
                            ),
                        )
                    )
                    snap.account.status = "reauth_required"
                    snap.account.status_reason = (
                        f"{snap.account.platform} no longer accepts our access ({error.code}); "
                        "sign in again to reconnect"
                    )
                    snap.account.updated_at = now
                    account_event(
                        db,
                        snap.account,
                        "reauth_required",
                        reason=snap.account.status_reason,
                        code=error.code,
                    )
                else:
                    self.refresh_count += 1
                    await store_tokens(db, self._vault, snap.account, tokens, now)
                    snap.account.refreshed_at = now
                    snap.account.updated_at = now
                    if tokens.scopes is not None:
                        snap.account.scopes = " ".join(tokens.scopes)
                    await db.flush()
                    fresh = await self._load(db, account_id, lock=False)
                    leased = self._leased(fresh, refreshed=True)
            if dead is not None:
                self._on_commit()
                logger.warning("account %s needs reauthorisation (%s)", account_id, dead.code)
                raise LeaseRefused("reauth_required", _refusal(snap.account))
            return leased

    async def _load(self, db: AsyncSession, account_id: str, *, lock: bool) -> _Snapshot:
        try:
            uuid.UUID(account_id)
        except ValueError:
            raise AccountNotFound(account_id) from None
        query = select(Account).where(Account.id == account_id)
        if lock:
            query = query.with_for_update()
        account = (await db.execute(query)).scalar_one_or_none()
        if account is None:
            raise AccountNotFound(account_id)
        rows = (
            await db.scalars(
                select(Token)
                .where(Token.account_id == account_id)
                .execution_options(populate_existing=True)
            )
        ).all()
        by_kind = {t.kind: t for t in rows}
        return _Snapshot(
            account=account, access=by_kind.get("access"), refresh=by_kind.get("refresh")
        )

    def _open(self, account: Account, token: Token | None) -> str | None:
        return self._vault.open(account, token) if token is not None else None

    def _leased(self, snap: _Snapshot, *, refreshed: bool) -> LeasedToken:
        if snap.access is None:
            raise LeaseRefused("no_token", "this account has no access token to lease")
        expires_at = snap.access.expires_at or utcnow() + timedelta(days=3650)
        return LeasedToken(
            account_id=snap.account.id,
            platform=snap.account.platform,
            access_token=self._vault.open(snap.account, snap.access),
            expires_at=expires_at,
            scopes=snap.account.scope_list(),
            platform_user_id=snap.account.platform_user_id,
            refreshed=refreshed,
            token_version=snap.account.token_version,
        )

    @staticmethod
    async def _audit(db: AsyncSession, rows: list[dict[str, Any]]) -> None:
        """``lease_audit`` rows (:meth:`_Read.audit_row`), as one INSERT (not the ORM's unit
        of work at commit); none: nothing."""
        if rows:
            await db.execute(insert(LeaseAudit), rows)


__all__ = ["CHANNEL_LINK_BROKEN", "CHANNEL_NOT_LINKED"]  # their home is models; kept here too

CHANNEL_LEASE_LIFETIME = timedelta(minutes=5)
"""Short: a publisher's cached lease must not outlive a re-linked or migrated channel long."""


@dataclass(frozen=True, slots=True)
class ChannelReport:
    """What the publisher saw of an account's channel (see :meth:`TokenKeeper.channel_report`)."""

    event: Literal["migrated", "broken"]
    chat_id: str
    migrate_to_chat_id: str | None = None
    title: str | None = None
    """``migrated``: the new chat's title (``getChat``), when the publisher could read it."""
    reason: str | None = None


LeaseFailure = (
    AccountNotFound | LeaseForbidden | LeaseRefused | TokenDecryptionError | PlatformUnavailable
)
"""What a lease of one account may end in instead of a token."""
LEASE_FAILURES = (
    AccountNotFound,
    LeaseForbidden,
    LeaseRefused,
    TokenDecryptionError,
    PlatformUnavailable,
)


@dataclass(frozen=True, slots=True)
class _Read:
    """What leases of some accounts need, read in their transaction (:meth:`TokenKeeper._read`)."""

    accounts: dict[str, Account]
    tokens: dict[str, dict[str, Token]]  # account id → kind → token
    clients: dict[str, Client]
    grants: dict[str | None, PublishGrant | GrantError]  # raw grant → verified, or why not
    spent: dict[str, int]  # target id → the highest attempt over

    def snapshot(self, account: Account) -> _Snapshot:
        kinds = self.tokens.get(account.id, {})
        return _Snapshot(account=account, access=kinds.get("access"), refresh=kinds.get("refresh"))

    def audit_row(
        self, account_id: str, request: LeaseRequest, *, refreshed: bool
    ) -> dict[str, Any]:
        """The ``lease_audit`` row of a lease granted for ``request`` (its grant verified)."""
        account = self.accounts[account_id]
        grant = self.grants[request.grant]
        assert isinstance(grant, PublishGrant)
        return {
            "account_id": account.id,
            "client_id": account.client_id,
            "service": request.service,
            "post_id": str(grant.post_id),
            "target_id": str(grant.target_id),
            "refreshed": refreshed,
            "leased_at": utcnow(),
        }


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _check_usable(account: Account, client: Client | None) -> None:
    """Raise :class:`LeaseRefused` unless the account is ``ok`` and its client has given
    the 18+ confirmation and an email (``client``: the account's, None if gone)."""
    if account.status != "ok":
        raise LeaseRefused(account.status, _refusal(account))
    if client is None or client.adult_confirmed_at is None or not client.email:
        raise LeaseRefused(
            "consent_required",
            "the client has not yet confirmed being 18 or older and given an email",
        )


def _channel_lease(account: Account, client: Client | None) -> LeasedToken:
    """A widget account (Telegram) has no token: our bot posts to its linked channel.

    The lease says where (``destination``, the channel's chat id) once the
    channel is linked and the link holds; ``access_token`` is empty.
    """
    # needs_channel: the publisher found the link broken, or none was ever linked
    # (reauth_required: a row stored before needs_channel existed)
    if account.channel_id and account.status in (NEEDS_CHANNEL, "reauth_required"):
        raise LeaseRefused(CHANNEL_LINK_BROKEN, _refusal(account))
    if not account.channel_id and account.status in (NEEDS_CHANNEL, "ok"):
        raise LeaseRefused(CHANNEL_NOT_LINKED, CHANNEL_NOT_LINKED_REASON)
    _check_usable(account, client)
    return LeasedToken(
        account_id=account.id,
        platform=account.platform,
        access_token="",
        expires_at=utcnow() + CHANNEL_LEASE_LIFETIME,
        scopes=[],
        platform_user_id=account.platform_user_id,
        refreshed=False,
        destination=account.channel_id,
        language=client.language if client is not None and client.language in LANGUAGES else None,
    )


def _mark_rejected(db: AsyncSession, account: Account, token_version: int) -> bool:
    """Mark ``account`` (locked in ``db``'s transaction) ``reauth_required`` for a token the
    platform refused even after a refresh, with its ``accounts.v1`` event; False when it is
    not ``ok`` or its tokens were stored again since ``token_version`` (a stale report)."""
    if account.status != "ok":
        return False
    if token_version != account.token_version:
        logger.info(
            "account %s: token rejection ignored, stale (reported version %s, held %s)",
            account.id,
            token_version,
            account.token_version,
        )
        return False
    account.status = "reauth_required"
    account.status_reason = (
        f"{account.platform} no longer accepts our access (it refused the token even "
        "after a refresh); sign in again to reconnect"
    )
    account.updated_at = utcnow()
    account_event(db, account, "reauth_required", reason=account.status_reason)
    return True


def _posts_to_channel(account: Account) -> bool:
    """Whether the account posts through our bot to a linked channel (no token of its own)."""
    spec = platforms.find(account.platform)
    return spec is not None and spec.sign_in == "widget"


def _refusal(account: Account) -> str:
    if account.status == "revoked":
        return "the client disconnected this account"
    return account.status_reason or "the client must sign in again to reconnect this account"
