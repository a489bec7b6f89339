"""What the notifier needs from auth to write to a client, and the policy versions.

* :meth:`ClientNotices.contact`: a client's e-mail address and language, for
  the notifier only (``GET /internal/v1/clients/{id}/contact``, service JWT).
  The address stays here, the one copy: the notifier asks when it sends, so a
  changed address is used at once and an erased client is not written to.
  Nothing here logs an address.
* :meth:`ClientNotices.publish_policy`: the operator publishes a privacy-policy
  version; in one transaction the version is recorded (its primary key
  refuses a second publication) and one ``notify.v1``
  ``ClientNoticeRequested`` per client with an active OAuth account (and an
  address: one who never gave one cannot be written to) goes into
  the outbox (client id and version only, never the address). The notifier
  sends one e-mail per (version, client) whatever the redeliveries.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_auth.models import Account, Client, OutboxMessage, PolicyVersion, utcnow
from cachalot_auth.operators import client_label
from cachalot_common import topics
from cachalot_common.events import ClientNoticeRequested

ACTIVE_ACCOUNT_STATES = ("ok", "reauth_required", "needs_channel")
"""An OAuth account still held for the client: connected, or waiting for a reconnect
(not ``revoked``/``deleted``). The privacy policy promises the e-mail to these clients."""
LANGUAGES = ("en", "ru")


class PolicyVersionExists(Exception):
    """This version was published before; it is announced once."""


@dataclass(frozen=True)
class Contact:
    """``label``: how the operator knows the client (``operators.client_label``)."""

    email: str | None
    language: str | None
    label: str


@dataclass(frozen=True)
class Published:
    """A published policy version; ``recipients``: the clients one e-mail each was
    requested for (an active OAuth account and an address) when it was published."""

    version: str
    url: str | None
    summary: str | None
    published_at: datetime
    recipients: int


class ClientNotices:
    def __init__(
        self, *, factory: async_sessionmaker[AsyncSession], on_commit: Callable[[], None]
    ) -> None:
        self._factory = factory
        self._on_commit = on_commit

    async def contact(self, client_id: str) -> Contact | None:
        """The client's address, language and label; None when no such client (erased)."""
        try:
            uuid.UUID(client_id)
        except ValueError:
            return None
        async with self._factory() as db:
            client = await db.get(Client, client_id)
            if client is None:
                return None
            language = client.language if client.language in LANGUAGES else None
            accounts = (
                await db.scalars(
                    select(Account)
                    .where(Account.client_id == client.id)
                    .order_by(Account.created_at)
                )
            ).all()
            label = client_label(client.email, accounts)
            return Contact(email=client.email, language=language, label=label)

    async def policy_versions(self) -> list[Published]:
        """Every published policy version, newest first (the operator page's list)."""
        async with self._factory() as db:
            rows = await db.scalars(
                select(PolicyVersion).order_by(
                    PolicyVersion.published_at.desc(), PolicyVersion.version.desc()
                )
            )
            return [
                Published(
                    version=r.version,
                    url=r.url,
                    summary=r.summary,
                    published_at=r.published_at,
                    recipients=r.recipients,
                )
                for r in rows
            ]

    async def publish_policy(
        self,
        *,
        version: str,
        url: str | None,
        operator_id: uuid.UUID,
        summary: str | None = None,
    ) -> Published:
        """Record ``version`` (with the operator's ``summary`` of what changed, ≤ 500
        characters) and announce it to every client with an active OAuth account.

        Raises :class:`PolicyVersionExists` when ``version`` was published before.
        """
        async with self._factory() as db:
            try:
                async with db.begin():
                    if await db.get(PolicyVersion, version) is not None:
                        raise PolicyVersionExists(version)
                    clients = (
                        await db.scalars(
                            select(Account.client_id)
                            .join(Client, Client.id == Account.client_id)
                            .where(
                                Account.status.in_(ACTIVE_ACCOUNT_STATES),
                                Client.email.is_not(None),  # no address, no e-mail to send
                            )
                            .distinct()
                            .order_by(Account.client_id)
                        )
                    ).all()
                    now = utcnow()
                    db.add(
                        PolicyVersion(
                            version=version,
                            url=url,
                            summary=summary,
                            published_at=now,
                            published_by=str(operator_id),
                            recipients=len(clients),
                        )
                    )
                    await db.flush()  # the version's key first: a racing publication stops here
                    for client_id in clients:
                        event = ClientNoticeRequested(
                            client_id=uuid.UUID(client_id),
                            notice="policy_changed",
                            policy_version=version,
                            policy_url=url,
                            policy_summary=summary,
                        )
                        db.add(
                            OutboxMessage(
                                topic=topics.NOTIFY, key=client_id, payload=event.model_dump_json()
                            )
                        )
            except IntegrityError:
                raise PolicyVersionExists(version) from None
        self._on_commit()
        return Published(
            version=version,
            url=url,
            summary=summary,
            published_at=now,
            recipients=len(clients),
        )
