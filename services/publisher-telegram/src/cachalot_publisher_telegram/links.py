"""What the publisher tells auth about an account's linked channel.

``POST {CACHALOT_AUTH_URL}/internal/v1/accounts/{account_id}/telegram-channel``
with ``Authorization: Bearer <service JWT>`` (publisher-telegram's, fresh per
request) and the command's publish grant, which binds the report to an
account this publisher is posting for right now (auth checks both, as for a
lease):

* ``{"event": "migrated", "chat_id", "migrate_to_chat_id", "title"?, "grant", ...}``:
  Telegram moved the chat (``migrate_to_chat_id``); auth stores the new id,
  and the new chat's title (``getChat``, sent when Telegram gave one), when the
  account still has the old id;
* ``{"event": "broken", "chat_id", "reason", "grant", ...}``: our bot may no
  longer post there; auth marks the account so (the client is told to link
  the channel again; its posts wait) and emits ``accounts.v1``.

Best effort: a report that fails is logged and the publish goes on (a
migration is met again and followed again on the next post).
"""

from __future__ import annotations

import logging
from typing import Protocol

import httpx

from cachalot_common.events import PublishPost
from cachalot_common.service_auth import mint_service_token

logger = logging.getLogger(__name__)


class ChannelReports(Protocol):
    async def migrated(
        self, command: PublishPost, *, old: str, new: str, title: str | None = None
    ) -> None: ...

    async def broken(self, command: PublishPost, *, chat_id: str, reason: str) -> None: ...


class AuthChannelReports:
    """:class:`ChannelReports` over auth's internal endpoint."""

    def __init__(
        self, http: httpx.AsyncClient, *, auth_url: str, service: str, secret: str
    ) -> None:
        self._http = http
        self._base = auth_url.rstrip("/")
        self._service = service
        self._secret = secret

    async def _report(self, command: PublishPost, body: dict[str, str | None]) -> None:
        token = mint_service_token(service=self._service, secret=self._secret)
        body |= {
            "grant": command.grant,
            "post_id": str(command.post_id),
            "target_id": str(command.target_id),
        }
        try:
            response = await self._http.post(
                f"{self._base}/internal/v1/accounts/{command.account_id}/telegram-channel",
                headers={"Authorization": f"Bearer {token}"},
                json=body,
                timeout=15.0,
            )
        except httpx.HTTPError as error:
            logger.warning(
                "channel report %s for account %s not delivered (%s)",
                body["event"],
                command.account_id,
                type(error).__name__,
            )
            return
        if response.status_code >= 300:
            logger.warning(
                "channel report %s for account %s refused by auth (%s)",
                body["event"],
                command.account_id,
                response.status_code,
            )

    async def migrated(
        self, command: PublishPost, *, old: str, new: str, title: str | None = None
    ) -> None:
        body: dict[str, str | None] = {"event": "migrated", "chat_id": old}
        body["migrate_to_chat_id"] = new
        if title:
            body["title"] = title
        await self._report(command, body)

    async def broken(self, command: PublishPost, *, chat_id: str, reason: str) -> None:
        await self._report(command, {"event": "broken", "chat_id": chat_id, "reason": reason})
