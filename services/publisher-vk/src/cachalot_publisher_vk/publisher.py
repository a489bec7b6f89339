"""VK's publishing steps on the shared runtime: upload each file, then one ``wall.post``.

For a post (``PublishPost``) to one account:

1. a target with a recorded wall post id answers ``published`` again;
2. each file not yet uploaded, in order (video; photos; an article's cover):
   a video through ``video.save`` → upload ``video_file``; a photo through
   ``photos.getWallUploadServer`` → upload ``photo`` → ``photos.saveWallPhoto``.
   Each attachment (``video<owner>_<id>``, ``photo<owner>_<id>``) is recorded as
   soon as VK has it, so a redelivery does not upload it again;
3. ``wall.post`` with the text (an article's title and body as plain text,
   :func:`cachalot_common.platforms.vk.wall_text`), the attachments and
   ``guid`` = the target id, which makes VK answer a repeated call with the
   same post (dev.vk.com ``wall.post``: "guid — unique identifier to prevent
   the same post from being sent again"); the post id is recorded.

VK's errors (HTTP 200, by code, dev.vk.com "Errors"): 5 → the token is dead
(one forced lease refresh, then reauth); 6 → wait a second and call again,
then ``rate_limited``; 9 (flood control) → ``rate_limited`` after a minute;
1 and 10 → ``platform_unavailable``; 14 (captcha) and 15/214 (not allowed)
→ failed with what the client can do; 100 on a ``wall.post`` with attachments
→ failed, and the recorded attachments are forgotten so that Retry uploads the
files again (VK no longer has them: deleted on VK's side, or expired).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, Final, TypeVar

import httpx

from cachalot_common import articles
from cachalot_common.events import MediaRef, PublishPost, VKOptions
from cachalot_common.platforms import label_of
from cachalot_common.platforms.spec import Content
from cachalot_common.platforms.vk import wall_text
from cachalot_common.text import truncate
from cachalot_publisher_vk.store import WallPostStore
from cachalot_publisher_vk.vk import RATE_LIMITED, VKApi, VKApiError
from cachalot_publishing import outcome
from cachalot_publishing.multipart import ProgressHook
from cachalot_publishing.outcome import Outcome, Published, failed
from cachalot_publishing.ports import Context, TokenRejected

logger = logging.getLogger(__name__)

T = TypeVar("T")
LABEL: Final = label_of("vk")  # the registry's
RATE_LIMIT_TRIES: Final = 3
FLOOD_CONTROL_RETRY_S: Final = 60.0
INVALID_PARAMETER: Final = 100  # VK's "One of the parameters specified was missing or invalid"
CAPTCHA_REQUIRED: Final = "captcha_required"  # VK's own: error 14
POSTING_NOT_ALLOWED: Final = "posting_not_allowed"  # VK's own: errors 15/214 on a wall
PERMISSION_MISSING: Final = "permission_missing"  # the token lacks a right (error 15/7)
PLATFORM_REJECTED: Final = "platform_rejected"  # VK refused the request (error 100…)
NOT_COMMUNITY_ADMIN: Final = "community_not_administered"  # 214/15 acting as a community
OWN_CODES: Final = frozenset(
    {
        CAPTCHA_REQUIRED,
        POSTING_NOT_ALLOWED,
        PERMISSION_MISSING,
        PLATFORM_REJECTED,
        NOT_COMMUNITY_ADMIN,
    }
)
"""VK's codes besides the shared ones (:mod:`cachalot_publishing.outcome`): each worded by
the dashboard (web/words.js)."""


def _community_refused(error: VKApiError, owner: int) -> bool:
    """Whether ``error`` says the account may not act as community ``-owner``: error 214
    ("Access to adding post denied") or 15 ("Access denied") on ``wall.post``, or 15 with
    VK's "not an administrator" words on an upload made with ``group_id``
    (VKCOM/vk-api-schema errors.json). A 214 about the daily limit ("you can only add 50 posts
    a day") is not about the community."""
    if owner >= 0 or " a day" in error.message:
        return False
    if error.code == 214 or (error.code == 15 and error.method == "wall.post"):
        return True
    return error.code == 15 and "administrator" in error.message.lower()


def vk_outcome(error: VKApiError, owner: int = 0) -> Outcome:
    """The runtime outcome for a VK error other than 5 (see the module docstring).

    ``owner``: the command's ``owner_id`` (negative: a community), so that a refusal to act
    as that community names it instead of asking for rights the account already granted.
    """
    code = error.code
    if _community_refused(error, owner):
        return failed(
            NOT_COMMUNITY_ADMIN,
            f"VK does not let this account post as the community {owner} "
            f"(vk.com/club{-owner}): it is not an administrator or editor there (VK error "
            f"{code}). Choose a community this account manages as owner_id, or have the "
            "community's administrator make it an editor, then retry.",
        )
    if code == RATE_LIMITED:
        return outcome.rate_limited(LABEL, 1.0)
    if code == 9:
        return outcome.wait(
            outcome.RATE_LIMITED,
            "VK's flood control stopped this account for now (too many similar actions); "
            "will retry in a minute.",
            FLOOD_CONTROL_RETRY_S,
        )
    if code in (1, 10):
        return outcome.unavailable(LABEL, 500)
    if code == 14:
        return failed(
            CAPTCHA_REQUIRED,
            "VK asks this account to solve a captcha before it may post. Open VK in a "
            "browser, make one post by hand, then press Retry.",
        )
    if code == 214 or (code == 15 and error.method == "wall.post"):
        return failed(
            POSTING_NOT_ALLOWED,
            "VK does not let this account post on that wall. Post to your own wall, or to a "
            "community where you are an administrator or editor, and check the community "
            "allows wall posts.",
        )
    if code in (7, 15):
        return failed(
            PERMISSION_MISSING,
            f"VK refused {error.method}: the account did not grant the right it needs. "
            "Reconnect VK and allow wall, video and photos.",
        )
    return failed(PLATFORM_REJECTED, f"VK refused {error.method}: {error.message}")


class VKPlatform:
    """Puts a post on a VK wall (see the module docstring)."""

    def __init__(self, *, store: WallPostStore, api: VKApi) -> None:
        self._store = store
        self._api = api

    async def publish(self, command: PublishPost, ctx: Context) -> Published:
        options = command.options
        if not isinstance(options, VKOptions):
            raise failed(outcome.WRONG_PLATFORM, "This command is not for VK.")
        record = await self._store.get(command.target_id)
        if record is not None and record.wall_post_id is not None:
            owner = record.owner_id  # rows written before the real owner was kept hold 0
            if owner == 0:
                owner = _owner_of(list(record.attachments)) or await self._own_id(command, ctx)
            return self._published(owner, record.wall_post_id)
        owner = options.owner_id or 0  # 0: the account's own wall
        made_from = command.made_from
        if record is None or record.made_from != made_from:
            # new, or changed by the client after a failure: the old uploads are not this post
            await self._store.start(
                target_id=command.target_id,
                post_id=command.post_id,
                account_id=command.account_id,
                owner_id=owner,
                made_from=made_from,
            )
            attachments: list[str] = []
        else:
            attachments = list(record.attachments)
        files = command.files()
        total = command.bytes_total
        sent = sum(f.size for f in files[: len(attachments)])
        for ref in files[len(attachments) :]:
            attachment = await self._upload(command, ctx, ref, owner)
            await self._store.add_attachment(command.target_id, attachment)
            attachments.append(attachment)
            sent += ref.size
            await ctx.progress(sent, total)
        if owner == 0:
            owner = _owner_of(attachments) or await self._own_id(command, ctx)
        text = wall_text(options, _content(command))
        await ctx.confirm_lease()  # the account may have been disconnected during the uploads
        response = await self._call(
            command,
            ctx,
            "wall.post",
            owner_id=owner,
            from_group=1 if owner < 0 else None,
            message=text or None,
            attachments=",".join(attachments) or None,
            guid=str(command.target_id),
        )
        wall_post_id = int(response["post_id"])
        await self._store.record_post(command.target_id, wall_post_id, owner_id=owner)
        return self._published(owner, wall_post_id)

    @staticmethod
    def _published(owner: int, wall_post_id: int) -> Published:
        return Published(
            remote_id=f"{owner}_{wall_post_id}",
            remote_url=f"https://vk.com/wall{owner}_{wall_post_id}" if owner else None,
        )

    async def _upload(self, command: PublishPost, ctx: Context, ref: MediaRef, owner: int) -> str:
        path = ctx.media_file(ref)
        group_id = -owner if owner < 0 else None
        if ref.content_type.startswith("video/"):
            title = _video_title(command)
            saved = await self._call(
                command, ctx, "video.save", name=title, wallpost=0, group_id=group_id
            )
            answer = await self._upload_file(
                saved["upload_url"], "video_file", path, ref.content_type, ctx.progress
            )
            owner_id = answer.get("owner_id", saved["owner_id"])
            return f"video{owner_id}_{answer.get('video_id', saved['video_id'])}"
        server = await self._call(command, ctx, "photos.getWallUploadServer", group_id=group_id)
        answer = await self._upload_file(server["upload_url"], "photo", path, ref.content_type)
        (photo,) = await self._call(
            command,
            ctx,
            "photos.saveWallPhoto",
            group_id=group_id,
            server=answer["server"],
            photo=answer["photo"],
            hash=answer["hash"],
        )
        return f"photo{photo['owner_id']}_{photo['id']}"

    async def _upload_file(
        self,
        url: str,
        field: str,
        path: Path,
        content_type: str,
        progress: ProgressHook | None = None,
    ) -> dict[str, Any]:
        try:
            return await self._api.upload(
                url, field=field, path=path, content_type=content_type, progress=progress
            )
        except VKApiError as error:
            raise failed(
                outcome.MEDIA_INVALID, f"VK's upload server refused the file: {error.message}"
            ) from None
        except httpx.HTTPStatusError as error:
            raise outcome.unavailable(LABEL, error.response.status_code) from None
        except httpx.TransportError as error:
            raise outcome.network(LABEL, type(error).__name__) from None
        except OSError as error:  # the file, while streaming: VK got a broken body
            raise outcome.retryable(
                outcome.MEDIA_UNREADABLE, f"Reading the media failed ({type(error).__name__}).", 30
            ) from None

    async def _own_id(self, command: PublishPost, ctx: Context) -> int:
        (user,) = await self._call(command, ctx, "users.get")
        return int(user["id"])

    async def _call(self, command: PublishPost, ctx: Context, method: str, **params: object) -> Any:
        """One VK call with the account's token: error 5 → the runtime's refresh/reauth,
        error 6 → a second's wait (without holding a slot) up to three times."""
        account = str(command.account_id)

        async def attempt(token: str) -> Any:
            try:
                return await self._api.call(method, token, account=account, **params)
            except VKApiError as error:
                if error.code == 5:
                    raise TokenRejected() from None
                raise

        for tries in range(1, RATE_LIMIT_TRIES + 1):
            try:
                return await _guard(ctx.call_with_token(attempt))
            except VKApiError as error:
                if error.code != RATE_LIMITED or tries == RATE_LIMIT_TRIES:
                    if (
                        error.code == INVALID_PARAMETER
                        and method == "wall.post"
                        and params.get("attachments")
                    ):
                        # what was uploaded is no longer usable (the client deleted it on
                        # VK, or it expired): a Retry must upload the files again
                        await self._store.forget_attachments(command.target_id)
                        raise failed(
                            PLATFORM_REJECTED,
                            f"VK refused wall.post: {error.message}. Retry uploads the "
                            "files again.",
                        ) from None
                    owner = getattr(command.options, "owner_id", None) or 0
                    raise vk_outcome(error, owner) from None
                await ctx.sleep(1.0, code=outcome.RATE_LIMITED, reason="VK: 3 calls a second")
        raise AssertionError("unreachable")


async def _guard(call: Awaitable[T]) -> T:
    try:
        return await call
    except httpx.HTTPStatusError as error:
        raise outcome.unavailable(LABEL, error.response.status_code) from None
    except httpx.TransportError as error:
        raise outcome.network(LABEL, type(error).__name__) from None


def _owner_of(attachments: list[str]) -> int | None:
    """The owner id in an attachment (``photo-12_34`` → -12), if any."""
    for attachment in attachments:
        head = attachment.removeprefix("photo").removeprefix("video")
        return int(head.split("_", 1)[0])
    return None


def _video_title(command: PublishPost) -> str:
    options = command.options
    text = options.message if isinstance(options, VKOptions) else ""
    first = text.strip().splitlines()[0] if text.strip() else "Video"
    return truncate(first, 128, ellipsis="")


def _content(command: PublishPost) -> Content:
    if command.article is None:
        return Content(kind=command.kind)
    return Content(
        kind="article",
        title=command.article.title,
        nodes=tuple(articles.parse(command.article.body_html)),
    )
