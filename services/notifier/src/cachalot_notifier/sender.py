"""The background sender: drains the deliveries table lane by lane, by what Telegram says.

The Kafka handler only records a delivery (:mod:`deliveries`) and commits,
so no handler ever waits on Telegram. This task sends them:

* one lane (destination + topic) is one queue: only its oldest pending row
  is tried, and lanes run concurrently, so a slow destination never holds
  another; but a flood wait belongs to the chat (Bot API: limits are per
  chat, and a wait that is ignored is made longer), so a 429 met by one
  lane holds every lane to that chat, and no other;
* each try is one Bot API call under a lease (:meth:`DeliveryStore.claim`);
  whatever Telegram answers decides the next step, by ``error_code`` and
  ``parameters`` (:mod:`cachalot_common.telegram_api`):

  - 200: the message id is recorded;
  - before the call its start is recorded, and any answer clears it: a row
    taken while a call is still open (a kill after Telegram's 200, a read
    timeout) may be in the chat already, and is sent headed by a notice
    saying it may repeat one (:mod:`deliveries`, "At least once");
  - 429: the row, and every pending row for the same chat, waits
    ``parameters.retry_after`` seconds in full (never less; a proxy's
    ``Retry-After`` header likewise), then is tried again; meanwhile the bot
    (:class:`~cachalot_common.telegram_api.ChatWaits`) refuses any call to
    that chat without making it, so a row recorded during the wait waits too;
  - 400 with ``parameters.migrate_to_chat_id``: the group became a
    supergroup; the move is remembered, every pending row for the old chat
    follows, the row is sent again at once, and a warning names the
    setting to change when the old chat was the configured operator chat;
  - other 400s: the formatted text is sent once more as plain text; if
    that is refused too, ``getChat`` tells the chat apart from the message:
    a chat the bot can see means the message itself is refused, and it is
    parked in ``<topic>.dlq`` with the reason; otherwise the chat is wrong
    and the lane waits like a misconfiguration;
  - 401 (token), 403 (the bot blocked, kicked, not a member), 404 (method
    or token path): nothing a retry alone fixes; the lane waits
    ``misconfigured_pause_s`` and logs what to change, and the message is
    kept, not dropped;
  - 5xx, 408, 409, no answer at all, a proxy's page: the ``Retry-After``
    header's wait when one is given (a 503's), else exponential backoff
    with jitter up to ``backoff_max_s``, forever (the row is durable).

Waiting is a ``not_before`` time on the row, so a restart, or another
replica, keeps honouring it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from opentelemetry import propagate, trace

from cachalot_common.telegram_api import BotApiError, BotApiUnreachable
from cachalot_common.wakeup import wait_event
from cachalot_notifier.deliveries import Claimed, DeliveryStore
from cachalot_notifier.formatting import ParseMode, repeat_notice
from cachalot_notifier.telegram import TelegramBot

logger = logging.getLogger(__name__)

Park = Callable[[Claimed, str], Awaitable[None]]
"""Parks a delivery Telegram refuses for good: ``(row, reason)``."""
Clock = Callable[[], float]


@dataclass(frozen=True)
class SendPolicy:
    """How the sender paces itself.

    ``retry_after_scale`` multiplies Telegram's ``retry_after`` and must be
    1 outside tests (settings refuse anything else in production).
    """

    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    misconfigured_pause_s: float = 30.0
    lease_s: float = 30.0
    poll_s: float = 1.0
    retry_after_scale: float = 1.0
    operator_chat_setting: tuple[str, str] | None = None
    """(configured chat id, setting name): named in the warning when that chat migrates."""


class Sender:
    """Sends recorded deliveries; :meth:`run` is the task, :meth:`wake` nudges it."""

    def __init__(
        self,
        *,
        bot: TelegramBot,
        store: DeliveryStore,
        park: Park,
        policy: SendPolicy | None = None,
        clock: Clock = time.time,
        tracer: trace.Tracer | None = None,
    ) -> None:
        self._bot = bot
        self._tracer = tracer or trace.get_tracer(__name__)
        self._store = store
        self._park = park
        self._policy = policy or SendPolicy()
        self._clock = clock
        self._owner = f"notifier-{uuid.uuid4().hex[:16]}"
        self._wake = asyncio.Event()
        self._lanes: dict[str, asyncio.Task[None]] = {}

    def wake(self) -> None:
        """Look at the table now (a delivery was just recorded)."""
        self._wake.set()

    async def run(self) -> None:
        """Forever: start a try for every lane whose head is due, sleep until the next."""
        try:
            while True:
                try:
                    pause = await self._round()
                except Exception:  # the database may be away for a moment
                    logger.exception("the sender could not read the deliveries; trying again")
                    pause = self._policy.poll_s
                await wait_event(self._wake, max(pause, 0.01))  # never swallows a cancel
                self._wake.clear()
        finally:
            for task in self._lanes.values():
                task.cancel()
            await asyncio.gather(*self._lanes.values(), return_exceptions=True)

    async def _round(self) -> float:
        """Start due lanes; the seconds until the next head falls due (at most ``poll_s``)."""
        now = self._clock()
        pause = self._policy.poll_s
        for head in await self._store.lane_heads():
            if head.lane in self._lanes:
                continue
            due = max(head.not_before, head.claimed_until or 0.0)
            if due > now:
                pause = min(pause, due - now)
                continue
            task = asyncio.create_task(self._try(head.id), name=f"send {head.lane}")
            self._lanes[head.lane] = task
            task.add_done_callback(functools.partial(self._done, head.lane))
        return pause

    def _done(self, lane: str, _task: asyncio.Task[None]) -> None:
        self._lanes.pop(lane, None)
        self._wake.set()

    async def _try(self, row_id: int) -> None:
        claimed = await self._store.claim(
            row_id, owner=self._owner, now=self._clock(), lease_s=self._policy.lease_s
        )
        if claimed is None:
            return  # another replica has it, or it is not due any more
        try:
            await self._attempt(claimed)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("sending delivery %s failed unexpectedly", claimed.dedupe_key)
            await self._later(claimed, self._backoff(claimed), "unexpected error")

    async def _attempt(self, row: Claimed) -> None:
        mode: ParseMode | None = row.parse_mode  # type: ignore[assignment]
        text = row.text
        if await self._store.calling(row, owner=self._owner, now=self._clock()):
            # an earlier call's outcome is unknown: it may be in the chat already
            logger.warning(
                "delivery %s: an earlier send may have arrived (no answer was read); "
                "sending it again marked as a possible repeat",
                row.dedupe_key,
            )
            text, mode = repeat_notice(row.text, row.plain_text, mode)
        # the send continues the trace of the event that asked for it (the
        # sender runs outside the Kafka handler; issue 13 item 4)
        parent = propagate.extract({"traceparent": row.traceparent}) if row.traceparent else None
        try:
            with self._tracer.start_as_current_span(
                "notifier send telegram", context=parent, kind=trace.SpanKind.PRODUCER
            ) as span:
                span.set_attribute("cachalot.notification", row.dedupe_key)
                sent = await self._bot.send_message(row.chat_id, text, parse_mode=mode)
        except BotApiUnreachable as error:
            await self._later(
                row, self._backoff(row), str(error), answered=not error.may_have_arrived
            )
            return
        except BotApiError as error:
            await self._refused(row, error)
            return
        await self._store.mark_sent(
            row, owner=self._owner, message_id=sent.message_id, chat_id=sent.chat_id
        )
        logger.info("notification %s sent as telegram message %s", row.dedupe_key, sent.message_id)

    async def _refused(self, row: Claimed, error: BotApiError) -> None:
        kind = error.kind
        if kind == "rate_limited":
            said = error.retry_after
            wait = said * self._policy.retry_after_scale if said is not None else None
            wait = wait if wait is not None else self._backoff(row)
            if not error.held:
                logger.warning(
                    "telegram asked chat %s to wait (%s, met by lane %s); its lanes try again "
                    "in %.1fs, other chats go on",
                    row.chat_id,
                    error,
                    row.lane,
                    wait,
                )
            until = self._clock() + wait
            await self._store.hold_chat(row.chat_id, until=until)
            await self._store.reschedule(row, owner=self._owner, at=until, error=str(error))
        elif kind == "chat_migrated":
            await self._follow_migration(row, error)
        elif kind == "bad_request":
            await self._bad_request(row, error)
        elif kind in ("unauthorized", "not_found"):
            logger.error(
                "telegram refused the bot (%s); check CACHALOT_TELEGRAM_BOT_TOKEN and "
                "CACHALOT_TELEGRAM_API_BASE; lane %s tries again in %.0fs",
                error,
                row.lane,
                self._policy.misconfigured_pause_s,
            )
            await self._later(row, self._policy.misconfigured_pause_s, str(error))
        elif kind == "forbidden":
            self._chat_refused(row, error)
            await self._later(row, self._policy.misconfigured_pause_s, str(error))
        else:  # server_error, conflict, unexpected, a proxy's page
            said = error.retry_after  # a 503's Retry-After (RFC 9110 §10.2.3) is honoured
            wait = self._backoff(row) if said is None else said * self._policy.retry_after_scale
            logger.warning(
                "telegram call failed (attempt %d): %s; retrying in %.2fs",
                row.attempts,
                error,
                wait,
            )
            await self._later(row, wait, str(error))

    async def _follow_migration(self, row: Claimed, error: BotApiError) -> None:
        new = str(error.migrate_to_chat_id)
        await self._store.migrate_chat(row.chat_id, new)
        configured = self._policy.operator_chat_setting
        if configured is not None and configured[0] in (row.chat_id, row.lane.split("|")[0]):
            logger.warning(
                "telegram says chat %s is now the supergroup %s (migrate_to_chat_id); operator "
                "messages go there from now on; set %s=%s",
                row.chat_id,
                new,
                configured[1],
                new,
            )
        else:
            logger.warning("telegram moved chat %s to %s; following it", row.chat_id, new)
        await self._store.reschedule(row, owner=self._owner, at=self._clock(), error=str(error))

    async def _bad_request(self, row: Claimed, error: BotApiError) -> None:
        if row.parse_mode is not None:
            logger.warning(
                "telegram refused the %s text (%s); sending it as plain text", row.parse_mode, error
            )
            await self._store.as_plain_text(row, owner=self._owner, now=self._clock())
            return
        try:
            chat_ok = await self._bot.chat_exists(row.chat_id)
        except (BotApiError, BotApiUnreachable) as probe:
            await self._later(row, self._backoff(row), f"{error}; getChat: {probe}")
            return
        if not chat_ok:
            self._chat_refused(row, error)
            await self._later(row, self._policy.misconfigured_pause_s, str(error))
            return
        logger.error("telegram refused delivery %s for good: %s", row.dedupe_key, error)
        await self._park(row, f"undeliverable: {error}")
        await self._store.mark_undeliverable(row, owner=self._owner, error=str(error))

    def _chat_refused(self, row: Claimed, error: BotApiError) -> None:
        setting = self._policy.operator_chat_setting
        name = setting[1] if setting else "the chat id"
        logger.error(
            "telegram refused chat %s (%s): unblock the bot or add it to the chat, or change "
            "%s; the message is kept and lane %s tries again in %.0fs",
            row.chat_id,
            error,
            name,
            row.lane,
            self._policy.misconfigured_pause_s,
        )

    def _backoff(self, row: Claimed) -> float:
        policy = self._policy
        exponent = min(max(row.attempts - 1, 0), 30)
        base = min(policy.backoff_initial_s * 2**exponent, policy.backoff_max_s)
        jitter: float = random.uniform(0, policy.backoff_initial_s)
        return float(base) + jitter

    async def _later(
        self, row: Claimed, wait_s: float, error: str, *, answered: bool = True
    ) -> None:
        await self._store.reschedule(
            row, owner=self._owner, at=self._clock() + wait_s, error=error, answered=answered
        )
