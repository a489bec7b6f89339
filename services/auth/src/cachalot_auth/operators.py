"""Operators: Telegram sign-in for listed people, their revocable sessions, the clients view.

An operator signs in with the Telegram Login Widget (the same verification
as a client's Telegram sign-in, :func:`~cachalot_auth.providers.telegram.verify_widget`:
the hash over every field received, and freshness), and only when the
Telegram user id is in ``CACHALOT_OPERATOR_TELEGRAM_IDS`` (DESIGN.md "Roles").
A person who is not listed is refused (:class:`NotAnOperator`) and nothing is
kept of them: no session, no client.

The session is a ``role="operator"`` session token (cachalot_common.sessions),
so no client endpoint accepts it and no operator endpoint accepts a client's.
It is kept in ``operator_sessions`` and ends like a client's: logout revokes
the row and tells every service through ``sessions.v1`` (type ``revoked``,
keyed by the operator's id).

The operator sees clients (name, e-mail, accounts and their status) and never
a token: :func:`client_view` names every field it gives.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_auth.models import Account, Client, OperatorSessionRow, utcnow
from cachalot_auth.outbox import session_event
from cachalot_auth.providers.base import PlatformOAuthError
from cachalot_auth.providers.telegram import TelegramUser, verify_widget
from cachalot_auth.signin import SignInFailed, SignInService
from cachalot_common.sessions import Session, issue_session

PURPOSE = "operator"
"""The attempt's platform name: its binding cookie and callback are the operator's own."""
NAMESPACE = uuid.UUID("6c1d1f0e-4b0a-5d6e-9a51-0c0a1a707e12")
"""Operator ids are ``uuid5(NAMESPACE, "telegram:<user id>")``: stable, no table needed."""


def operator_id(telegram_user_id: str) -> uuid.UUID:
    """The operator id of a Telegram user (the ``sub`` of its operator session)."""
    return uuid.uuid5(NAMESPACE, f"telegram:{telegram_user_id}")


class NotAnOperator(Exception):
    """A genuine Telegram sign-in by a person not in ``CACHALOT_OPERATOR_TELEGRAM_IDS``
    (``telegram_user_id``: theirs, verified, which an administrator would add)."""

    def __init__(self, telegram_user_id: str) -> None:
        super().__init__(telegram_user_id)
        self.telegram_user_id = telegram_user_id


class NotSignedIn(Exception):
    """No live operator session."""


@dataclass(frozen=True, slots=True)
class OperatorSignedIn:
    token: str
    session: Session
    next_path: str


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


UNNAMED_CLIENT = "a client with no e-mail or account name"
"""The label of a client that gave no e-mail and whose accounts have no name (never its id)."""


def client_label(email: str | None, accounts: Sequence[Account]) -> str:
    """How a person knows the client, in the operator's Telegram messages and console alike.

    Clients give no name of their own, so: its e-mail, else the display name of its first
    connected account (oldest first), else :data:`UNNAMED_CLIENT`. Never an id or a token.
    """
    names = [a.display_name for a in accounts if a.display_name]
    return email or (names[0] if names else UNNAMED_CLIENT)


def client_view(client: Client, accounts: list[Account]) -> dict[str, Any]:
    """What an operator may see of a client: no token, nothing derived from one.

    ``name``: the display name of its first connected account (clients give no
    other name); ``label``: how the operator's messages name it (:func:`client_label`);
    ``accounts``: platform, display name, status and its reason.
    """
    names = [a.display_name for a in accounts if a.display_name]
    return {
        "client_id": client.id,
        "name": names[0] if names else None,
        "label": client_label(client.email, accounts),
        "email": client.email,
        "consent_given": bool(client.email and client.adult_confirmed_at),
        "created_at": _iso(client.created_at),
        "accounts": [
            {
                "id": a.id,
                "platform": a.platform,
                "display_name": a.display_name,
                "status": a.status,
                "status_reason": a.status_reason,
                "connected_at": _iso(a.connected_at),
            }
            for a in accounts
        ],
    }


class OperatorService:
    def __init__(
        self,
        *,
        factory: async_sessionmaker[AsyncSession],
        signin: SignInService,
        allowed_ids: frozenset[str],
        session_secret: str,
        session_lifetime_s: int,
        telegram_bot_token: str,
        telegram_max_age_s: int,
        on_commit: Callable[[], None],
    ) -> None:
        self._factory = factory
        self._signin = signin
        self._allowed = allowed_ids
        self._secret = session_secret
        self._lifetime_s = session_lifetime_s
        self._bot_token = telegram_bot_token
        self._max_age_s = telegram_max_age_s
        self._on_commit = on_commit

    async def start(self, *, next_path: str) -> tuple[str, str]:
        """A new sign-in attempt: the binding cookie value and the state for the widget."""
        return await self._signin.begin_widget(PURPOSE, next_path=next_path)

    async def finish(self, params: Mapping[str, str], *, cookie: str | None) -> OperatorSignedIn:
        """Verify the widget's data and the list; a new operator session.

        Raises :class:`SignInFailed` (binding or state wrong, data not signed by
        Telegram or too old) or :class:`NotAnOperator` (genuine, not listed):
        in both cases nothing is stored.
        """
        attempt = await self._signin.redeem(PURPOSE, params, cookie=cookie)
        try:
            user: TelegramUser = verify_widget(
                params, bot_token=self._bot_token, max_age_s=self._max_age_s
            )
        except PlatformOAuthError as error:
            raise SignInFailed("sign_in_failed", detail=error.code) from None
        if user.id not in self._allowed:
            raise NotAnOperator(user.id)
        token, session = issue_session(
            client_id=operator_id(user.id),
            secret=self._secret,
            lifetime_s=self._lifetime_s,
            role="operator",
            name=user.display_name,  # recorded beside their acts by the queue (issue 13)
        )
        async with self._factory() as db, db.begin():
            db.add(
                OperatorSessionRow(
                    id=session.session_id,
                    operator_id=str(session.client_id),
                    telegram_user_id=user.id,
                    display_name=user.display_name,
                    created_at=utcnow(),
                    expires_at=datetime.fromtimestamp(session.expires_at, UTC),
                )
            )
        return OperatorSignedIn(token=token, session=session, next_path=attempt.next_path)

    async def _row(self, db: AsyncSession, session: Session | None) -> OperatorSessionRow:
        if session is None or session.role != "operator":
            raise NotSignedIn()
        row = await db.get(OperatorSessionRow, session.session_id)
        if (
            row is None
            or row.revoked_at is not None
            or row.operator_id != str(session.client_id)
            or row.expires_at <= utcnow()
            or row.telegram_user_id not in self._allowed  # taken off the list: at once
        ):
            raise NotSignedIn()
        return row

    async def live(self, session: Session | None) -> Session | None:
        """``session`` while its row is unrevoked, unexpired and its person still listed."""
        async with self._factory() as db:
            try:
                await self._row(db, session)
            except NotSignedIn:
                return None
        return session

    async def me(self, session: Session) -> dict[str, Any]:
        """Who is signed in: operator id, Telegram user id and name. Raises :class:`NotSignedIn`."""
        async with self._factory() as db:
            row = await self._row(db, session)
            return {
                "operator_id": row.operator_id,
                "telegram_user_id": row.telegram_user_id,
                "display_name": row.display_name,
                "expires_at": _iso(row.expires_at),
            }

    async def logout(self, session: Session) -> None:
        """Revoke the session here and tell every service (``sessions.v1`` ``revoked``)."""
        async with self._factory() as db, db.begin():
            result = await db.execute(
                update(OperatorSessionRow)
                .where(
                    OperatorSessionRow.id == session.session_id,
                    OperatorSessionRow.revoked_at.is_(None),
                )
                .values(revoked_at=utcnow())
                .returning(OperatorSessionRow.expires_at)
            )
            row = result.first()
            if row is None:
                return
            session_event(
                db,
                "revoked",
                client_id=session.client_id,
                session_id=session.session_id,
                expires_at=row.expires_at,
            )
        self._on_commit()

    async def clients(self, *, limit: int = 500) -> list[dict[str, Any]]:
        """Every client (oldest first, at most ``limit``) as :func:`client_view` shows it."""
        async with self._factory() as db:
            clients = (
                await db.scalars(select(Client).order_by(Client.created_at, Client.id).limit(limit))
            ).all()
            ids = [c.id for c in clients]
            accounts: dict[str, list[Account]] = {i: [] for i in ids}
            if ids:
                for account in (
                    await db.scalars(
                        select(Account)
                        .where(Account.client_id.in_(ids))
                        .order_by(Account.created_at)
                    )
                ).all():
                    accounts[account.client_id].append(account)
            return [client_view(c, accounts[c.id]) for c in clients]
