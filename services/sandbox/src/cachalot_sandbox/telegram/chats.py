"""Channels the fake Bot API knows: ``getChat``, ``getChatMember``, ``getChatAdministrators``.

Tests set channels up (``POST /sandbox/telegram/channels``): who created
and administers each one, whether our bot is in it and may post. The
methods then answer as api.telegram.org does, including its refusals:

* an unknown ``@username`` or id, or a private channel (no username) our
  bot is not in: 400 ``Bad Request: chat not found``;
* members asked of a channel our bot has left: 403 ``Forbidden: bot is not
  a member of the channel chat`` (``bot was kicked from the channel chat``
  once banned); by a bot that is a mere subscriber: 400 ``Bad Request:
  member list is inaccessible``. A bot may always ask about itself;
* a user Telegram has never seen: 400 ``Bad Request: user not found``
  (known: the Login Widget's people, everyone named in a channel, the bot).

``getChatAdministrators`` leaves bots out, as the Bot API documents.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cachalot_common.problems import Problem
from cachalot_sandbox.telegram.errors import BotApiError, bad_request, chat_not_found
from cachalot_sandbox.telegram_login.widget import USERS, find_user

CHANNEL_ID_MAX = -1_000_000_000_001
"""Channel ids are ``-100`` followed by the channel's own id."""
USERNAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{3,30}[A-Za-z0-9]$"


class ChannelAdmin(BaseModel):
    """A person who created or administers the channel."""

    model_config = ConfigDict(extra="forbid")

    user_id: int = Field(gt=0, description="Telegram user id.")
    status: Literal["creator", "administrator"] = "administrator"
    can_post_messages: bool = Field(default=True, description="Administrators only.")
    can_edit_messages: bool = Field(default=True, description="Administrators only.")
    is_anonymous: bool = False
    custom_title: str | None = Field(default=None, max_length=16)


class ChannelMember(BaseModel):
    """A subscriber, someone who left, or someone banned."""

    model_config = ConfigDict(extra="forbid")

    user_id: int = Field(gt=0, description="Telegram user id.")
    status: Literal["member", "left", "kicked"] = "member"


class Channel(BaseModel):
    """One channel as the sandbox's Telegram knows it."""

    model_config = ConfigDict(extra="forbid")

    id: int = Field(le=CHANNEL_ID_MAX, description="Channel id, -100…")
    title: str = Field(min_length=1, max_length=128)
    username: str | None = Field(
        default=None, pattern=USERNAME_PATTERN, description="Public @username, without the @."
    )
    description: str | None = Field(default=None, max_length=255)
    admins: list[ChannelAdmin] = Field(default_factory=list)
    members: list[ChannelMember] = Field(default_factory=list)
    bot_status: Literal["administrator", "member", "left", "kicked"] = Field(
        default="administrator", description="Our bot's place in the channel."
    )
    bot_can_post_messages: bool = Field(
        default=True, description="When the bot is an administrator: may it post?"
    )

    @model_validator(mode="after")
    def _one_entry_per_person(self) -> Channel:
        ids = [a.user_id for a in self.admins] + [m.user_id for m in self.members]
        if len(ids) != len(set(ids)):
            raise ValueError("a user_id appears twice in admins/members")
        if sum(a.status == "creator" for a in self.admins) > 1:
            raise ValueError("a channel has at most one creator")
        return self

    def chat(self) -> dict[str, Any]:
        """The short Chat object messages carry."""
        chat: dict[str, Any] = {"id": self.id, "title": self.title, "type": "channel"}
        if self.username:
            chat["username"] = self.username
        return chat

    def full_info(self) -> dict[str, Any]:
        """``getChat``'s ChatFullInfo."""
        info = {**self.chat(), "accent_color_id": abs(self.id) % 7, "max_reaction_count": 11}
        if self.description:
            info["description"] = self.description
        return info

    def is_public(self) -> bool:
        return self.username is not None

    def bot_is_in(self) -> bool:
        return self.bot_status in ("administrator", "member")

    def bot_can_post(self) -> bool:
        return self.bot_status == "administrator" and self.bot_can_post_messages


def _user(user_id: int) -> dict[str, Any]:
    person = find_user(user_id)
    user: dict[str, Any] = {"id": person.id, "is_bot": False, "first_name": person.first_name}
    if person.last_name:
        user["last_name"] = person.last_name
    if person.username:
        user["username"] = person.username
    return user


def _administrator(user: dict[str, Any], *, can_post: bool, can_edit: bool) -> dict[str, Any]:
    """ChatMemberAdministrator as a channel shows it."""
    return {
        "status": "administrator",
        "user": user,
        "can_be_edited": False,
        "is_anonymous": False,
        "can_manage_chat": True,
        "can_delete_messages": True,
        "can_manage_video_chats": True,
        "can_restrict_members": True,
        "can_promote_members": False,
        "can_change_info": True,
        "can_invite_users": True,
        "can_post_stories": True,
        "can_edit_stories": True,
        "can_delete_stories": True,
        "can_post_messages": can_post,
        "can_edit_messages": can_edit,
    }


def _admin_member(admin: ChannelAdmin) -> dict[str, Any]:
    user = _user(admin.user_id)
    if admin.status == "creator":
        member: dict[str, Any] = {
            "status": "creator",
            "user": user,
            "is_anonymous": admin.is_anonymous,
        }
    else:
        member = _administrator(
            user, can_post=admin.can_post_messages, can_edit=admin.can_edit_messages
        )
        member["is_anonymous"] = admin.is_anonymous
    if admin.custom_title:
        member["custom_title"] = admin.custom_title
    return member


def _plain_member(user: dict[str, Any], status: str) -> dict[str, Any]:
    member: dict[str, Any] = {"status": status, "user": user}
    if status == "kicked":
        member["until_date"] = 0  # banned forever
    return member


def _int_param(value: Any, name: str) -> int:
    if value is None or value == "":
        raise bad_request(f"{name} is empty")
    if isinstance(value, bool):
        raise bad_request(f"invalid {name} specified")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request(f"invalid {name} specified") from None


class ChatDirectory:
    """The chat methods over the channels in ``channels`` (the sandbox state)."""

    def __init__(self, channels: dict[int, Channel], bot_user: dict[str, Any]) -> None:
        self._channels = channels
        self._bot_user = bot_user

    def find_channel(self, value: Any) -> Channel | None:
        """The registered channel ``chat_id`` names (id or @username), visible to our bot."""
        channel = self.registered(value)
        if channel is not None and not channel.is_public() and not channel.bot_is_in():
            return None  # a private channel is invisible to a bot outside it
        return channel

    def registered(self, value: Any) -> Channel | None:
        """The set-up channel ``chat_id`` names (id or @username), seen by the bot or not."""
        if isinstance(value, bool):
            return None
        if isinstance(value, str) and value.startswith("@"):
            wanted = value[1:].lower()
            return next(
                (c for c in self._channels.values() if (c.username or "").lower() == wanted),
                None,
            )
        try:
            return self._channels.get(int(value))
        except (TypeError, ValueError):
            return None

    def _channel_or_private(self, value: Any) -> Channel | int:
        if value is None or value == "":
            raise bad_request("chat_id is empty")
        if isinstance(value, bool):
            raise chat_not_found()
        channel = self.find_channel(value)
        if channel is not None:
            return channel
        if isinstance(value, int | str) and str(value).lstrip("-").isdigit() and int(value) > 0:
            return int(value)  # a person's private chat with the bot
        raise chat_not_found()

    def _known_user(self, user_id: int) -> bool:
        if user_id == self._bot_user["id"] or any(u.id == user_id for u in USERS):
            return True
        return any(
            user_id in {a.user_id for a in c.admins} | {m.user_id for m in c.members}
            for c in self._channels.values()
        )

    def _bot_member(self, channel: Channel) -> dict[str, Any]:
        if channel.bot_status == "administrator":
            return _administrator(
                dict(self._bot_user),
                can_post=channel.bot_can_post_messages,
                can_edit=channel.bot_can_post_messages,
            )
        return _plain_member(dict(self._bot_user), channel.bot_status)

    @staticmethod
    def _require_member_list(channel: Channel) -> None:
        """Only an administrator bot may look at a channel's people."""
        if channel.bot_status == "left":
            raise BotApiError(403, "Forbidden: bot is not a member of the channel chat")
        if channel.bot_status == "kicked":
            raise BotApiError(403, "Forbidden: bot was kicked from the channel chat")
        if channel.bot_status != "administrator":
            raise bad_request("member list is inaccessible")

    async def get_chat(self, params: dict[str, Any]) -> dict[str, Any]:
        found = self._channel_or_private(params.get("chat_id"))
        if isinstance(found, Channel):
            return found.full_info()
        user = _user(found)
        user.pop("is_bot")
        return {**user, "type": "private", "accent_color_id": found % 7, "max_reaction_count": 11}

    async def get_chat_member(self, params: dict[str, Any]) -> dict[str, Any]:
        found = self._channel_or_private(params.get("chat_id"))
        user_id = _int_param(params.get("user_id"), "user_id")
        if isinstance(found, int):
            if user_id == self._bot_user["id"] or user_id == found:
                user = dict(self._bot_user) if user_id == self._bot_user["id"] else _user(found)
                return _plain_member(user, "member")
            raise bad_request("user not found")
        if user_id == self._bot_user["id"]:
            return self._bot_member(found)
        self._require_member_list(found)
        if not self._known_user(user_id):
            raise bad_request("user not found")
        for admin in found.admins:
            if admin.user_id == user_id:
                return _admin_member(admin)
        for member in found.members:
            if member.user_id == user_id:
                return _plain_member(_user(user_id), member.status)
        return _plain_member(_user(user_id), "left")

    async def get_chat_administrators(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        found = self._channel_or_private(params.get("chat_id"))
        if isinstance(found, int):
            raise bad_request("there are no administrators in the private chat")
        self._require_member_list(found)
        admins = sorted(found.admins, key=lambda a: a.status != "creator")
        return [_admin_member(a) for a in admins]

    def check_can_post(self, channel: Channel) -> None:
        """Refuse a post the way Telegram refuses it to a bot without the right."""
        if channel.bot_status == "left":
            raise BotApiError(403, "Forbidden: bot is not a member of the channel chat")
        if channel.bot_status == "kicked":
            raise BotApiError(403, "Forbidden: bot was kicked from the channel chat")
        if not channel.bot_can_post():
            raise bad_request("need administrator rights in the channel chat")

    def methods(self) -> dict[str, tuple[str, Callable[[dict[str, Any]], Any]]]:
        return {
            "getchat": ("getChat", self.get_chat),
            "getchatmember": ("getChatMember", self.get_chat_member),
            "getchatadministrators": ("getChatAdministrators", self.get_chat_administrators),
        }


def create_channel_controls(channels: dict[int, Channel], bot_id: int) -> APIRouter:
    """``/sandbox/telegram/channels``: set channels up, look at them, forget them."""
    router = APIRouter(prefix="/sandbox/telegram/channels", tags=["sandbox"])

    @router.post("", status_code=201)
    async def put_channel(channel: Channel) -> dict[str, Any]:
        """Add a channel, or replace the one with this id."""
        named = [a.user_id for a in channel.admins] + [m.user_id for m in channel.members]
        if bot_id in named:
            raise Problem(
                422,
                "our bot's place in the channel is set with bot_status, not in admins/members",
                errors=[{"field": "admins", "in": "body", "message": "contains the bot's id"}],
            )
        if channel.username:
            taken = next(
                (
                    c
                    for c in channels.values()
                    if c.id != channel.id and (c.username or "").lower() == channel.username.lower()
                ),
                None,
            )
            if taken is not None:
                raise Problem(
                    409,
                    f"@{channel.username} already belongs to channel {taken.id}",
                    errors=[{"field": "username", "in": "body", "message": "already taken"}],
                )
        channels[channel.id] = channel
        return channel.model_dump()

    @router.get("")
    async def list_channels() -> dict[str, Any]:
        listed = [c.model_dump() for c in channels.values()]
        return {"channels": listed, "count": len(listed)}

    @router.get("/{chat_id}")
    async def get_channel(chat_id: int) -> dict[str, Any]:
        if chat_id not in channels:
            raise Problem(404, f"no channel {chat_id} is set up")
        return channels[chat_id].model_dump()

    @router.delete("/{chat_id}", status_code=204)
    async def delete_channel(chat_id: int) -> Response:
        if channels.pop(chat_id, None) is None:
            raise Problem(404, f"no channel {chat_id} is set up")
        return Response(status_code=204)

    @router.delete("")
    async def clear_channels() -> dict[str, int]:
        count = len(channels)
        channels.clear()
        return {"deleted": count}

    return router
