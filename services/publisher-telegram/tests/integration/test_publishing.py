"""publisher-telegram against real Tansu, PostgreSQL, the sandbox's Telegram and Telegraph."""

from __future__ import annotations

import asyncio
import html
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from cachalot_common.articles import parse, telegram_length
from cachalot_common.events import Article
from cachalot_testing.processes import ServiceProcess

from .harness import (
    BOT_USERNAME,
    CHANNEL_ID,
    OWNER,
    PERSON,
    AuthStandIn,
    Commands,
    Results,
    sha256_of,
)

pytestmark = pytest.mark.integration

RandomFile = Callable[..., Path]


def posts(telegram: httpx.Client) -> list[dict[str, Any]]:
    return list(telegram.get("/sandbox/telegram/messages").json()["messages"])


def kept_bytes(telegram: httpx.Client, post: dict[str, Any]) -> bytes:
    return telegram.get(f"/sandbox/telegram/files/{post['files'][0]['file_unique_id']}").content


async def test_a_video_is_sent_with_send_video_streamed_and_its_bytes_arrive_intact(
    publisher: ServiceProcess,
    telegram: httpx.Client,
    commands: Commands,
    results: Results,
    random_file: RandomFile,
) -> None:
    video = random_file(3 * 1024 * 1024 + 17)
    command = commands.command("video", video=video, caption="<b>New</b> episode")
    await commands.send(command)

    result = await results.final(command.target_id)
    assert result.type == "published", result.reason
    [post] = posts(telegram)
    assert (post["method"], post["kind"], post["text"]) == ("sendVideo", "video", "New episode")
    assert post["options"]["supports_streaming"] == "true"
    assert post["files"][0]["sha256"] == sha256_of(video)
    assert kept_bytes(telegram, post) == video.read_bytes()
    assert result.remote_url == f"https://t.me/cachalot_posts/{post['message_id']}"


@pytest.mark.parametrize("count", [1, 3])
async def test_a_photo_post_goes_out_as_one_photo_or_one_media_group_in_order(
    publisher: ServiceProcess,
    telegram: httpx.Client,
    commands: Commands,
    results: Results,
    random_file: RandomFile,
    count: int,
) -> None:
    images = tuple(random_file(50_000 + i, ".jpg") for i in range(count))
    command = commands.command("photo", images=images, caption="<i>Our</i> album")
    await commands.send(command)

    result = await results.final(command.target_id)
    assert result.type == "published", result.reason
    sent = posts(telegram)
    assert [p["method"] for p in sent] == ["sendPhoto" if count == 1 else "sendMediaGroup"] * count
    assert [p["files"][0]["sha256"] for p in sent] == [sha256_of(i) for i in images]
    assert [kept_bytes(telegram, p) for p in sent] == [i.read_bytes() for i in images]
    assert sent[0]["text"] == "Our album"
    assert len({p["media_group_id"] for p in sent}) == 1
    assert result.remote_id == str(sent[0]["message_id"])


async def test_a_short_article_is_one_html_message_with_the_link_preview_the_client_chose(
    publisher: ServiceProcess, telegram: httpx.Client, commands: Commands, results: Results
) -> None:
    body = '<p>Hello <b>world</b>, see <a href="https://example.com/x">this</a>.</p><p>Bye.</p>'
    article = Article(title="A short one", body_html=body)
    command = commands.command("article", article=article, disable_link_preview=True)
    await commands.send(command)

    result = await results.final(command.target_id)
    assert result.type == "published", result.reason
    [post] = posts(telegram)
    assert post["method"] == "sendMessage"
    assert post["text"] == "A short one\n\nHello world, see this.\n\nBye."
    assert {e["type"] for e in post["entities"]} == {"bold", "text_link"}
    assert '"is_disabled": true' in post["options"]["link_preview_options"]
    assert telegram.get("/sandbox/telegraph/pages").json()["count"] == 0


async def test_a_12000_character_article_becomes_a_telegraph_page_announced_in_the_channel(
    publisher: ServiceProcess, telegram: httpx.Client, commands: Commands, results: Results
) -> None:
    paragraphs = [
        f"<p>Paragraph {i}: " + "lorem ipsum dolor sit amet " * 20 + "</p>" for i in range(22)
    ]
    body = "".join(paragraphs)
    nodes = parse(body)
    assert sum(len(p) for p in paragraphs) > 12_000
    assert telegram_length(html.escape("x") + body) > 4096
    command = commands.command("article", article=Article(title="The long read", body_html=body))
    await commands.send(command)

    result = await results.final(command.target_id)
    assert result.type == "published", result.reason
    [page] = telegram.get("/sandbox/telegraph/pages").json()["pages"]
    assert page["title"] == "The long read"
    assert page["content"] == nodes  # node for node
    [post] = posts(telegram)
    assert post["method"] == "sendMessage"
    assert post["text"].startswith("The long read\n\nParagraph 0: lorem ipsum")
    assert any(e.get("url") == page["url"] for e in post["entities"])
    assert page["url"] in post["options"]["link_preview_options"]
    assert telegram_length(post["raw_text"]) <= 4096


async def test_a_short_article_announced_with_its_telegraph_page_keeps_the_leads_links(
    publisher: ServiceProcess, telegram: httpx.Client, commands: Commands, results: Results
) -> None:
    body = '<p>Read <a href="https://example.com/guide">the guide</a> and <i>act</i>.</p>'
    article = Article(title="Short", body_html=body)
    command = commands.command("article", article=article, article_as="telegraph")
    await commands.send(command)

    result = await results.final(command.target_id)
    assert result.type == "published", result.reason
    [page] = telegram.get("/sandbox/telegraph/pages").json()["pages"]
    [post] = posts(telegram)
    assert post["text"] == "Short\n\nRead the guide and act.\n\nRead the article"
    links = [(e["offset"], e["length"], e["url"]) for e in post["entities"] if e.get("url")]
    assert links == [(12, 9, "https://example.com/guide"), (32, 16, page["url"])]
    assert {e["type"] for e in post["entities"]} == {"bold", "italic", "text_link"}


@pytest.mark.parametrize(
    ("language", "words"),
    [("ru", "Читать статью"), ("en", "Read the article"), (None, "Read the article")],
)
async def test_a_telegraph_announcement_links_the_page_in_the_clients_language(
    publisher: ServiceProcess,
    telegram: httpx.Client,
    commands: Commands,
    results: Results,
    auth_stand_in: AuthStandIn,
    language: str | None,
    words: str,
) -> None:
    """The link's words are the client's language (auth's, on the channel lease), English
    when auth says none."""
    article = Article(title="Статья", body_html="<p>Первый абзац.</p>")
    command = commands.command("article", article=article, article_as="telegraph")
    if language is not None:
        auth_stand_in.languages[str(command.account_id)] = language
    await commands.send(command)

    result = await results.final(command.target_id)
    assert result.type == "published", result.reason
    [page] = telegram.get("/sandbox/telegraph/pages").json()["pages"]
    [post] = posts(telegram)
    assert post["text"] == f"Статья\n\nПервый абзац.\n\n{words}"
    [link] = [e for e in post["entities"] if e.get("url")]
    assert (link["url"], link["length"]) == (page["url"], len(words))


@pytest.mark.parametrize(
    ("status", "description", "code"),
    [
        (400, "Bad Request: message is too long", "telegram_refused"),
        (403, "Forbidden: bot is not a member of the channel chat", "channel_link_broken"),
    ],
    ids=["failed", "paused"],
)
async def test_an_article_changed_after_a_failed_announcement_is_announced_with_a_new_page(
    publisher: ServiceProcess,
    telegram: httpx.Client,
    commands: Commands,
    results: Results,
    status: int,
    description: str,
    code: str,
) -> None:
    """The page made for the first attempt's content is not announced for the changed
    content of the next attempt (issue 10: the client changed the post, then Retry)."""
    telegram.post(
        "/sandbox/telegram/faults",
        json={
            "responses": [{"status": status, "description": description, "method": "sendMessage"}]
        },
    ).raise_for_status()
    old = Article(title="Retry A1", body_html="<p>OLD retry body A1</p>")
    command = commands.command("article", article=old, article_as="telegraph")
    await commands.send(command)
    failed = await results.final(command.target_id, 1)
    assert (failed.type, failed.code) == ("failed", code)

    new = Article(title="Retry A2", body_html="<p>NEW retry body A2</p>")
    again = command.model_copy(update={"attempt": 2, "article": new})
    await commands.send(again)

    result = await results.final(command.target_id, 2)
    assert result.type == "published", result.reason
    pages = {p["title"]: p for p in telegram.get("/sandbox/telegraph/pages").json()["pages"]}
    assert pages["Retry A2"]["content"] == parse(new.body_html)
    [post] = posts(telegram)
    assert post["text"].startswith("Retry A2\n\nNEW retry body A2")
    [link] = [e["url"] for e in post["entities"] if e.get("url")]
    assert link == pages["Retry A2"]["url"]
    assert pages["Retry A2"]["url"] in post["options"]["link_preview_options"]


async def test_a_long_articles_cover_opens_its_telegraph_page_by_its_signed_link(
    publisher: ServiceProcess,
    telegram: httpx.Client,
    commands: Commands,
    results: Results,
    random_file: RandomFile,
) -> None:
    body = "".join(f"<p>Part {i}: " + "whales sing at dusk " * 30 + "</p>" for i in range(10))
    link = "https://cachalot.example/media/v1/cover/1999999999/" + "s" * 43
    cover = commands.ref(random_file(40_000, ".jpg"), "image/jpeg").model_copy(update={"url": link})
    article = Article(title="With a cover", body_html=body, cover=cover)
    command = commands.command("article", article=article)
    await commands.send(command)

    result = await results.final(command.target_id)
    assert result.type == "published", result.reason
    [page] = telegram.get("/sandbox/telegraph/pages").json()["pages"]
    assert page["content"] == [
        {"tag": "figure", "children": [{"tag": "img", "attrs": {"src": link}}]},
        *parse(body),
    ]
    [post] = posts(telegram)
    assert post["method"] == "sendMessage"  # the announcement; its preview shows the cover
    assert post["text"].startswith("With a cover\n\nPart 0: whales")


async def test_article_as_message_with_a_cover_and_2000_characters_is_one_message_showing_the_cover(
    publisher: ServiceProcess,
    telegram: httpx.Client,
    commands: Commands,
    results: Results,
    random_file: RandomFile,
) -> None:
    body = "".join(f"<p>Part {i}: " + "whales sing at dusk " * 10 + "</p>" for i in range(10))
    assert 1024 < telegram_length(body) < 4096
    link = "https://cachalot.example/media/v1/cover/1999999999/" + "s" * 43
    cover = commands.ref(random_file(40_000, ".jpg"), "image/jpeg").model_copy(update={"url": link})
    article = Article(title="As a message", body_html=body, cover=cover)
    command = commands.command("article", article=article, article_as="message")
    await commands.send(command)

    result = await results.final(command.target_id)
    assert result.type == "published", result.reason
    assert telegram.get("/sandbox/telegraph/pages").json()["count"] == 0
    [post] = posts(telegram)
    assert post["method"] == "sendMessage"
    assert post["text"].startswith("As a message\n\nPart 0: whales")
    assert post["text"].endswith("Part 9: " + "whales sing at dusk " * 9 + "whales sing at dusk")
    preview = json.loads(post["options"]["link_preview_options"])
    assert preview == {
        "is_disabled": False,
        "url": link,
        "show_above_text": True,
        "prefer_large_media": True,
    }


async def test_a_429_retry_after_is_waited_out_in_full_then_the_post_goes_out_once(
    publisher: ServiceProcess,
    telegram: httpx.Client,
    commands: Commands,
    results: Results,
    random_file: RandomFile,
) -> None:
    telegram.post(
        "/sandbox/telegram/faults",
        json={"responses": [{"status": 429, "retry_after": 3, "method": "sendPhoto"}]},
    ).raise_for_status()
    command = commands.command("photo", images=(random_file(10_000, ".jpg"),))
    began = time.monotonic()
    await commands.send(command)

    result = await results.final(command.target_id)
    assert result.type == "published", result.reason
    assert time.monotonic() - began >= 3
    assert telegram.get("/sandbox/telegram/calls").json()["calls"]["sendPhoto"] >= 2
    assert len(posts(telegram)) == 1


async def test_a_telegraph_flood_wait_is_waited_out_in_the_same_attempt_then_one_page_goes_out(
    publisher: ServiceProcess, telegram: httpx.Client, commands: Commands, results: Results
) -> None:
    """Telegraph's FLOOD_WAIT_<s> is the platform asking us to wait, like a Bot API 429: it
    is waited out (``ctx.sleep``) and uses no attempt, never handed back as a new one."""
    telegram.post("/sandbox/telegraph/faults", json={"errors": ["FLOOD_WAIT_2"]}).raise_for_status()
    body = "".join(
        f"<p>Part {i}: " + "words enough to need a page " * 30 + "</p>" for i in range(8)
    )
    command = commands.command("article", article=Article(title="Waited out", body_html=body))
    began = time.monotonic()
    await commands.send(command)

    result = await results.final(command.target_id)
    assert (result.type, result.attempt) == ("published", command.attempt), result.reason
    assert time.monotonic() - began >= 2
    assert [r.type for r in results.finals(command.target_id)] == ["published"]
    [page] = telegram.get("/sandbox/telegraph/pages").json()["pages"]
    assert page["title"] == "Waited out"
    [post] = posts(telegram)
    assert page["url"] in post["options"]["link_preview_options"]


async def test_a_429_holds_the_channel_for_every_post_not_only_the_one_that_met_it(
    publisher: ServiceProcess,
    telegram: httpx.Client,
    commands: Commands,
    results: Results,
    random_file: RandomFile,
) -> None:
    """The flood wait belongs to the chat (Bot API): a second post to the same channel,
    sent while the first waits out its 429, waits too, and never calls Telegram before
    the wait is over (the sandbox holds the chat as Telegram does and counts such calls)."""
    before = telegram.get("/sandbox/telegram/waits").json()["ignored"]
    photos_before = telegram.get("/sandbox/telegram/calls").json()["calls"].get("sendPhoto", 0)
    telegram.post(
        "/sandbox/telegram/faults",
        json={"responses": [{"status": 429, "retry_after": 4, "method": "sendPhoto"}]},
    ).raise_for_status()
    first = commands.command("photo", images=(random_file(10_000, ".jpg"),))
    second = commands.command("photo", images=(random_file(10_000, ".jpg"),))
    began = time.monotonic()
    await commands.send(first)
    deadline = time.monotonic() + 30
    while f"target {first.target_id}: chat" not in publisher.output():  # the 429 is read
        assert time.monotonic() < deadline, "the first post never met its 429"
        await asyncio.sleep(0.05)
    await commands.send(second)

    for command in (first, second):
        result = await results.final(command.target_id)
        assert result.type == "published", result.reason
    assert time.monotonic() - began >= 4
    assert telegram.get("/sandbox/telegram/waits").json()["ignored"] == before
    photos = telegram.get("/sandbox/telegram/calls").json()["calls"]["sendPhoto"]
    assert photos - photos_before == 3  # the 429, then each post once


async def test_migrate_to_chat_id_is_followed_and_reported_to_auth(
    publisher: ServiceProcess,
    telegram: httpx.Client,
    commands: Commands,
    results: Results,
    auth_stand_in: AuthStandIn,
) -> None:
    # a chat of this test's own: the publisher (shared by the module) remembers moves
    chat, moved_to = -1002000000001, -1002000000002
    for chat_id, name in ((chat, "before"), (moved_to, "moved")):
        telegram.post(
            "/sandbox/telegram/channels",
            json={"id": chat_id, "title": name, "username": name, "admins": OWNER},
        ).raise_for_status()
    telegram.post(
        "/sandbox/telegram/faults",
        json={"responses": [{"status": 400, "migrate_to_chat_id": moved_to}]},
    ).raise_for_status()
    command = commands.command("article", article=Article(title="Moved", body_html="<p>Hi</p>"))
    auth_stand_in.destinations[str(command.account_id)] = str(chat)
    await commands.send(command)

    result = await results.final(command.target_id)
    assert result.type == "published", result.reason
    [post] = posts(telegram)
    assert post["chat_id"] == moved_to
    [report] = [r for r in auth_stand_in.reports if r["account_id"] == str(command.account_id)]
    assert report["event"] == "migrated"
    assert (report["chat_id"], report["migrate_to_chat_id"]) == (str(chat), str(moved_to))
    assert report["title"] == "moved"  # getChat of the chat it moved to
    assert report["grant"] == command.grant


async def test_a_moved_chat_is_reported_with_its_new_title_and_later_posts_go_straight_there(
    publisher: ServiceProcess,
    telegram: httpx.Client,
    commands: Commands,
    results: Results,
    auth_stand_in: AuthStandIn,
) -> None:
    # a chat of this test's own (the publisher, shared by the module, remembers moves)
    chat, moved_to = -1002000000013, -1002000000014
    telegram.post(
        "/sandbox/telegram/channels",
        json={"id": chat, "title": "Posts", "username": "posts13", "admins": OWNER},
    ).raise_for_status()
    telegram.put(
        f"/sandbox/telegram/migrations/{chat}",
        json={"migrate_to_chat_id": moved_to, "title": "Posts, upgraded"},
    ).raise_for_status()
    first = commands.command("article", article=Article(title="One", body_html="<p>Hi</p>"))
    auth_stand_in.destinations[str(first.account_id)] = str(chat)
    await commands.send(first)
    assert (await results.final(first.target_id)).type == "published"
    [report] = [r for r in auth_stand_in.reports if r["account_id"] == str(first.account_id)]
    assert (report["event"], report["migrate_to_chat_id"], report["title"]) == (
        "migrated",
        str(moved_to),
        "Posts, upgraded",
    )
    # a lease cached before auth heard of the move still names the old chat: the
    # publisher remembers the move and does not knock at the old id again
    calls_before = telegram.get("/sandbox/telegram/calls").json()["calls"]["sendMessage"]
    second = commands.command("article", article=Article(title="Two", body_html="<p>Hi</p>"))
    auth_stand_in.destinations[str(second.account_id)] = str(chat)
    await commands.send(second)
    assert (await results.final(second.target_id)).type == "published"
    calls = telegram.get("/sandbox/telegram/calls").json()["calls"]["sendMessage"]
    assert calls == calls_before + 1
    assert [p["chat_id"] for p in posts(telegram)] == [moved_to, moved_to]


async def test_a_bot_that_is_no_admin_fails_with_the_fix_and_marks_the_link_broken(
    publisher: ServiceProcess,
    telegram: httpx.Client,
    commands: Commands,
    results: Results,
    auth_stand_in: AuthStandIn,
) -> None:
    telegram.post(
        "/sandbox/telegram/channels",
        json={
            "id": CHANNEL_ID,
            "title": "Posts",
            "username": "cachalot_posts",
            "bot_status": "left",
        },
    ).raise_for_status()
    command = commands.command("article", article=Article(title="Hi", body_html="<p>Hi</p>"))
    await commands.send(command)

    result = await results.final(command.target_id)
    assert (result.type, result.code, result.reauth_required) == (
        "failed",
        "channel_link_broken",
        True,
    )
    assert f"add @{BOT_USERNAME} as an administrator of the channel" in (result.reason or "")
    [report] = [r for r in auth_stand_in.reports if r["account_id"] == str(command.account_id)]
    assert report["event"] == "broken"
    assert posts(telegram) == []


async def test_a_post_for_a_person_who_may_not_post_in_the_channel_pauses_and_marks_the_link_broken(
    publisher: ServiceProcess,
    telegram: httpx.Client,
    commands: Commands,
    results: Results,
    auth_stand_in: AuthStandIn,
) -> None:
    """lease10: an admin without "Post messages", or one demoted after linking, had our bot
    post for them. Before each post the person's right is asked again (getChatMember)."""
    chat = -1002000000021
    channel = {"id": chat, "title": "Shared", "username": "shared21", "admins": OWNER}
    telegram.post("/sandbox/telegram/channels", json=channel).raise_for_status()
    first = commands.command("article", article=Article(title="One", body_html="<p>1</p>"))
    auth_stand_in.destinations[str(first.account_id)] = str(chat)
    await commands.send(first)
    assert (await results.final(first.target_id)).type == "published"
    demoted = [
        {"user_id": 700000002, "status": "creator"},
        {"user_id": PERSON, "status": "administrator", "can_post_messages": False},
    ]
    for admins in (demoted, [{"user_id": 700000002, "status": "creator"}]):
        telegram.post(
            "/sandbox/telegram/channels", json=channel | {"admins": admins}
        ).raise_for_status()
        command = commands.command("article", article=Article(title="Two", body_html="<p>2</p>"))
        auth_stand_in.destinations[str(command.account_id)] = str(chat)
        await commands.send(command)
        result = await results.final(command.target_id)
        assert (result.type, result.code, result.reauth_required) == (
            "failed",
            "channel_rights_lost",
            True,
        )
        assert "ask the channel's owner" in (result.reason or "")
        [report] = [r for r in auth_stand_in.reports if r["account_id"] == str(command.account_id)]
        assert (report["event"], report["chat_id"]) == ("broken", str(chat))
    assert [p["text"].split("\n")[0] for p in posts(telegram)] == ["One"]


async def test_an_account_without_a_linked_channel_is_told_to_link_one(
    publisher: ServiceProcess,
    telegram: httpx.Client,
    commands: Commands,
    results: Results,
    auth_stand_in: AuthStandIn,
) -> None:
    command = commands.command("article", article=Article(title="Hi", body_html="<p>Hi</p>"))
    auth_stand_in.unlinked.add(str(command.account_id))
    await commands.send(command)

    result = await results.final(command.target_id)
    assert (result.type, result.code) == ("failed", "channel_not_linked")
    assert "link a channel first" in (result.reason or "")
    assert posts(telegram) == []


async def test_a_redelivered_command_answers_published_again_without_posting_twice(
    publisher: ServiceProcess, telegram: httpx.Client, commands: Commands, results: Results
) -> None:
    command = commands.command("article", article=Article(title="Once", body_html="<p>1</p>"))
    await commands.send(command)
    first = await results.final(command.target_id)
    await commands.send(command)
    deadline = time.monotonic() + 30
    while len([r for r in results.for_target(command.target_id) if r.type != "progress"]) < 2:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    second = results.for_target(command.target_id)[-1]
    assert (first.type, second.type) == ("published", "published")
    assert first.remote_id == second.remote_id
    assert len(posts(telegram)) == 1
