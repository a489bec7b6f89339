"""Telegram's steps on the publishing runtime: one channel post per target, at most once.

What goes out (core.telegram.org/bots/api; limits in
:mod:`cachalot_common.platforms.telegram`):

* video → ``sendVideo`` (multipart, ``supports_streaming``, caption in HTML);
* photo post → ``sendPhoto`` (one image) or ``sendMediaGroup`` (2–10,
  ``attach://photo<i>``, the caption on the first);
* article → ``sendMessage`` (HTML, ``link_preview_options`` as the client
  chose) when it fits one message (4096 after entity parsing) and
  ``article_as`` is not ``telegraph``; with a cover, ``sendPhoto`` with the
  article as caption when it fits 1024; with a cover, ``article_as="message"``
  and more than 1024, ``sendMessage`` whose link preview is the cover (its
  signed link, shown large above the text); otherwise a Telegraph page
  (``createPage`` with the article's nodes) announced by ``sendMessage``:
  title, lead and the page's link, whose preview gives readers Instant View.
  The cover opens the page as ``<figure><img src=…></figure>``. Telegraph takes
  images by URL only: its ``/upload`` was never part of the API (telegra.ph/api
  lists no upload method) and was switched off for new media in September 2024
  (t.me/durov/343; python273/telegraph#58), so ``src`` is the cover's signed
  link (``MediaRef.url``, which the queue makes for Telegram articles with the
  long page lifetime, ``CACHALOT_MEDIA_COVER_URL_TTL_S``). Without a link (the
  queue has no ``CACHALOT_PUBLIC_URL``) the page goes out without its cover.

The channel is the lease's ``destination`` (auth's linked chat id). Our bot posts there
for the person who linked it (the lease's ``platform_user_id``) only while that person may
post there too: right before a post, after auth's confirmation, ``getChatMember`` must say
creator, or administrator with ``can_post_messages``
(:func:`cachalot_common.telegram_api.may_post`, as auth checks when the channel is linked); a
yes is kept ``person_check_s`` (60 s) per channel and person. A person who lost the right
marks the link broken at auth and pauses the account's posts (``reauth`` with code
``channel_rights_lost``), saying to ask the channel's owner for the right and link again
(lease10: a demoted admin's posts still went out).

At most once (DESIGN.md, "Delivery guarantees"): every post is *one* Bot API
call, and Telegram has no way to look up a message after the fact, so:

1. a target whose message id is recorded answers ``published`` again;
2. before the call, the attempt is recorded as begun (:meth:`PostStore.begin_send`);
   a Bot API error answer or no connection at all clears it (nothing was posted);
   a success records the message ids;
3. a target found begun with no message id (a crash or a lost answer) is not
   posted again: it ends ``unknown`` (:func:`cachalot_publishing.outcome.unknown`,
   code ``outcome_unknown``), which the queue shows as ``unconfirmed``: the client
   looks at the channel, then marks it published or publishes it again. That
   answer is remembered; only a later attempt (the client's "publish again")
   posts again.

A Telegraph page made before a crash is reused on the next delivery of the same content
(one made for other content, before the client changed the post, is not: :meth:`_page`); one made
in the instant between ``createPage``'s answer and its record is orphaned
(unlisted, harmless), never announced twice.

Faults: ``retry_after`` (and Telegraph's ``FLOOD_WAIT_<s>``) is honoured in full
through ``ctx.sleep`` (a long wait goes back to the queue as ``retryable``
``rate_limited``, which uses no attempt); ``migrate_to_chat_id`` is followed at
once, remembered (later posts go to the new id while a cached lease still names
the old one) and reported to auth with the new chat's title (``getChat``), so
the account's recorded channel id and title follow the move; a bot that is not
in the channel or may not post marks the link broken at auth and pauses the
account's posts (``reauth`` with
code ``channel_link_broken``) with a reason saying how to fix it; 5xx →
``retryable``; any other refusal → ``failed`` with Telegram's description.
"""

from __future__ import annotations

import html
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Final

from cachalot_common.articles import Node, lead_html, parse, telegram_length, to_telegram_html
from cachalot_common.events import MediaRef, PublishPost, TelegramOptions
from cachalot_common.platforms import label_of
from cachalot_common.platforms.telegram import TELEGRAM_CAPTION_MAX, TELEGRAM_TEXT_MAX
from cachalot_common.telegram_api import may_post
from cachalot_common.text import truncate
from cachalot_publisher_telegram.links import ChannelReports
from cachalot_publisher_telegram.store import PostRecord, PostStore, Target
from cachalot_publisher_telegram.telegram import (
    BotApi,
    BotApiError,
    NotSent,
    OutcomeUnknown,
    UploadFile,
)
from cachalot_publisher_telegram.telegraph import Page, Telegraph, TelegraphError
from cachalot_publishing import outcome
from cachalot_publishing.outcome import Published
from cachalot_publishing.ports import Context

logger = logging.getLogger(__name__)

LABEL: Final = label_of("telegram")  # the registry's
OUTCOME_UNKNOWN = outcome.OUTCOME_UNKNOWN
CHANNEL_LINK_BROKEN = "channel_link_broken"
CHANNEL_NOT_LINKED = "channel_not_linked"
CHANNEL_RIGHTS_LOST = "channel_rights_lost"
TELEGRAM_REFUSED = "telegram_refused"
BOT_UNAUTHORIZED = "bot_unauthorized"
TELEGRAPH_REFUSED = "telegraph_refused"
ARTICLE_TOO_LONG = "article_too_long"
OWN_CODES: Final = frozenset(
    {
        CHANNEL_LINK_BROKEN,
        CHANNEL_NOT_LINKED,
        CHANNEL_RIGHTS_LOST,
        TELEGRAM_REFUSED,
        BOT_UNAUTHORIZED,
        TELEGRAPH_REFUSED,
        ARTICLE_TOO_LONG,
    }
)
"""Telegram's codes besides the shared ones (:mod:`cachalot_publishing.outcome`): each worded
by the dashboard (web/words.js)."""
LEAD_MAX = 700

# Telegram's words when our bot may not post in the chat (403s and a few 400s).
_NO_RIGHTS = (
    "bot is not a member",
    "bot was kicked",
    "not enough rights",
    "need administrator rights",
    "chat_write_forbidden",
    "have no rights to send",
    "chat not found",
)


def fix_reason(bot_username: str | None) -> str:
    """What the client must do when our bot cannot post in their channel."""
    bot = f"@{bot_username}" if bot_username else "our bot"
    return (
        f"Telegram: our bot cannot post in your channel: add {bot} as an administrator of the "
        "channel with the right to post messages, then link the channel again in the dashboard; "
        "the post then goes out."
    )


RIGHTS_LOST_REASON: Final = (
    "Telegram: not posted: you may no longer post in the linked channel (its owner, or an "
    "administrator with the right to post messages, may): ask the channel's owner to give you "
    "the right to post messages, then link the channel again in the dashboard; the post then "
    "goes out."
)
"""What the client reads when the person who linked the channel lost the right to post."""


def not_linked_reason(bot_username: str | None) -> str:
    """What the client must do when their Telegram account has no channel linked yet."""
    bot = f"@{bot_username}" if bot_username else "our bot"
    return (
        f"Telegram: not posted yet: link a channel first: add {bot} as an administrator of "
        "your channel with the right to post messages, then link the channel in the dashboard; "
        "the post then goes out."
    )


@dataclass(slots=True)
class Send:
    """One Bot API call that posts (``chat_id`` is added when it is made)."""

    method: str
    params: dict[str, Any]
    files: list[UploadFile] = field(default_factory=list)


def _file(ctx: Context, ref: MediaRef, name: str, suffix: str) -> UploadFile:
    return UploadFile(
        field=name,
        path=ctx.media_file(ref),
        size=ref.size,
        content_type=ref.content_type,
        filename=f"{name}{suffix}",
    )


_SUFFIX = {
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/webm": ".webm",
    "image/jpeg": ".jpg",
    "image/png": ".png",
}


def _caption(options: TelegramOptions) -> dict[str, Any]:
    if not options.caption:
        return {}
    return {"caption": options.caption, "parse_mode": "HTML"}


def _common(options: TelegramOptions) -> dict[str, Any]:
    return {"disable_notification": True} if options.disable_notification else {}


READ_THE_ARTICLE: Final = {"en": "Read the article", "ru": "Читать статью"}
"""The announcement's link words by the client's language (the lease's ``language``)."""


def announcement(title: str, nodes: list[Node], url: str, language: str | None = None) -> str:
    """Title, lead and the Telegraph link, in HTML.

    The lead is the first paragraph with its links, bold and italic kept
    (:func:`cachalot_common.articles.lead_html`), at most :data:`LEAD_MAX` UTF-16 units of
    text, cut at a word between grapheme clusters. The link says "Read the article" in the
    client's ``language`` (``en``/``ru``: auth's, as the notifier's e-mails use it, carried by
    the channel lease); English when unknown.
    """
    teaser = lead_html(nodes, LEAD_MAX)
    parts = [f"<b>{html.escape(title, quote=False)}</b>"]
    if teaser:
        parts.append(teaser)
    words = READ_THE_ARTICLE.get(language or "en", READ_THE_ARTICLE["en"])
    parts.append(f'<a href="{html.escape(url)}">{words}</a>')
    return "\n\n".join(parts)


def page_nodes(nodes: list[Node], cover: MediaRef | None) -> list[Node]:
    """The Telegraph page's content: the cover as a leading ``figure``/``img`` when it has a
    public link (``cover.url``), then the article's nodes; ``nodes`` alone otherwise."""
    if cover is None or not cover.url:
        if cover is not None:
            logger.warning("an article's cover has no public link; its page goes without it")
        return nodes
    figure: Node = {"tag": "figure", "children": [{"tag": "img", "attrs": {"src": cover.url}}]}
    return [figure, *nodes]


def message_url(message: dict[str, Any], fallback_chat: str) -> str | None:
    """``https://t.me/<username>/<id>``, or ``https://t.me/c/<id>/<id>`` in a private channel."""
    chat = message.get("chat") or {}
    message_id = message.get("message_id")
    if message_id is None:
        return None
    username = chat.get("username") if isinstance(chat, dict) else None
    if username:
        return f"https://t.me/{username}/{message_id}"
    chat_id = str(chat.get("id", fallback_chat)) if isinstance(chat, dict) else fallback_chat
    if chat_id.startswith("-100"):
        return f"https://t.me/c/{chat_id[4:]}/{message_id}"
    return None


class TelegramPlatform:
    """:class:`cachalot_publishing.ports.Platform` for Telegram channels."""

    def __init__(
        self,
        *,
        store: PostStore,
        bot: BotApi,
        telegraph: Telegraph,
        reports: ChannelReports,
        bot_username: str | None,
        attempts: int,
        person_check_s: float = 60.0,
    ) -> None:
        self._store = store
        self._bot = bot
        self._telegraph = telegraph
        self._reports = reports
        self._bot_username = bot_username
        self._attempts = attempts
        self._person_check_s = person_check_s
        self._may_post: dict[tuple[str, str], float] = {}
        """(chat, person) → when ``getChatMember`` last said the person may post (monotonic)."""
        self._moved: dict[str, str] = {}
        """Chats Telegram moved (old id → new id), followed at once while a cached lease
        still names the old id (auth stores the new one when told)."""

    async def publish(self, command: PublishPost, ctx: Context) -> Published:
        if command.platform != "telegram" or not isinstance(command.options, TelegramOptions):
            raise outcome.failed(outcome.WRONG_PLATFORM, "This command is not for Telegram.")
        record = await self._store.get(command.target_id)
        if record is not None and record.sent:
            return Published(str(record.message_ids[0]), record.remote_url)
        if record is not None and record.started_attempt is not None:
            retried = (
                record.unknown_reported_attempt is not None
                and command.attempt > record.unknown_reported_attempt
            )
            if not retried:
                await self._store.unknown_reported(command.target_id, command.attempt)
                raise outcome.unknown(LABEL, "channel")
        lease = await ctx.lease()
        if not lease.destination:
            raise outcome.reauth(not_linked_reason(self._bot_username), code=CHANNEL_NOT_LINKED)
        send = await self._plan(command, command.options, ctx, record, lease.language)
        chat_id = self._moved.get(lease.destination, lease.destination)
        return await self._post(command, ctx, chat_id, send, person=lease.platform_user_id)

    async def _plan(
        self,
        command: PublishPost,
        options: TelegramOptions,
        ctx: Context,
        record: PostRecord | None,
        language: str | None,
    ) -> Send:
        if command.kind == "video":
            video = command.video()
            files = [_file(ctx, video, "video", _SUFFIX.get(video.content_type, ""))]
            params = {**_caption(options), **_common(options), "supports_streaming": True}
            return Send("sendVideo", params, files)
        if command.kind == "photo":
            images = list(command.images)
            files = [
                _file(ctx, ref, f"photo{i}", _SUFFIX.get(ref.content_type, ""))
                for i, ref in enumerate(images)
            ]
            if len(files) == 1:
                files[0] = UploadFile(
                    "photo", files[0].path, files[0].size, files[0].content_type, files[0].filename
                )
                return Send("sendPhoto", {**_caption(options), **_common(options)}, files)
            media: list[dict[str, Any]] = [
                {"type": "photo", "media": f"attach://{f.field}"} for f in files
            ]
            media[0] |= _caption(options)
            return Send("sendMediaGroup", {"media": media, **_common(options)}, files)
        return await self._article(command, options, ctx, record, language)

    async def _article(
        self,
        command: PublishPost,
        options: TelegramOptions,
        ctx: Context,
        record: PostRecord | None,
        language: str | None,
    ) -> Send:
        article = command.article
        if article is None:
            raise outcome.failed(outcome.MEDIA_INVALID, "This article post has no article.")
        nodes = parse(article.body_html)
        text = to_telegram_html(nodes, title=article.title)
        length = telegram_length(text)
        preview = {"is_disabled": options.disable_link_preview}
        if options.article_as != "telegraph":
            if article.cover is None and length <= TELEGRAM_TEXT_MAX:
                params = {"text": text, "parse_mode": "HTML", "link_preview_options": preview}
                return Send("sendMessage", params | _common(options))
            if article.cover is not None and length <= TELEGRAM_CAPTION_MAX:
                cover = _file(
                    ctx, article.cover, "photo", _SUFFIX.get(article.cover.content_type, "")
                )
                params = {"caption": text, "parse_mode": "HTML", **_common(options)}
                return Send("sendPhoto", params, [cover])
        if options.article_as == "message":
            return self._message_with_cover(text, length, article.cover, options)
        page = await self._page(
            command, ctx, record, article.title, page_nodes(nodes, article.cover)
        )
        params = {
            "text": announcement(article.title, nodes, page.url, language),
            "parse_mode": "HTML",
            "link_preview_options": {**preview, "url": page.url, "prefer_large_media": True},
        }
        return Send("sendMessage", params | _common(options))

    def _message_with_cover(
        self, text: str, length: int, cover: MediaRef | None, options: TelegramOptions
    ) -> Send:
        """``article_as="message"`` when the article is too long for a caption: one message
        whose link preview is the cover (above the text, large), so the client's choice holds.

        The queue refuses an article longer than :data:`TELEGRAM_TEXT_MAX` as a message
        (``targets[i].telegram.article_as``); one that got here anyway fails, never silently
        becoming a Telegraph page. Without the cover's public link (``cover.url``: the queue has
        no ``CACHALOT_PUBLIC_URL``) the message goes without it; ``disable_link_preview`` with a
        cover is refused by the queue (``cover_needs_preview``), so only a post queued before
        that rule goes without it here.
        """
        if length > TELEGRAM_TEXT_MAX:
            raise outcome.failed(
                ARTICLE_TOO_LONG,
                f"This article is {length} UTF-16 code units as a Telegram message (Telegram "
                f"allows {TELEGRAM_TEXT_MAX}); post it with article_as 'auto' or 'telegraph'.",
            )
        preview: dict[str, Any] = {"is_disabled": options.disable_link_preview}
        if cover is not None and cover.url and not options.disable_link_preview:
            preview |= {"url": cover.url, "show_above_text": True, "prefer_large_media": True}
        elif cover is not None and not options.disable_link_preview:
            logger.warning("an article's cover has no public link; its message goes without it")
        params = {"text": text, "parse_mode": "HTML", "link_preview_options": preview}
        return Send("sendMessage", params | _common(options))

    async def _page(
        self,
        command: PublishPost,
        ctx: Context,
        record: PostRecord | None,
        title: str,
        nodes: list[Node],
    ) -> Page:
        """The article's Telegraph page: the recorded one when it was made from this
        command's content (:attr:`PublishPost.made_from`: title, body, cover, options), else a
        new one (``createPage``).

        A page made for other content (the client changed the post after a failed attempt,
        ``PATCH /api/v1/posts/{id}``, then Retry) is never announced for this content, nor
        edited into it: ``editPage`` keeps the page's ``path``, which Telegraph made from the
        *old* title at ``createPage`` (telegra.ph/api: ``createPage`` returns the Page with its
        ``path``; ``editPage`` takes that ``path`` and has no way to change it), so the reader
        would follow a link named after the old title. The old page stays, unlisted, as a
        page orphaned by a crash does (Telegraph has no method to delete a page).

        Telegraph's ``FLOOD_WAIT_<s>`` is the platform asking us to wait, like a Bot API
        429: waited out through ``ctx.sleep`` (a long one goes back to the queue as
        ``rate_limited``, which uses no attempt), then asked again, at most ``attempts``
        times. Raises :class:`~cachalot_publishing.outcome.Outcome`: ``network`` when
        Telegraph cannot be reached, ``failed`` (``telegraph_refused``) for any other refusal.
        """
        made_from = command.made_from
        if (
            record is not None
            and record.telegraph_path
            and record.telegraph_url
            and record.telegraph_made_from == made_from
        ):
            return Page(record.telegraph_path, record.telegraph_url)
        for _ in range(self._attempts):
            try:
                page = await self._telegraph.create_page(title, nodes)
            except TelegraphError as error:
                if not error.reachable:
                    raise outcome.network("Telegraph", error.error) from None
                wait = error.flood_wait_s
                if wait is None:
                    raise outcome.failed(
                        TELEGRAPH_REFUSED, f"Telegraph refused the article's page ({error.error})."
                    ) from None
                logger.info("target %s: Telegraph asks to wait %d s", command.target_id, wait)
                await ctx.sleep(
                    wait,
                    code=outcome.RATE_LIMITED,
                    reason=f"Telegraph asked to wait {wait:.0f} s; will retry.",
                )
                continue
            await self._store.telegraph_page(
                _target(command), path=page.path, url=page.url, made_from=made_from
            )
            return page
        raise outcome.rate_limited("Telegraph", 60)

    async def _post(
        self, command: PublishPost, ctx: Context, chat_id: str, send: Send, *, person: str | None
    ) -> Published:
        target = _target(command)
        await ctx.confirm_lease()  # the account may have been disconnected meanwhile
        chat_id = await self._person_may_post(command, ctx, chat_id, person)
        for _ in range(self._attempts):
            await self._store.begin_send(
                target, attempt=command.attempt, chat_id=chat_id, method=send.method
            )
            params = {"chat_id": chat_id, **send.params}
            try:
                if send.files:
                    result = await self._bot.upload(
                        send.method, params, send.files, progress=ctx.progress
                    )
                else:
                    result = await self._bot.call(send.method, params)
            except OutcomeUnknown as error:
                logger.warning(
                    "target %s: %s answer lost (%s); outcome unknown",
                    command.target_id,
                    send.method,
                    error.detail,
                )
                await self._store.unknown_reported(command.target_id, command.attempt)
                raise outcome.unknown(LABEL, "channel") from None
            except NotSent as error:
                await self._store.not_sent(command.target_id)
                raise outcome.network(LABEL, error.detail) from None
            except OSError as error:  # the file, while streaming: Telegram got a broken body
                await self._store.not_sent(command.target_id)
                raise outcome.retryable(
                    outcome.MEDIA_UNREADABLE,
                    f"Reading the media failed ({type(error).__name__}).",
                    30,
                ) from None
            except BotApiError as error:
                await self._store.not_sent(command.target_id)
                new_chat = await self._refusal(command, ctx, chat_id, error)
                chat_id = new_chat or chat_id
                continue
            messages = result if isinstance(result, list) else [result]
            ids = [int(m["message_id"]) for m in messages if isinstance(m, dict)]
            url = message_url(messages[0], chat_id) if messages else None
            await self._store.sent(
                command.target_id, chat_id=chat_id, message_ids=ids, remote_url=url
            )
            return Published(str(ids[0]), url)
        raise outcome.rate_limited(LABEL, 60)

    async def _person_may_post(
        self, command: PublishPost, ctx: Context, chat_id: str, person: str | None
    ) -> str:
        """The chat to post in, once ``person`` (who linked it) may post there: a yes kept
        ``person_check_s``, else ``getChatMember`` (its 429s waited out, a move followed, a
        bot outside the channel a broken link, as for a post). Raises the ``reauth`` Outcome
        ``channel_rights_lost`` (the link reported broken to auth) when the person is not
        the creator nor an administrator allowed to post; ``network`` when Telegram is not
        reached. ``person`` None (an older auth): nothing to check by."""
        if not person:
            return chat_id
        for _ in range(self._attempts):
            checked = self._may_post.get((chat_id, person))
            if checked is not None and time.monotonic() - checked < self._person_check_s:
                return chat_id
            try:
                member = await self._bot.call(
                    "getChatMember", {"chat_id": chat_id, "user_id": person}
                )
            except (NotSent, OutcomeUnknown) as error:
                raise outcome.network(LABEL, error.detail) from None
            except BotApiError as error:
                if error.error_code == 400 and "user not found" in error.description.lower():
                    member = {"status": "left"}  # Telegram knows no such person (any more)
                else:
                    chat_id = await self._refusal(command, ctx, chat_id, error) or chat_id
                    continue
            if not isinstance(member, dict) or not may_post(member):
                logger.info(
                    "account %s: the person who linked the channel may not post there (%s)",
                    command.account_id,
                    member.get("status") if isinstance(member, dict) else "?",
                )
                await self._reports.broken(command, chat_id=chat_id, reason=RIGHTS_LOST_REASON)
                raise outcome.reauth(RIGHTS_LOST_REASON, code=CHANNEL_RIGHTS_LOST)
            if len(self._may_post) >= 10_000:
                self._may_post.clear()
            self._may_post[(chat_id, person)] = time.monotonic()
            return chat_id
        raise outcome.rate_limited(LABEL, 60)

    async def _refusal(
        self, command: PublishPost, ctx: Context, chat_id: str, error: BotApiError
    ) -> str | None:
        """Wait (``retry_after``), follow (``migrate_to_chat_id``: the new id), or raise."""
        if error.retry_after is not None:
            logger.info(
                "target %s: chat %s waits %d s (%s)",
                command.target_id,
                chat_id,
                error.retry_after,
                "held by an earlier 429" if error.held else "Telegram's 429",
            )
            await ctx.sleep(
                error.retry_after,
                code=outcome.RATE_LIMITED,
                reason=f"Telegram asked to wait {error.retry_after:.0f} s; will retry.",
            )
            return None
        if error.migrate_to_chat_id is not None:
            new = str(error.migrate_to_chat_id)
            logger.info("account %s: chat moved to a new id; following", command.account_id)
            self._moved[chat_id] = new
            title = await self._chat_title(new)
            await self._reports.migrated(command, old=chat_id, new=new, title=title)
            return new
        description = error.description.lower()
        if error.error_code == 403 or any(words in description for words in _NO_RIGHTS):
            reason = fix_reason(self._bot_username)
            await self._reports.broken(command, chat_id=chat_id, reason=reason)
            raise outcome.reauth(reason, code=CHANNEL_LINK_BROKEN)
        if error.error_code == 401:
            raise outcome.retryable(
                BOT_UNAUTHORIZED,
                "Telegram refused our bot's token; the operator must fix it. Will retry.",
                600,
            )
        if error.error_code >= 500:
            raise outcome.unavailable(LABEL, error.error_code)
        if error.error_code == 413:
            raise outcome.failed(TELEGRAM_REFUSED, "Telegram says the file is too large to send.")
        refused = truncate(error.description, 300)
        raise outcome.failed(TELEGRAM_REFUSED, f"Telegram refused the post: {refused}")

    async def _chat_title(self, chat_id: str) -> str | None:
        """``getChat``'s title of the chat a post moved to (a supergroup may be renamed as
        it is upgraded); ``None`` when Telegram does not say (best effort: the move is
        reported either way)."""
        try:
            chat = await self._bot.call("getChat", {"chat_id": chat_id})
        except (BotApiError, NotSent, OutcomeUnknown) as error:
            logger.info("getChat of a moved chat failed (%s); title not reported", error)
            return None
        title = chat.get("title") if isinstance(chat, dict) else None
        return truncate(title, 256) if isinstance(title, str) and title else None


def _target(command: PublishPost) -> Target:
    return Target(command.target_id, command.post_id, command.account_id)
