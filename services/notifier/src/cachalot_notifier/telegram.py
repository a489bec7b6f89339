"""A small Telegram Bot API client: ``sendMessage`` with retries, the token kept secret.

The bot token is part of every URL (``/bot<token>/sendMessage``), so:
* errors raised here are built from our own words, never from httpx's
  (whose messages and ``request`` carry the URL), and chained ``from None``;
* the httpx client is instrumented with redacted URLs (composition root);
* nothing here logs a URL.

Retries: network errors, timeouts, 5xx and answers that are not the Bot
API's JSON (a proxy's error page) back off exponentially with jitter; a
429 waits exactly ``parameters.retry_after``. Other ``{ok: false}`` answers
(bad request, forbidden, chat not found) are permanent and not retried.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from cachalot_notifier.formatting import ParseMode

logger = logging.getLogger(__name__)


class TelegramError(Exception):
    """A Bot API call failed; the message names the method and never the URL."""


class TelegramUnavailable(TelegramError):
    """Worth trying again: network trouble, a timeout, a 5xx, a proxy's page."""


class TelegramRateLimited(TelegramUnavailable):
    """429: Telegram says when to come back."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TelegramRejected(TelegramError):
    """A permanent ``{ok: false}``: retrying the same request cannot succeed."""

    def __init__(self, message: str, error_code: int, description: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.description = description

    @property
    def about_this_message(self) -> bool:
        """True when the text itself was refused (400 parse error, too long), so only
        this message is stuck; False for a bad token, chat or base URL, which stop
        every message until someone fixes the configuration."""
        return self.error_code == 400 and "chat" not in self.description.lower()


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    max_retry_after_s: float = 300.0


@dataclass(frozen=True)
class SentMessage:
    message_id: int
    chat_id: int | str


class TelegramBot:
    """One bot, talking to one Bot API host through a shared httpx client."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        api_base: str,
        token: SecretStr,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._client = client
        self._api_base = api_base.rstrip("/")
        self._token = token
        self._retry = retry or RetryPolicy()
        self._backoff = wait_exponential_jitter(
            initial=self._retry.backoff_initial_s,
            max=self._retry.backoff_max_s,
            jitter=self._retry.backoff_initial_s,
        )

    async def send_message(
        self, chat_id: int | str, text: str, *, parse_mode: ParseMode | None = None
    ) -> SentMessage:
        """Send ``text``; retried per the policy. Raises a :class:`TelegramError`."""
        payload: dict[str, Any] = {
            "chat_id": chat_id,
            "text": text,
            "link_preview_options": {"is_disabled": True},
        }
        if parse_mode:
            payload["parse_mode"] = parse_mode
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(TelegramUnavailable),
            stop=stop_after_attempt(self._retry.max_attempts),
            wait=self._wait,
            before_sleep=self._log_retry,
            reraise=True,
        )
        result: dict[str, Any] = {}
        async for attempt in retrying:
            with attempt:
                result = await self.call("sendMessage", payload)
        chat = result.get("chat", {})
        return SentMessage(message_id=int(result["message_id"]), chat_id=chat.get("id", chat_id))

    async def call(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        """One Bot API call, no retries: the ``result`` or a :class:`TelegramError`."""
        url = f"{self._api_base}/bot{self._token.get_secret_value()}/{method}"
        try:
            response = await self._client.post(url, json=payload)
        except httpx.TimeoutException as error:
            raise TelegramUnavailable(f"{method}: timed out ({type(error).__name__})") from None
        except httpx.HTTPError as error:
            raise TelegramUnavailable(f"{method}: network error ({type(error).__name__})") from None
        return _result(method, response)

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, TelegramRateLimited):
            return min(error.retry_after, self._retry.max_retry_after_s)
        return float(self._backoff(state))

    @staticmethod
    def _log_retry(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        logger.warning(
            "telegram call failed (attempt %d): %s; retrying in %.2fs",
            state.attempt_number,
            error,
            wait,
        )


def _result(method: str, response: httpx.Response) -> dict[str, Any]:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "ok" not in body:
        message = f"{method}: HTTP {status} without a Bot API answer"
        if status >= 500 or status in (408, 429):
            raise TelegramUnavailable(message)
        raise TelegramRejected(message, status, f"HTTP {status}")
    if body["ok"] is True:
        result = body.get("result")
        if not isinstance(result, dict):
            raise TelegramUnavailable(f"{method}: HTTP {status} with no result")
        return result
    code = int(body.get("error_code") or status)
    description = str(body.get("description") or "no description")
    message = f"{method}: {code} {description}"
    parameters = body.get("parameters") or {}
    if code == 429:
        retry_after = float(parameters.get("retry_after") or 1)
        raise TelegramRateLimited(message, retry_after)
    if code >= 500:
        raise TelegramUnavailable(message)
    raise TelegramRejected(message, code, description)
