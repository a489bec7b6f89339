"""Sign-in: start an attempt, finish it, connect the account to a client.

Which client a sign-in lands in (issue 8 item 2: "a re-assigned account
never inherits another client's work"):

* An account *held* by a client is one whose status is ``ok`` or
  ``reauth_required`` (:data:`HELD_STATUSES`): its owner has not given it up.
  A ``reauth_required`` account is still its owner's: signing in with it
  again reconnects it to that same client.
* Without a live session, a sign-in through a held account is a sign-in to
  its client. Through any other account (``revoked``: the client
  disconnected it; or a platform user we do not know, which includes every
  account of an erased client, whose rows are deleted) it starts a NEW
  client, which has to give its own 18+ consent. A disconnected account is
  never a credential into the client that disconnected it.
* With a live session, the account joins the signed-in client; if another
  client holds it the sign-in is refused (``account_in_use``).
* An account row that changes client starts over as a fresh connection: its
  old tokens, device id and Telegram channel are dropped before the new
  tokens are stored, and an ``accounts.v1`` event (``connected``, or
  ``reauth_required`` when permissions are missing) names the new client,
  so the queue cancels the old client's waiting targets on it
  (``account_reassigned``).

The same rule holds for the Telegram Login Widget. Tokens are sealed before
they touch the database, a held refresh token is never replaced by an empty
one, and the event is written in the same transaction.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from authlib.common.security import generate_token
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_auth.browser_binding import Attempt, AttemptSigner, BindingError, state_hash
from cachalot_auth.custody import TokenVault
from cachalot_auth.models import (
    CHANNEL_NOT_LINKED,
    CHANNEL_NOT_LINKED_REASON,
    NEEDS_CHANNEL,
    Account,
    Client,
    OAuthAttempt,
    SessionRow,
    Token,
    utcnow,
)
from cachalot_auth.outbox import account_event
from cachalot_auth.providers.base import (
    Identity,
    Pkce,
    PlatformOAuthError,
    PlatformUnavailable,
    Provider,
    TokenSet,
    make_pkce,
)
from cachalot_auth.providers.telegram import verify_widget
from cachalot_common import platforms
from cachalot_common.events import ACCOUNT_NAME_MAX_CHARS
from cachalot_common.sessions import Session, issue_session
from cachalot_common.text import truncate
from cachalot_common.untrusted import same_secret

logger = logging.getLogger(__name__)

HELD_STATUSES = frozenset({"ok", "reauth_required", NEEDS_CHANNEL})
"""Account statuses in which the account still belongs to its client (see the module doc)."""

CallbackUrl = Callable[[str], str]
OnCommit = Callable[[], None]


class SignInFailed(Exception):
    """Sign-in ended without a connected account; ``code`` says why."""

    def __init__(self, code: str, *, detail: str = "", missing: list[str] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail
        self.missing = missing or []


class SignInNotSetUp(Exception):
    """The registry's sign-in for ``label``'s platform is OAuth, and this auth has no OAuth
    client for it (a platform not yet wired here, or its client left out)."""

    def __init__(self, label: str) -> None:
        super().__init__(f"no OAuth client for {label}")
        self.label = label


class ConsentAgain(Exception):
    """Send the browser to ``url`` (the platform's consent page, asking again) with the
    new attempt's binding cookie ``binding``: the first exchange brought no refresh
    token (issue 11, item 4)."""

    def __init__(self, url: str, binding: str) -> None:
        super().__init__("consent again")
        self.url = url
        self.binding = binding


@dataclass(slots=True)
class SignedIn:
    client_id: str
    account_id: str
    next_path: str
    session_token: str | None = None
    session: Session | None = None
    missing: list[str] = field(default_factory=list)


class SignInService:
    def __init__(
        self,
        *,
        factory: async_sessionmaker[AsyncSession],
        vault: TokenVault,
        providers: Mapping[str, Provider],
        signer: AttemptSigner,
        session_secret: str,
        session_lifetime_s: int,
        callback_url: CallbackUrl,
        telegram_bot_token: str,
        telegram_max_age_s: int,
        on_commit: OnCommit,
    ) -> None:
        self._factory = factory
        self._vault = vault
        self._providers = providers
        self._signer = signer
        self._session_secret = session_secret
        self._session_lifetime_s = session_lifetime_s
        self._callback_url = callback_url
        self._bot_token = telegram_bot_token
        self._telegram_max_age_s = telegram_max_age_s
        self._on_commit = on_commit

    # --- start -----------------------------------------------------------------------

    async def start(self, platform: str, *, next_path: str) -> tuple[str | None, str, str]:
        """The consent URL (None for Telegram's widget), the binding cookie value, the state.

        Every sign-in is one the person started in the browser, so it always asks
        for consent again (``reconsent``) and must bring a new refresh token
        (:meth:`finish`): a stored refresh token may have died at the platform
        without our knowing (revoked there, or unused for Google's six months),
        so holding one proves nothing (issue 11 item 4, fresh11c). The rule comes
        from Google's "Using OAuth 2.0 for Web Server Applications": a refresh
        token is issued only with ``access_type=offline``, and then only the first
        time the person grants the app, unless ``prompt=consent`` asks again. The
        other platforms issue one at every code exchange (TikTok's and VK ID's
        token answers always carry ``refresh_token``; Instagram has none, its token
        renews itself), and their consent URLs ignore ``reconsent``.
        """
        return await self._begin(platform, next_path=next_path, reconsent=True)

    async def _begin(
        self,
        platform: str,
        *,
        next_path: str,
        reconsent: bool,
        login_hint: str | None = None,
        reconsented: bool = False,
    ) -> tuple[str | None, str, str]:
        """Record a new single-use attempt; its consent URL, binding cookie value and state.
        Raises :class:`SignInNotSetUp` for an OAuth platform with no client here (nothing
        recorded)."""
        state = generate_token(43)
        pkce: Pkce | None = None
        provider = self._providers.get(platform)
        spec = platforms.find(platform)  # None: a widget purpose such as ``operator``
        if provider is None and spec is not None and spec.sign_in == "oauth":
            raise SignInNotSetUp(spec.label)
        if provider is not None and provider.uses_pkce:
            pkce = make_pkce(provider.pkce_encoding)
        async with self._factory() as db, db.begin():
            # attempts older than a day can never be finished: forget them as we go
            await db.execute(
                delete(OAuthAttempt).where(OAuthAttempt.created_at < utcnow() - timedelta(days=1))
            )
            db.add(OAuthAttempt(state_hash=state_hash(state), platform=platform))
        attempt = Attempt(
            platform=platform,
            state=state,
            verifier=pkce.verifier if pkce else None,
            next_path=next_path,
            reconsented=reconsented,
        )
        url = None
        if provider is not None:
            url = provider.authorize_url(
                state=state,
                pkce=pkce,
                redirect_uri=self._callback_url(platform),
                reconsent=reconsent,
                login_hint=login_hint,
            )
        return url, self._signer.dump(attempt), state

    # --- finish ----------------------------------------------------------------------

    async def finish(
        self,
        platform: str,
        params: Mapping[str, str],
        *,
        cookie: str | None,
        current: Session | None,
    ) -> SignedIn:
        attempt = await self.redeem(platform, params, cookie=cookie)
        if params.get("error"):
            reason = params["error"] if params["error"] == "access_denied" else "sign_in_failed"
            raise SignInFailed(reason, detail=truncate(params["error"], 64))
        if platforms.get(platform).sign_in == "widget":
            return await self._finish_telegram(params, attempt, current)
        provider = self._providers[platform]
        code = params.get("code")
        if not code:
            raise SignInFailed("code_missing")
        pkce = None
        if attempt.verifier:
            pkce = Pkce(verifier=attempt.verifier, challenge="")
        redirect_uri = self._callback_url(platform)
        try:
            tokens = await provider.exchange(
                code=code, pkce=pkce, redirect_uri=redirect_uri, params=params
            )
            identity = await provider.identity(tokens)
        except PlatformOAuthError as error:
            logger.info("%s sign-in refused: %s", platform, error.code)
            raise SignInFailed("sign_in_failed", detail=error.code) from None
        except PlatformUnavailable:
            raise SignInFailed("platform_unavailable") from None
        if not provider.self_renewing and not tokens.refresh_token:
            await self._consent_again(platform, identity, attempt)
        granted = (
            list(tokens.scopes) if tokens.scopes is not None else list(provider.required_scopes)
        )
        missing = [s for s in provider.required_scopes if s not in granted]
        return await self._connect(
            platform,
            identity,
            tokens,
            granted,
            missing,
            attempt,
            current,
            device_id=tokens.extra.get("device_id"),
        )

    async def _consent_again(self, platform: str, identity: Identity, attempt: Attempt) -> None:
        """The platform sent no refresh token (every sign-in must bring one: the one
        held may be dead, see :meth:`start`): raise :class:`ConsentAgain` to repeat
        the attempt asking for consent, for the same platform user; a repeat that
        still brings none fails (``no_refresh_token``) rather than connect an account
        whose refresh token may be dead, or that dies in an hour."""
        if attempt.reconsented:
            logger.warning("%s sent no refresh token even after consent", platform)
            raise SignInFailed("sign_in_failed", detail="no_refresh_token")
        logger.info("%s sent no refresh token: asking for consent again", platform)
        url, binding, _ = await self._begin(
            platform,
            next_path=attempt.next_path,
            reconsent=True,
            login_hint=identity.platform_user_id,
            reconsented=True,
        )
        assert url is not None  # only OAuth platforms get here
        raise ConsentAgain(url, binding)

    async def begin_widget(self, purpose: str, *, next_path: str) -> tuple[str, str]:
        """A new single-use Telegram Login Widget attempt for ``purpose`` (e.g. ``operator``):
        its binding cookie value and state (see :meth:`redeem`)."""
        _, binding, state = await self._begin(purpose, next_path=next_path, reconsent=False)
        return binding, state

    async def redeem(
        self, platform: str, params: Mapping[str, str], *, cookie: str | None
    ) -> Attempt:
        """The attempt this browser's binding ``cookie`` holds, once ``params``' state matches
        it; used up here (single use). Raises :class:`SignInFailed` (``state_missing``,
        ``state_expired``, ``state_invalid``, ``state_mismatch``, ``state_replayed``)."""
        try:
            attempt = self._signer.load(cookie, platform=platform)
        except BindingError as error:
            raise SignInFailed(error.code) from None
        if not same_secret(params.get("state"), attempt.state):
            raise SignInFailed("state_mismatch")
        await self._consume(attempt)
        return attempt

    async def _consume(self, attempt: Attempt) -> None:
        async with self._factory() as db, db.begin():
            done = await db.execute(
                update(OAuthAttempt)
                .where(
                    OAuthAttempt.state_hash == state_hash(attempt.state),
                    OAuthAttempt.platform == attempt.platform,
                    OAuthAttempt.consumed_at.is_(None),
                )
                .values(consumed_at=utcnow())
            )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise SignInFailed("state_replayed")

    async def _finish_telegram(
        self, params: Mapping[str, str], attempt: Attempt, current: Session | None
    ) -> SignedIn:
        try:
            user = verify_widget(
                params, bot_token=self._bot_token, max_age_s=self._telegram_max_age_s
            )
        except PlatformOAuthError as error:
            raise SignInFailed("sign_in_failed", detail=error.code) from None
        identity = Identity(platform_user_id=user.id, display_name=user.display_name)
        return await self._connect(attempt.platform, identity, None, [], [], attempt, current)

    async def _connect(
        self,
        platform: str,
        identity: Identity,
        tokens: TokenSet | None,
        granted: list[str],
        missing: list[str],
        attempt: Attempt,
        current: Session | None,
        *,
        device_id: str | None = None,
    ) -> SignedIn:
        now = utcnow()
        async with self._factory() as db, db.begin():
            client_id = await self._live_client(db, current)
            account = await db.scalar(
                select(Account)
                .where(
                    Account.platform == platform,
                    Account.platform_user_id == identity.platform_user_id,
                )
                .with_for_update()
            )
            held = account is not None and account.status in HELD_STATUSES
            if client_id is None and account is not None and held:
                client_id = account.client_id  # its owner signing in again
            elif client_id is None:
                # Nobody holds this account (new, or disconnected by its client): a new client,
                # never the one that disconnected it.
                client_id = str(uuid.uuid4())
                db.add(Client(id=client_id, created_at=now))
                await db.flush()
            elif account is not None and held and account.client_id != client_id:
                raise SignInFailed("account_in_use")
            moved = account is not None and account.client_id != client_id
            if account is not None and moved:
                await self._start_over(db, account, client_id)
            if account is None:
                account = Account(
                    id=str(uuid.uuid4()),
                    client_id=client_id,
                    platform=platform,
                    platform_user_id=identity.platform_user_id,
                    created_at=now,
                )
                db.add(account)
            # A channel link found broken stays so until the channel is linked again:
            # signing in proves who the person is, not that our bot may post there.
            # (reauth_required: a broken link stored before needs_channel existed)
            widget = platforms.get(platform).sign_in == "widget"
            link_broken = (
                not moved
                and widget
                and account.status in (NEEDS_CHANNEL, "reauth_required")
                and account.channel_id is not None
            )
            no_channel = widget and account.channel_id is None
            if identity.display_name:  # a platform's name may be longer than we keep
                account.display_name = truncate(identity.display_name, ACCOUNT_NAME_MAX_CHARS)
            account.scopes = " ".join(granted)
            if identity.communities is not None or moved:  # refreshed at every sign-in
                account.vk_communities = (
                    None
                    if identity.communities is None
                    else [c.model_dump() for c in identity.communities]
                )
            if link_broken:
                account.status = NEEDS_CHANNEL
            elif no_channel:
                account.status = NEEDS_CHANNEL
                account.status_reason = CHANNEL_NOT_LINKED_REASON
            else:
                account.status = "reauth_required" if missing else "ok"
                account.status_reason = (
                    f"missing permissions: {', '.join(missing)}" if missing else None
                )
            account.updated_at = now
            account.connected_at = now
            if device_id:
                account.device_id = device_id
            await db.flush()
            if tokens is not None:
                await self._store_tokens(db, account, tokens, now)
            if no_channel:  # the queue refuses posts to it until a channel is linked
                account_event(
                    db,
                    account,
                    NEEDS_CHANNEL,
                    reason=account.status_reason,
                    code=CHANNEL_NOT_LINKED,
                )
            elif not missing and not link_broken:
                account_event(db, account, "connected")
            elif moved:  # the queue must still learn that the account changed hands
                account_event(db, account, "reauth_required", reason=account.status_reason)
            session_token = None
            session = None
            if current is None or str(current.client_id) != client_id:
                session_token, session = issue_session(
                    client_id=uuid.UUID(client_id),
                    secret=self._session_secret,
                    lifetime_s=self._session_lifetime_s,
                )
                db.add(
                    SessionRow(
                        id=session.session_id,
                        client_id=client_id,
                        created_at=now,
                        expires_at=now + timedelta(seconds=self._session_lifetime_s),
                    )
                )
            account_id = account.id
        self._on_commit()
        return SignedIn(
            client_id=client_id,
            account_id=account_id,
            next_path=attempt.next_path,
            session_token=session_token,
            session=session,
            missing=missing,
        )

    async def _start_over(self, db: AsyncSession, account: Account, client_id: str) -> None:
        """Give ``account`` to ``client_id`` as a fresh connection: nothing of its old client's.

        Its tokens, device id and Telegram channel belonged to the old
        connection; the caller stores the new tokens and writes the event.
        """
        logger.info("account %s changes client: it starts over as a new connection", account.id)
        await db.execute(delete(Token).where(Token.account_id == account.id))
        account.client_id = client_id
        account.device_id = None
        account.channel_id = None
        account.channel_title = None
        account.refreshed_at = None

    async def _live_client(self, db: AsyncSession, current: Session | None) -> str | None:
        """The signed-in client, if the session is still live in our database."""
        if current is None:
            return None
        row = await db.get(SessionRow, current.session_id)
        if (
            row is None
            or row.revoked_at is not None
            or row.client_id != str(current.client_id)
            or row.expires_at <= utcnow()
        ):
            return None
        return row.client_id

    async def _store_tokens(
        self, db: AsyncSession, account: Account, tokens: TokenSet, now: datetime
    ) -> None:
        await store_tokens(db, self._vault, account, tokens, now)


async def store_tokens(
    db: AsyncSession, vault: TokenVault, account: Account, tokens: TokenSet, now: datetime
) -> None:
    """Seal and upsert the access token, and the refresh token when a new one came.

    An empty or absent refresh token never replaces a held one (Google sends
    none on re-consent), and both rows change in the caller's transaction,
    so a rotated refresh token is stored atomically with its access token.
    Bumps ``account.token_version`` (the version leases carry, so a publisher's
    report on a token stored before is told apart: :meth:`TokenKeeper.token_rejected`).
    """
    expires_at = now + timedelta(seconds=tokens.expires_in) if tokens.expires_in else None
    account.token_version = (account.token_version or 0) + 1
    await _upsert(db, vault, account, "access", tokens.access_token, expires_at, now)
    if tokens.refresh_token:
        await _upsert(db, vault, account, "refresh", tokens.refresh_token, None, now)


async def _upsert(
    db: AsyncSession,
    vault: TokenVault,
    account: Account,
    kind: str,
    plaintext: str,
    expires_at: datetime | None,
    now: datetime,
) -> None:
    sealed, version = vault.seal(account, kind, plaintext)
    row = await db.get(Token, (account.id, kind))
    if row is None:
        db.add(
            Token(
                account_id=account.id,
                kind=kind,
                ciphertext=sealed,
                key_version=version,
                expires_at=expires_at,
                issued_at=now,
            )
        )
    else:
        row.ciphertext = sealed
        row.key_version = version
        row.expires_at = expires_at
        row.issued_at = now
