"""The Telegram Bot API's answers, read the way core.telegram.org/bots/api documents them.

Every Bot API answer is a JSON object with ``ok``. ``ok: true`` carries
``result``; ``ok: false`` carries ``error_code`` (an HTTP-like status),
``description`` (human text, which Telegram may reword at any time) and,
sometimes, ``parameters``, a ResponseParameters object
(https://core.telegram.org/bots/api#responseparameters):

* ``retry_after`` (integer seconds): "in case of exceeding flood control,
  the number of seconds left to wait before the request can be repeated";
* ``migrate_to_chat_id`` (integer): "the group has been migrated to a
  supergroup with the specified identifier"; the request should be made
  again for that chat.

So errors are classified here by ``error_code`` and ``parameters``, never
by searching the description: :attr:`BotApiError.kind` is one of
:data:`BotApiErrorKind`. An answer that is not the Bot API's JSON (a proxy's
error page) is classified by its HTTP status. The ``Retry-After`` header (RFC 9110
§10.2.3: seconds or an HTTP-date, on a 429 or a 503, from Telegram or a proxy) stands
in for ``retry_after`` when ``parameters`` give none, rounded up to whole seconds.

Errors name the method, never the URL (it holds the bot token), so they are
safe to log and to raise ``from None``. Used by the notifier and by every
service that calls the Bot API (see ``publisher-telegram``)::

    response = await http.post(f"{base}/bot{token}/sendMessage", json=payload)
    result = bot_api_result("sendMessage", response)   # or raises BotApiError

A flood wait belongs to the chat, not to the request that met it: Telegram's
limits are per chat (core.telegram.org/bots/faq, "My bot is hitting limits":
about one message a second to a chat, 20 a minute to a group) and a call to
the chat before ``retry_after`` has passed is refused again, the wait made
longer. :class:`ChatWaits` keeps that rule for every caller: whatever
method, topic or post meets a 429, every later call naming the same chat is
held (refused here, without a request) until the wait is over, in every
replica of the service when the waits are shared (:class:`SharedChatWaits`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

import httpx

from cachalot_common.events import MAX_RETRY_AFTER_S
from cachalot_common.text import truncate
from cachalot_common.untrusted import retry_after_seconds

logger = logging.getLogger(__name__)

BotApiErrorKind = Literal[
    "rate_limited",
    "chat_migrated",
    "bad_request",
    "unauthorized",
    "forbidden",
    "not_found",
    "conflict",
    "server_error",
    "unexpected",
]
"""What an error means, from ``error_code`` and ``parameters``:

* ``rate_limited``: 429; repeat the request after :attr:`BotApiError.retry_after` s;
* ``chat_migrated``: 400 with ``migrate_to_chat_id``; repeat it for the new chat;
* ``bad_request``: other 400s: this request is wrong (its text, or the chat it names);
* ``unauthorized``: 401, the bot token is wrong or revoked;
* ``forbidden``: 403, the bot may not act in that chat (blocked by the user, kicked,
  not a member); the chat's people can change that, a retry alone cannot;
* ``not_found``: 404, no such method, or a malformed token in the path;
* ``conflict``: 409, another request conflicts (a second ``getUpdates``, a webhook);
* ``server_error``: 5xx, or 408: Telegram's side; worth repeating later;
* ``unexpected``: any other code.
"""

RETRYABLE_KINDS: frozenset[BotApiErrorKind] = frozenset(
    {"rate_limited", "server_error", "conflict"}
)


@dataclass(frozen=True, slots=True)
class ResponseParameters:
    """``parameters`` of an ``ok: false`` answer; ``None`` when Telegram left a field out."""

    retry_after: int | None = None
    migrate_to_chat_id: int | None = None

    @classmethod
    def parse(cls, value: Any) -> ResponseParameters:
        """Read the object; fields of the wrong type count as absent (never raises)."""
        if not isinstance(value, dict):
            return cls()
        return cls(
            retry_after=_wait_s(value.get("retry_after")),
            migrate_to_chat_id=_int(value.get("migrate_to_chat_id")),
        )

    def or_header(self, header: ResponseParameters) -> ResponseParameters:
        """These parameters, with the ``Retry-After`` header's wait when they give none
        (``parameters.retry_after`` wins when both are given)."""
        if self.retry_after is not None or header.retry_after is None:
            return self
        return replace(self, retry_after=header.retry_after)


class BotApiError(Exception):
    """An ``ok: false`` answer (or a non-Bot-API error page) of one Bot API method.

    ``str()`` is ``"<method>: <error_code> <description>"``: no URL, no token.
    """

    def __init__(
        self,
        method: str,
        *,
        http_status: int,
        error_code: int,
        description: str,
        parameters: ResponseParameters | None = None,
        bot_api_answer: bool = True,
        held: bool = False,
    ) -> None:
        super().__init__(f"{method}: {error_code} {description}")
        self.method = method
        self.http_status = http_status
        self.error_code = error_code
        self.description = description
        self.parameters = parameters or ResponseParameters()
        self.bot_api_answer = bot_api_answer
        """False when the answer was not the Bot API's JSON (a proxy's page)."""
        self.held = held
        """True when no request was made: the chat still owes a flood wait (:class:`ChatWaits`)."""

    @property
    def retry_after(self) -> int | None:
        """Whole seconds to wait before repeating the request, if said: ``parameters.retry_after``
        (a 429), else the ``Retry-After`` header (a 429 or a 503, RFC 9110 §10.2.3)."""
        return self.parameters.retry_after

    @property
    def migrate_to_chat_id(self) -> int | None:
        """The supergroup the addressed group became, if Telegram said so."""
        return self.parameters.migrate_to_chat_id

    @property
    def kind(self) -> BotApiErrorKind:
        """The class of the error from ``error_code`` + ``parameters`` (see the module)."""
        code = self.error_code
        if code == 429:
            return "rate_limited"
        if self.parameters.migrate_to_chat_id is not None:
            return "chat_migrated"
        if code >= 500 or code == 408:
            return "server_error"
        return _KIND_BY_CODE.get(code, "unexpected")

    @property
    def retryable(self) -> bool:
        """True when the same request may succeed later without anyone changing anything."""
        return self.kind in RETRYABLE_KINDS

    @classmethod
    def from_response(cls, method: str, response: httpx.Response) -> BotApiError | None:
        """The error ``response`` carries, or ``None`` for an ``ok: true`` answer."""
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        waited = retry_after_seconds(response.headers.get("retry-after"))
        header = ResponseParameters(retry_after=None if waited is None else math.ceil(waited))
        if not isinstance(body, dict) or not isinstance(body.get("ok"), bool):
            return cls(
                method,
                http_status=status,
                error_code=status if status >= 400 else 502,
                description=f"HTTP {status} without a Bot API answer",
                parameters=header,
                bot_api_answer=False,
            )
        if body["ok"]:
            return None
        code = _int(body.get("error_code"))
        description = body.get("description")
        return cls(
            method,
            http_status=status,
            error_code=code if code is not None and code >= 400 else max(status, 400),
            description=truncate(str(description), 500) if description else "no description",
            parameters=ResponseParameters.parse(body.get("parameters")).or_header(header),
        )


class BotApiUnreachable(Exception):
    """No answer at all: a network error or a timeout. Worth repeating; no URL in the text.

    ``may_have_arrived``: False only when the request cannot have reached Telegram
    (no connection was made: ``httpx.ConnectError``, ``ConnectTimeout``, ``PoolTimeout``);
    after a read timeout or a dropped connection Telegram may have acted on it.
    """

    def __init__(self, method: str, reason: str, *, may_have_arrived: bool = True) -> None:
        super().__init__(f"{method}: {reason}")
        self.method = method
        self.reason = reason
        self.may_have_arrived = may_have_arrived


_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def may_post(member: Mapping[str, object]) -> bool:
    """Whether a ``getChatMember`` answer lets its person (or bot) post in a channel: the
    creator, or an administrator with ``can_post_messages`` (Bot API, ChatMemberOwner and
    ChatMemberAdministrator: "True, if the administrator can post messages in the channel");
    a member, one who left or was banned cannot. Auth checks it when a channel is linked,
    publisher-telegram again before posting."""
    status = member.get("status")
    return status == "creator" or (
        status == "administrator" and member.get("can_post_messages") is True
    )


def bot_api_result(method: str, response: httpx.Response) -> Any:
    """The ``result`` of an ``ok: true`` answer; raises :class:`BotApiError` otherwise."""
    error = BotApiError.from_response(method, response)
    if error is not None:
        raise error
    return response.json().get("result")


class SharedChatWaits(Protocol):
    """Where the replicas of one service keep the chats' waits (epoch seconds), so a wait
    one replica met holds the others too (:class:`cachalot_common.chat_waits.SqlChatWaits`)."""

    async def until(self, chat: str) -> float | None:
        """When ``chat``'s recorded wait ends (epoch seconds); None: never recorded."""
        ...

    async def hold(self, chat: str, until: float) -> None:
        """Record that ``chat`` waits until ``until``; a later recorded end is kept."""
        ...


class ChatWaits:
    """The flood waits Telegram asked of each chat, for one bot; shared by all its callers.

    Use :meth:`guard` around every call that names a chat (``chat_id``)::

        async with waits.guard("sendMessage", chat_id):
            result = bot_api_result("sendMessage", await http.post(url, json=payload))

    * before the call: if the chat still owes a wait, :class:`BotApiError`
      (429, ``held=True``, ``retry_after`` = the whole seconds left) is
      raised and no request is made;
    * a 429 from the call: the chat waits ``retry_after`` seconds from now
      (a 429 without one: nothing is recorded; the caller backs off).

    ``clock`` is epoch seconds (``time.time`` unless a test drives time);
    ``scale`` multiplies Telegram's ``retry_after`` the way the caller does
    when a test shortens waits (``CACHALOT_TELEGRAM_RETRY_AFTER_SCALE``), so
    the wait held here and the caller's own wait stay one: a held error's
    ``retry_after`` is in Telegram's (unscaled) seconds. Chats are told
    apart by ``str(chat_id)``.

    ``shared`` (:class:`SharedChatWaits`, the service's database) makes a wait
    one replica met hold every replica: a wait learnt is also recorded there, and
    a chat this process knows no wait for is looked up there before each call
    (one read). A failure to read it propagates (no call is made); a failure to
    record it is logged, and the wait is still held here. Without ``shared`` a
    wait holds this process only.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        scale: float = 1.0,
        shared: SharedChatWaits | None = None,
    ) -> None:
        if scale <= 0:
            raise ValueError("scale must be positive")
        self._clock = clock
        self._scale = scale
        self._shared = shared
        self._until: dict[str, float] = {}

    def left(self, chat_id: object) -> float:
        """Seconds (of the clock) the chat must still wait, as this process knows; 0 when none."""
        key = str(chat_id)
        until = self._until.get(key)
        if until is None:
            return 0.0
        left = until - self._clock()
        if left <= 0:
            del self._until[key]
            return 0.0
        return left

    async def check(self, method: str, chat_id: object) -> None:
        """Raise the chat's remaining wait as a held 429; return when it owes none.

        Reads ``shared`` unless this process already holds the chat."""
        if self._shared is not None and self.left(chat_id) <= 0:
            until = await self._shared.until(str(chat_id))
            if until is not None and until > self._clock():
                self._hold(str(chat_id), until)
        left = self.left(chat_id)
        if left <= 0:
            return
        seconds = max(1, math.ceil(left / self._scale - 1e-9))  # 3.3 / 0.02 is not 165
        raise BotApiError(
            method,
            http_status=429,
            error_code=429,
            description=f"Too Many Requests: the chat still waits {seconds} s; not sent",
            parameters=ResponseParameters(retry_after=seconds),
            bot_api_answer=False,
            held=True,
        )

    async def learn(self, chat_id: object, error: BotApiError) -> None:
        """Record the wait a 429 for ``chat_id`` asked for (other errors: nothing); never raises."""
        if error.held or error.kind != "rate_limited" or error.retry_after is None:
            return
        until = self._clock() + error.retry_after * self._scale
        key = str(chat_id)
        self._hold(key, until)
        if self._shared is not None:
            try:
                await self._shared.hold(key, until)
            except Exception:  # the 429 is what the caller must see, not the database's error
                logger.warning(
                    "could not record chat %s's wait for the other replicas", key, exc_info=True
                )

    def _hold(self, key: str, until: float) -> None:
        self._until[key] = max(until, self._until.get(key, until))

    @contextlib.asynccontextmanager
    async def guard(self, method: str, chat_id: object | None) -> AsyncIterator[None]:
        """:meth:`check` before the block, :meth:`learn` from a :class:`BotApiError` it raises.

        ``chat_id`` None (a call naming no chat): no check, nothing learnt.
        """
        if chat_id is None:
            yield
            return
        await self.check(method, chat_id)
        try:
            yield
        except BotApiError as error:
            await self.learn(chat_id, error)
            raise


async def call_bot_api(
    client: httpx.AsyncClient,
    url: str,
    method: str,
    *,
    json: dict[str, Any] | None = None,
    data: dict[str, str] | None = None,
    waits: ChatWaits | None = None,
) -> Any:
    """POST one Bot API call (no retries): its ``result``.

    ``url`` is the method's full URL (it holds the token and is never
    shown). With ``waits``, a call whose body names a ``chat_id`` keeps that
    chat's flood wait (:class:`ChatWaits`). Raises :class:`BotApiUnreachable`
    (network error, timeout) or :class:`BotApiError` (a held 429 included),
    both chained ``from None`` so no httpx text (which holds the URL) travels
    with them.
    """
    body: dict[str, Any] = json if json is not None else dict(data or {})
    chat_id = body.get("chat_id") if waits is not None else None
    async with waits.guard(method, chat_id) if waits is not None else contextlib.nullcontext():
        try:
            response = await client.post(url, json=json, data=data)
        except httpx.TimeoutException as error:
            raise BotApiUnreachable(
                method,
                f"timed out ({type(error).__name__})",
                may_have_arrived=not isinstance(error, _NEVER_SENT),
            ) from None
        except httpx.HTTPError as error:
            raise BotApiUnreachable(
                method,
                f"network error ({type(error).__name__})",
                may_have_arrived=not isinstance(error, _NEVER_SENT),
            ) from None
        return bot_api_result(method, response)


_KIND_BY_CODE: dict[int, BotApiErrorKind] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
}


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _non_negative_int(value: Any) -> int | None:
    number = _int(value)
    return number if number is not None and number >= 0 else None


def _wait_s(value: Any) -> int | None:
    """A non-negative whole-second wait, read as at most ``MAX_RETRY_AFTER_S`` (a week), as
    every ``Retry-After`` is (10¹² held a chat for millennia; 10⁴⁰⁰ overflowed ``learn``)."""
    number = _non_negative_int(value)
    return None if number is None else min(number, int(MAX_RETRY_AFTER_S))
