"""The Bot API calls that post to a channel, with uploads streamed from the media store.

Every answer is ``{"ok": true, "result": ...}`` or ``{"ok": false,
"error_code", "description", "parameters"?}`` (core.telegram.org/bots/api,
"Making requests"). What an answer proves about the post matters here,
because a post cannot be looked up afterwards:

* a Bot API error answer (JSON ``ok: false``) or a proxy's 502/503 page:
  nothing was posted (``cachalot_common.telegram_api.BotApiError``, the model
  the notifier and auth read answers with: ``error_code``, ``description``,
  ``retry_after`` and ``migrate_to_chat_id`` from ``parameters``);
* no connection at all (``httpx.ConnectError``, a connect timeout): nothing
  was posted (:class:`NotSent`);
* anything else (the connection dropped or timed out after the request went
  out, an answer we cannot read): Telegram may have posted
  (:class:`OutcomeUnknown`).

Uploads are ``multipart/form-data`` streamed from the file in ``read_bytes``
reads (:mod:`cachalot_publishing.multipart`), with a ``Content-Length``, so
memory stays flat whatever the size; files are named ``attach://<name>``
in ``sendMediaGroup``'s ``media``. The bot token is in the URL path and
never in a log line or an exception (the ``httpx`` errors are reduced to
their type).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from cachalot_common.telegram_api import BotApiError, ChatWaits
from cachalot_publishing.multipart import MultipartBody, ProgressHook, UploadFile

__all__ = ["BotApi", "BotApiError", "MultipartBody", "NotSent", "OutcomeUnknown", "UploadFile"]


# not frozen: Python sets __traceback__ on an exception passing a @contextmanager
@dataclass(eq=False)
class NotSent(Exception):
    """Telegram was not reached; ``detail`` is the error's type."""

    detail: str


# not frozen: Python sets __traceback__ on an exception passing a @contextmanager
@dataclass(eq=False)
class OutcomeUnknown(Exception):
    """The request may have reached Telegram, but its answer was lost."""

    detail: str


class BotApi:
    """Calls of our bot; ``api_base`` is ``CACHALOT_TELEGRAM_API_BASE``.

    A 429 holds its chat for every post (``waits``,
    :class:`~cachalot_common.telegram_api.ChatWaits`; of every replica when the
    waits are shared through the database, as the composition root does): until
    ``retry_after`` has passed, a call naming that chat raises a held 429
    (``held=True``, the seconds left) without reaching Telegram.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_base: str,
        bot_token: str,
        read_bytes: int,
        waits: ChatWaits | None = None,
    ) -> None:
        self._http = http
        self._base = f"{api_base.rstrip('/')}/bot{bot_token}"
        self._read_bytes = read_bytes
        self._waits = waits or ChatWaits()

    async def call(self, method: str, params: Mapping[str, Any]) -> Any:
        """A call with a form body (objects JSON-encoded); the ``result`` of its answer."""
        data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
        async with self._waits.guard(method, params.get("chat_id")):
            return await self._send(method, lambda url: self._http.post(url, data=data))

    async def upload(
        self,
        method: str,
        params: Mapping[str, Any],
        files: Sequence[UploadFile],
        *,
        progress: ProgressHook | None = None,
    ) -> Any:
        """A call with files, ``multipart/form-data`` streamed from disk."""
        fields = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
        body = MultipartBody(fields, files, read_bytes=self._read_bytes)
        headers = {"Content-Type": body.content_type, "Content-Length": str(body.length)}
        async with self._waits.guard(method, params.get("chat_id")):
            return await self._send(
                method,
                lambda url: self._http.post(url, content=body.stream(progress), headers=headers),
            )

    async def _send(self, method: str, request: Callable[[str], Awaitable[httpx.Response]]) -> Any:
        try:
            response = await request(f"{self._base}/{method}")
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            raise NotSent(type(error).__name__) from None
        except httpx.HTTPError as error:
            raise OutcomeUnknown(type(error).__name__) from None
        return _result(method, response)


def _result(method: str, response: httpx.Response) -> Any:
    """``result`` of an ``ok: true`` answer; :class:`BotApiError` for an ``ok: false`` one or
    a proxy's 502/503 page (nothing posted); :class:`OutcomeUnknown` for any other answer."""
    error = BotApiError.from_response(method, response)
    if error is None:
        return response.json().get("result")
    if error.bot_api_answer or response.status_code in (502, 503):
        raise error
    raise OutcomeUnknown(f"HTTP {response.status_code} without a Bot API answer")
