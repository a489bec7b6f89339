"""The fake Bot API (``/telegram/bot<token>/<method>``) and its controls (``/sandbox/telegram``).

Served like the real one: GET or POST, parameters in the query string, a
form, multipart or JSON; every answer is ``{"ok": true, "result": ...}`` or
``{"ok": false, "error_code", "description"[, "parameters"]}``. Queued faults
(``POST /sandbox/telegram/faults``: 429 with ``retry_after``, 400 with
``migrate_to_chat_id``, 5xx, proxy pages, slow answers) replace the next
posting calls' answers (``sendMessage``, ``sendPhoto``, ``sendVideo``,
``sendMediaGroup``; or one ``method``) one by one, so clients' retry paths can
be tested against real HTTP. ``POST /sandbox/telegram/delays`` posts and then
holds an answer back (a client killed meanwhile never learns its message id).
Groups upgraded to supergroups answer 400 with ``migrate_to_chat_id``; users who
blocked the bot answer 403; ``PUT /sandbox/telegram/latency`` slows every send.
Every posting call meets the same gate: the fault queue, the channel's rights
(our bot an administrator allowed to post), opt-in flood control. Uploads:
:mod:`.media`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.datastructures import UploadFile

from cachalot_common.problems import Problem
from cachalot_sandbox.settings import SandboxSettings
from cachalot_sandbox.telegram.chats import ChatDirectory, create_channel_controls
from cachalot_sandbox.telegram.entities import EntityParseError, parse_text, utf16_len
from cachalot_sandbox.telegram.errors import BotApiError, bad_request, chat_not_found
from cachalot_sandbox.telegram.media import (
    LOCAL_MAX_UPLOAD_BYTES,
    MAX_UPLOAD_BYTES,
    MediaMethods,
    StoredFile,
)
from cachalot_sandbox.telegram.state import (
    POSTING_METHODS,
    AnswerDelay,
    ChatBan,
    ChatMigrationControl,
    Fault,
    FaultQueue,
    FloodControl,
    FloodGate,
    Latency,
    SentMessage,
    state,
)

MAX_TEXT_LENGTH = 4096
_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_PARSE_MODES = {"markdownv2": "MarkdownV2", "html": "HTML", "markdown": "Markdown"}


@dataclass(frozen=True, slots=True)
class Target:
    """The chat a posting call goes to, as the gate found it."""

    chat: dict[str, Any]
    requested: str
    channel: bool


def create_router(settings: SandboxSettings) -> APIRouter:
    router = APIRouter()
    state.files.max_upload_bytes = (
        LOCAL_MAX_UPLOAD_BYTES if settings.telegram_local_bot_api else MAX_UPLOAD_BYTES
    )
    bot_token = settings.telegram_bot_token.get_secret_value()
    bot_id = int(bot_token.split(":", 1)[0]) if bot_token.split(":", 1)[0].isdigit() else 1
    bot_user = {
        "id": bot_id,
        "is_bot": True,
        "first_name": "Cachalot Sandbox",
        "username": settings.telegram_bot_username,
    }
    chats = ChatDirectory(state.channels, bot_user)

    async def get_me(_params: dict[str, Any]) -> dict[str, Any]:
        return {
            **bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def gate(params: dict[str, Any], method: str = "sendMessage") -> Target:
        """What every posting call meets first: the configured latency, a migrated or
        blocked chat, a queued fault, the channel's rights, flood control."""
        if state.send_delay_s:
            await asyncio.sleep(state.send_delay_s)
        requested = str(params.get("chat_id"))
        if requested in state.migrated:
            raise BotApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": state.migrated[requested]},
            )
        if requested in state.blocked:
            raise BotApiError(403, "Forbidden: bot was blocked by the user")
        fault = state.next_fault(method)
        if fault is not None:
            raise await _apply_fault(fault)
        channel = chats.registered(params.get("chat_id"))
        if channel is not None:
            chats.check_can_post(channel)
            chat = channel.chat()
        else:
            chat = _chat(params.get("chat_id"))
        if state.flood is not None:
            wait, ignored = state.flood.admit(str(chat["id"]), time.monotonic())
            if ignored:
                state.ignored_waits[str(chat["id"])] += 1
            if wait > 0:
                raise _too_many(max(1, math.ceil(wait)))
        return Target(chat=chat, requested=str(params.get("chat_id")), channel=channel is not None)

    def chat_key(value: Any) -> str:
        """The chat a ``chat_id`` names, as flood waits are kept: its numeric id."""
        channel = chats.registered(value)
        if channel is not None:
            return str(channel.chat()["id"])
        try:
            return str(_chat(value)["id"])
        except BotApiError:
            return str(value)

    def check_wait(params: dict[str, Any]) -> None:
        """A posting call to a chat under a queued 429's wait: refused, the wait longer."""
        key = chat_key(params.get("chat_id"))
        ban = state.bans.get(key)
        if ban is None:
            return
        left = ban.refuse(time.monotonic())
        if left is None:
            del state.bans[key]
            return
        state.ignored_waits[key] += 1
        raise _too_many(left)

    def hold_chat(params: dict[str, Any], fault: Fault) -> None:
        """A queued 429 answering a posting call puts its chat under the wait (``hold_s``)."""
        if fault.status != 429 or fault.body == "html":
            return
        retry_after = fault.retry_after if fault.retry_after is not None else 1
        hold = fault.hold_s if fault.hold_s is not None else float(retry_after)
        if hold > 0:
            second = hold / retry_after if retry_after else hold
            key = chat_key(params.get("chat_id"))
            state.bans[key] = ChatBan(until=time.monotonic() + hold, second=second)

    def finish(
        target: Target,
        params: dict[str, Any],
        *,
        kind: str,
        raw_text: str,
        text: str,
        entities: list[dict[str, Any]],
        parse_mode: str | None = None,
        files: list[StoredFile] | None = None,
        fields: dict[str, Any] | None = None,
        group: str | None = None,
        method: str = "sendMessage",
    ) -> dict[str, Any]:
        """Record the post and answer its Message."""
        options: dict[str, Any] = {
            k: params[k]
            for k in ("disable_notification", "link_preview_options", "supports_streaming")
            if k in params
        }
        message = SentMessage(
            message_id=state.next_message_id(),
            chat=target.chat,
            requested_chat=target.requested,
            date=int(time.time()),
            text=text,
            raw_text=raw_text,
            parse_mode=parse_mode,
            entities=entities,
            received_at=time.time(),
            kind=kind,
            files=tuple(files or ()),
            media_group_id=group,
            method=method,
            options=options,
        )
        state.record(message)
        result: dict[str, Any] = {"message_id": message.message_id}
        if target.channel:  # a channel post: signed by the channel, not the bot
            result["sender_chat"] = target.chat
        else:
            result["from"] = bot_user
        result |= {"chat": target.chat, "date": message.date}
        if group is not None:
            result["media_group_id"] = group
        result |= fields or {}
        if kind == "text":
            result["text"] = message.text
            if message.entities:
                result["entities"] = message.entities
        elif message.text:
            result["caption"] = message.text
            if message.entities:
                result["caption_entities"] = message.entities
        return result

    async def send_message(params: dict[str, Any]) -> dict[str, Any]:
        target = await gate(params)
        raw_text = params.get("text")
        if raw_text is None or (isinstance(raw_text, str) and not raw_text):
            raise bad_request("message text is empty")
        raw_text = raw_text if isinstance(raw_text, str) else json.dumps(raw_text)
        parse_mode = _parse_mode(params.get("parse_mode"))
        try:
            parsed = parse_text(raw_text, parse_mode)
        except EntityParseError as error:
            raise bad_request(f"can't parse entities: {error}") from None
        if not parsed.text:
            raise bad_request("message text is empty")
        if utf16_len(parsed.text) > MAX_TEXT_LENGTH:
            raise bad_request("message is too long")
        answer = finish(
            target,
            params,
            kind="text",
            raw_text=raw_text,
            text=parsed.text,
            entities=parsed.entities,
            parse_mode=parse_mode,
        )
        await _hold_answer()
        return answer

    def media_call(name: str, attr: str) -> Callable[[dict[str, Any]], Awaitable[Any]]:
        """``sendPhoto``/``sendVideo``/``sendMediaGroup`` (:mod:`.media`) behind ``gate``."""

        async def run(params: dict[str, Any]) -> Any:
            async def method_gate(p: dict[str, Any]) -> Target:
                return await gate(p, name)

            def method_finish(*args: Any, **kwargs: Any) -> dict[str, Any]:
                mode = params.get("parse_mode") or None
                return finish(*args, method=name, parse_mode=mode, **kwargs)

            media = MediaMethods(state.files, method_gate, method_finish)
            answer = await getattr(media, attr)(params)
            await _hold_answer()
            return answer

        return run

    async def _hold_answer() -> None:
        delay = state.next_delay()
        if delay:
            await asyncio.sleep(delay)

    methods: dict[str, tuple[str, Callable[[dict[str, Any]], Awaitable[Any]]]] = {
        "getme": ("getMe", get_me),
        "sendmessage": ("sendMessage", send_message),
        "sendphoto": ("sendPhoto", media_call("sendPhoto", "send_photo")),
        "sendvideo": ("sendVideo", media_call("sendVideo", "send_video")),
        "sendmediagroup": ("sendMediaGroup", media_call("sendMediaGroup", "send_media_group")),
        **chats.methods(),
    }
    router.include_router(create_channel_controls(state.channels, bot_id))

    @router.api_route(
        "/telegram/bot{token}/{method}",
        methods=["GET", "POST"],
        tags=["telegram"],
        summary="Bot API method",
    )
    async def bot_api(token: str, method: str, request: Request) -> Response:
        known = methods.get(method.lower())
        state.calls[known[0] if known else method] += 1
        try:
            if not hmac.compare_digest(token.encode(), bot_token.encode()):
                raise BotApiError(401, "Unauthorized")
            if known is None:
                raise BotApiError(404, "Not Found")
            params = await _params(request)
            posting = known[0].lower() in POSTING_METHODS
            if posting:  # Telegram answers a chat under a flood wait before anything else
                check_wait(params)
            fault = state.next_fault(known[0])
            if fault is not None:
                if posting:
                    hold_chat(params, fault)
                raise await _apply_fault(fault)
            result = await known[1](params)
        except BotApiError as error:
            return error.response()
        except _ProxyError as error:
            return error.response
        return JSONResponse({"ok": True, "result": result})

    @router.get("/sandbox/telegram/messages", tags=["sandbox"])
    async def list_messages(chat_id: str | None = None) -> dict[str, Any]:
        """Every accepted message (parsed text, raw text, parse mode, chat), oldest first."""
        messages = [
            m.public()
            for m in state.messages
            if chat_id is None or chat_id in (str(m.chat["id"]), m.requested_chat)
        ]
        return {"messages": messages, "count": len(messages)}

    @router.delete("/sandbox/telegram/messages", tags=["sandbox"])
    async def clear_messages() -> dict[str, int]:
        count = len(state.messages)
        state.messages.clear()
        return {"deleted": count}

    @router.post("/sandbox/telegram/faults", tags=["sandbox"], status_code=201)
    async def queue_faults(queue: FaultQueue) -> dict[str, Any]:
        """Answer the next posting calls with these, one per call, then normally."""
        state.faults.extend(queue.responses)
        return {"pending": [f.model_dump() for f in state.faults]}

    @router.get("/sandbox/telegram/faults", tags=["sandbox"])
    async def list_faults() -> dict[str, Any]:
        return {"pending": [f.model_dump() for f in state.faults]}

    @router.delete("/sandbox/telegram/faults", tags=["sandbox"])
    async def clear_faults() -> dict[str, int]:
        count = len(state.faults)
        state.faults.clear()
        return {"deleted": count}

    @router.put("/sandbox/telegram/migrations/{chat_id}", tags=["sandbox"])
    async def migrate_chat(chat_id: str, control: ChatMigrationControl) -> dict[str, Any]:
        """Upgrade a group to a supergroup: sends to ``chat_id`` answer 400 with
        ``parameters.migrate_to_chat_id``, as Telegram does.

        A set-up chat (``/sandbox/telegram/channels``) moves with its people, our
        bot's rights and its @username: the new id answers ``getChat`` and posts as the
        old one did, under ``title`` when given (else the old title). ``title`` for a
        chat that is not set up is a 422 naming it."""
        old = chats.registered(chat_id)
        if old is None and control.title is not None:
            raise Problem(
                422,
                "a title applies to a set-up chat only",
                errors=[
                    {"field": "title", "in": "body", "message": f"no chat {chat_id} is set up"}
                ],
            )
        if old is not None:
            moved = old.model_copy(
                update={"id": control.migrate_to_chat_id, "title": control.title or old.title}
            )
            state.channels[old.id] = old.model_copy(update={"username": None})  # it moves too
            state.channels[moved.id] = moved
        state.migrated[chat_id] = control.migrate_to_chat_id
        return {"chat_id": chat_id, "migrate_to_chat_id": control.migrate_to_chat_id}

    @router.put("/sandbox/telegram/blocked/{chat_id}", tags=["sandbox"])
    async def block_bot(chat_id: str) -> dict[str, Any]:
        """The chat's user blocks the bot: 403 ``Forbidden: bot was blocked by the user``."""
        state.blocked.add(chat_id)
        return {"blocked": sorted(state.blocked)}

    @router.delete("/sandbox/telegram/blocked/{chat_id}", tags=["sandbox"])
    async def unblock_bot(chat_id: str) -> dict[str, Any]:
        state.blocked.discard(chat_id)
        return {"blocked": sorted(state.blocked)}

    @router.put("/sandbox/telegram/latency", tags=["sandbox"])
    async def set_latency(latency: Latency) -> dict[str, Any]:
        """Every later sendMessage answer (success included) waits ``send_delay_s``."""
        state.send_delay_s = latency.send_delay_s
        return latency.model_dump()

    @router.put("/sandbox/telegram/flood", tags=["sandbox"])
    async def set_flood_control(control: FloodControl) -> dict[str, Any]:
        """Turn on per-chat flood control: 429 with retry_after beyond the rate."""
        state.flood = FloodGate(control)
        return {"flood_control": control.model_dump()}

    @router.delete("/sandbox/telegram/flood", tags=["sandbox"])
    async def clear_flood_control() -> dict[str, Any]:
        state.flood = None
        return {"flood_control": None}

    @router.get("/sandbox/telegram/waits", tags=["sandbox"])
    async def flood_waits() -> dict[str, Any]:
        """Chats under a flood wait (seconds left) and, per chat, the posting calls made
        while it owed one (each refused, and the wait made longer, as Telegram does)."""
        now = time.monotonic()
        return {
            "waiting": {
                chat: round(ban.until - now, 3)
                for chat, ban in state.bans.items()
                if ban.until > now
            },
            "ignored": dict(state.ignored_waits),
        }

    @router.get("/sandbox/telegram/flood", tags=["sandbox"])
    async def get_flood_control() -> dict[str, Any]:
        control = state.flood.control.model_dump() if state.flood else None
        return {"flood_control": control}

    @router.post("/sandbox/telegram/delays", tags=["sandbox"], status_code=201)
    async def delay_answers(delay: AnswerDelay) -> dict[str, Any]:
        """Post, then hold back the answer of the next ``count`` posting calls."""
        state.delays.extend([delay.seconds] * delay.count)
        return {"pending": state.delays}

    @router.delete("/sandbox/telegram/delays", tags=["sandbox"])
    async def clear_delays() -> dict[str, int]:
        count = len(state.delays)
        state.delays.clear()
        return {"deleted": count}

    @router.get("/sandbox/telegram/files/{file_unique_id}", tags=["sandbox"])
    async def get_file(file_unique_id: str) -> Response:
        """The bytes of an uploaded file, as the fake received them."""
        stored = state.files.files.get(file_unique_id)
        if stored is None:
            return JSONResponse({"detail": "no such file"}, status_code=404)
        return FileResponse(stored.path, media_type=stored.content_type)

    @router.get("/sandbox/telegram/calls", tags=["sandbox"])
    async def calls() -> dict[str, Any]:
        """How many times each Bot API method was called, failed calls included."""
        return {"calls": dict(state.calls)}

    return router


def _too_many(retry_after: int) -> BotApiError:
    return BotApiError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


class _ProxyError(Exception):
    """A non-JSON answer, as the proxy in front of the Bot API gives when it is down."""

    def __init__(self, response: Response) -> None:
        super().__init__("proxy error")
        self.response = response


async def _apply_fault(fault: Fault) -> BotApiError | _ProxyError:
    """The answer ``fault`` asks for, with its ``Retry-After`` header when it gives one."""
    answer = await _fault_answer(fault)
    if fault.retry_after_header is not None:
        if isinstance(answer, _ProxyError):
            answer.response.headers["Retry-After"] = fault.retry_after_header
        else:
            answer.headers["Retry-After"] = fault.retry_after_header
    return answer


async def _fault_answer(fault: Fault) -> BotApiError | _ProxyError:
    if fault.delay_s:
        await asyncio.sleep(fault.delay_s)
    reason = _REASONS.get(fault.status, "Error")
    body = fault.body or ("html" if fault.status in (502, 503, 504) else "json")
    if body == "html":
        page = (
            f"<html>\r\n<head><title>{fault.status} {reason}</title></head>\r\n<body>\r\n"
            f"<center><h1>{fault.status} {reason}</h1></center>\r\n"
            "<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n"
        )
        return _ProxyError(HTMLResponse(page, status_code=fault.status))
    if fault.migrate_to_chat_id is not None:
        return BotApiError(
            fault.status,
            fault.description or "Bad Request: group chat was upgraded to a supergroup chat",
            {"migrate_to_chat_id": fault.migrate_to_chat_id},
        )
    if fault.status == 429:
        retry_after = fault.retry_after if fault.retry_after is not None else 1
        return BotApiError(
            429,
            fault.description or f"Too Many Requests: retry after {retry_after}",
            {"retry_after": retry_after},
        )
    return BotApiError(fault.status, fault.description or reason)


async def _params(request: Request) -> dict[str, Any]:
    """Query string, then the body (JSON, form or multipart), the way the Bot API reads them."""
    params: dict[str, Any] = dict(request.query_params)
    if request.method != "POST":
        return params
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        body = await request.body()
        if body.strip():
            try:
                data = json.loads(body)
            except ValueError:
                raise bad_request("can't parse JSON object") from None
            if not isinstance(data, dict):
                raise bad_request("JSON object expected")
            params.update(data)
    elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form(max_files=50, max_fields=200)
        params.update({k: v for k, v in form.items() if isinstance(v, str | UploadFile)})
    return params


def _parse_mode(value: Any) -> str | None:
    if value is None or value == "":
        return None
    mode = _PARSE_MODES.get(str(value).lower())
    if mode is None:
        raise bad_request("unsupported parse_mode")
    return mode


def _chat(value: Any) -> dict[str, Any]:
    """A chat for a ``chat_id`` that is no set-up channel: positive ids are private chats,
    other negative ids groups (``-100…`` supergroups); an @username of no channel is unknown.
    """
    if value is None or value == "":
        raise bad_request("chat_id is empty")
    requested = str(value)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise bad_request("chat not found")
    if isinstance(value, str) and value.startswith("@"):
        raise chat_not_found()
    try:
        chat_id = int(value)
    except ValueError:
        raise bad_request("chat not found") from None
    if chat_id == 0:
        raise bad_request("chat not found")
    if chat_id > 0:
        return {"id": chat_id, "first_name": "Operator", "type": "private"}
    kind = "supergroup" if requested.startswith("-100") else "group"
    return {"id": chat_id, "title": "Sandbox group", "type": kind}
