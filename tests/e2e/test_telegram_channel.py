"""End to end: a Telegram person signs in, queues a video, links a channel, and it is posted;
then a photo album and a long article (a Telegraph page with its cover) go to the same channel.

Everything runs as `make dev` runs it (gateway, auth, queue, publisher-telegram,
sandbox, a real broker); only Telegram is a fake. A post to an account with no
channel is refused when queued, naming the target and the fix (link a channel); it
goes out, once, after linking. A link our bot loses makes the account
``needs_channel``: its waiting posts pause, new ones are refused, linking again resumes.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cachalot_testing.clients import create_post, upload_media
from cachalot_testing.media import image_file
from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.e2e

VIDEO = Path(__file__).resolve().parents[1] / "fixtures" / "sample.mp4"
PERSON = 700000001  # a Login Widget user the sandbox knows
CHANNEL_ID = -1003000000003


@pytest.fixture(scope="module")
def client(stack: EmbeddedStack) -> Iterator[httpx.Client]:
    """A client signed in with Telegram's Login Widget (the sandbox's), consent given."""
    with httpx.Client(follow_redirects=False, timeout=30) as http:
        start = http.get(f"{stack.gateway}/api/v1/auth/telegram/login", params={"next": "/"})
        assert start.status_code == 302, start.text
        widget = httpx.URL(start.headers["location"]).copy_merge_params(
            {"sandbox_auto": "1", "user": str(PERSON)}
        )
        back = http.get(widget)
        assert back.status_code in (302, 303), back.text
        landed = http.get(back.headers["location"])
        assert landed.status_code in (302, 303), landed.text
        consent = http.post(
            f"{stack.gateway}/api/v1/me/consent",
            json={"adult": True, "email": f"tg-{uuid.uuid4().hex[:6]}@example.com"},
        )
        assert consent.status_code == 200, consent.text
        yield http


def _telegram_account(client: httpx.Client, stack: EmbeddedStack) -> dict[str, Any]:
    accounts = client.get(f"{stack.gateway}/api/v1/accounts").json()
    [account] = [a for a in accounts if a["platform"] == "telegram"]
    return dict(account)


def _target(client: httpx.Client, stack: EmbeddedStack, post_id: str) -> dict[str, Any]:
    return dict(client.get(f"{stack.gateway}/api/v1/posts/{post_id}").json()["targets"][0])


def _until(check: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError("condition never held")


def _set_up_channel(stack: EmbeddedStack, chat_id: int, username: str, title: str) -> None:
    """A sandbox channel the signed-in person created, our bot an administrator in it."""
    httpx.post(
        f"{stack.sandbox}/sandbox/telegram/channels",
        json={
            "id": chat_id,
            "username": username,
            "title": title,
            "admins": [{"user_id": PERSON, "status": "creator"}],
        },
        timeout=5,
    ).raise_for_status()


def test_a_video_for_an_account_without_a_channel_is_refused_then_goes_out_once_after_linking(
    client: httpx.Client, stack: EmbeddedStack
) -> None:
    _set_up_channel(stack, CHANNEL_ID, "cachalot_e2e", "E2E channel")
    account = _telegram_account(client, stack)
    assert (account["status"], account["needs_channel"]) == ("needs_channel", True)

    media = client.post(
        f"{stack.gateway}/api/v1/media",
        content=VIDEO.read_bytes(),
        headers={"content-type": "video/mp4"},
    ).json()
    marker = uuid.uuid4().hex[:8]
    body = {
        "media_id": media["id"],
        "targets": [
            {"account_id": account["id"], "telegram": {"caption": f"<b>Whale</b> {marker}"}}
        ],
    }
    refused = _until(  # the queue learns of the account from auth's accounts.v1
        lambda: (
            r
            if (r := client.post(f"{stack.gateway}/api/v1/posts", json=body)).status_code == 422
            else None
        ),
        timeout=30,
    )
    [error] = refused.json()["errors"]
    assert error["field"] == "targets[0].account_id"
    assert "link a channel" in error["message"]
    assert "reconnect" not in error["message"].lower(), "the fix, not a re-authorisation"

    linked = client.put(
        f"{stack.gateway}/api/v1/accounts/{account['id']}/telegram-channel",
        json={"channel": "@cachalot_e2e"},
    )
    assert linked.status_code == 200, linked.text
    assert (linked.json()["status"], linked.json()["needs_channel"]) == ("ok", False)
    created = _until(  # accepted once the queue has auth's connected
        lambda: (
            r
            if (r := client.post(f"{stack.gateway}/api/v1/posts", json=body)).status_code == 201
            else None
        ),
        timeout=30,
    )
    post_id = created.json()["id"]

    done = _until(
        lambda: (
            t
            if (t := _target(client, stack, post_id))["status"] in ("published", "failed")
            else None
        )
    )
    assert done["status"] == "published", done
    assert done["remote_url"].startswith("https://t.me/cachalot_e2e/")
    posted = httpx.get(
        f"{stack.sandbox}/sandbox/telegram/messages", params={"chat_id": str(CHANNEL_ID)}, timeout=5
    ).json()["messages"]
    assert [(p["method"], p["text"]) for p in posted] == [("sendVideo", f"Whale {marker}")]
    assert posted[0]["files"][0]["sha256"] == hashlib.sha256(VIDEO.read_bytes()).hexdigest()


@pytest.fixture
def linked(client: httpx.Client, stack: EmbeddedStack) -> dict[str, Any]:
    """The client's Telegram account with the channel linked (linked here when run alone)."""
    account = _telegram_account(client, stack)
    if account["needs_channel"]:
        _set_up_channel(stack, CHANNEL_ID, "cachalot_e2e", "E2E channel")
        linked = client.put(
            f"{stack.gateway}/api/v1/accounts/{account['id']}/telegram-channel",
            json={"channel": "@cachalot_e2e"},
        )
        assert linked.status_code == 200, linked.text
        account = linked.json()
    return account


def _queue(client: httpx.Client, stack: EmbeddedStack, body: dict[str, Any]) -> str:
    return create_post(client, stack.gateway, body)


def _done(client: httpx.Client, stack: EmbeddedStack, post_id: str) -> dict[str, Any]:
    return dict(
        _until(
            lambda: (
                t
                if (t := _target(client, stack, post_id))["status"] in ("published", "failed")
                else None
            )
        )
    )


def _messages(stack: EmbeddedStack) -> list[dict[str, Any]]:
    return list(
        httpx.get(
            f"{stack.sandbox}/sandbox/telegram/messages",
            params={"chat_id": str(CHANNEL_ID)},
            timeout=5,
        ).json()["messages"]
    )


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_three_photo_album_goes_out_once_as_one_media_group_in_order(
    client: httpx.Client, stack: EmbeddedStack, linked: dict[str, Any]
) -> None:
    marker = uuid.uuid4().hex[:8]
    images = [image_file(colour=c).read_bytes() for c in ("0x601020", "0x802040", "0xa04060")]
    ids = [upload_media(client, stack.gateway, b, "image/jpeg")["id"] for b in images]
    post_id = _queue(
        client,
        stack,
        {
            "kind": "photo",
            "image_ids": ids,
            "targets": [
                {"account_id": linked["id"], "telegram": {"caption": f"<i>Album</i> {marker}"}}
            ],
        },
    )
    done = _done(client, stack, post_id)
    assert done["status"] == "published", done
    time.sleep(1.0)  # a late duplicate would show up now
    [first] = [m for m in _messages(stack) if m["text"] == f"Album {marker}"]
    album = [m for m in _messages(stack) if m["media_group_id"] == first["media_group_id"]]
    assert [m["method"] for m in album] == ["sendMediaGroup"] * 3
    assert [m["files"][0]["sha256"] for m in album] == [_sha(b) for b in images]
    assert done["remote_url"] == f"https://t.me/cachalot_e2e/{first['message_id']}"


def test_a_12000_character_article_is_a_telegraph_page_with_its_cover_announced_once(
    client: httpx.Client, stack: EmbeddedStack, linked: dict[str, Any]
) -> None:
    marker = uuid.uuid4().hex[:8]
    cover = image_file(width=1200, height=630, colour="0x224466").read_bytes()
    cover_id = upload_media(client, stack.gateway, cover, "image/jpeg")["id"]
    body = "".join(
        f"<p>Part {i}: " + "the sperm whale dives deeper than any other " * 12 + "</p>"
        for i in range(23)
    )
    assert len(parse_text(body)) > 12_000
    title = f"Deep divers {marker}"
    post_id = _queue(
        client,
        stack,
        {
            "kind": "article",
            "article": {"title": title, "body_html": body, "cover_media_id": cover_id},
            "targets": [{"account_id": linked["id"]}],
        },
    )
    done = _done(client, stack, post_id)
    assert done["status"] == "published", done
    time.sleep(1.0)
    pages = httpx.get(f"{stack.sandbox}/sandbox/telegraph/pages", timeout=5).json()["pages"]
    [page] = [p for p in pages if p["title"] == title]
    figure, *rest = page["content"]
    assert figure["tag"] == "figure"
    [img] = figure["children"]
    src = img["attrs"]["src"]
    assert src.startswith(f"{stack.gateway}/media/v1/{cover_id}/"), src
    served = httpx.get(src, timeout=10)
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/jpeg"
    assert served.content == cover, "the page's cover is the client's bytes"
    signature = src.rsplit("/", 1)[1]
    logs = [stack.output()]
    logs += [p.read_text(errors="replace") for p in (stack.var_dir / "access-logs").glob("*")]
    assert not [text for text in logs if signature in text], "the cover link's signature was logged"
    assert len(rest) == 23
    [announced] = [m for m in _messages(stack) if m["text"].startswith(title)]
    assert announced["method"] == "sendMessage"
    assert any(e.get("url") == page["url"] for e in announced["entities"])
    assert done["remote_url"] == f"https://t.me/cachalot_e2e/{announced['message_id']}"


def parse_text(body_html: str) -> str:
    """The article's text as readers see it (tags dropped)."""
    return re.sub(r"<[^>]+>", "", body_html)


def test_an_article_as_a_message_with_a_cover_is_one_message_previewing_the_cover(
    client: httpx.Client, stack: EmbeddedStack, linked: dict[str, Any]
) -> None:
    """Fix 1 of the fresh-user try: ``article_as: "message"`` was ignored (a Telegraph page)."""
    marker = uuid.uuid4().hex[:8]
    cover = image_file(width=800, height=420, colour="0x335577").read_bytes()
    cover_id = upload_media(client, stack.gateway, cover, "image/jpeg")["id"]
    body = "".join(f"<p>Part {i}: " + "whales sing at dusk " * 10 + "</p>" for i in range(10))
    title = f"As a message {marker}"
    post_id = _queue(
        client,
        stack,
        {
            "kind": "article",
            "article": {"title": title, "body_html": body, "cover_media_id": cover_id},
            "targets": [{"account_id": linked["id"], "telegram": {"article_as": "message"}}],
        },
    )
    done = _done(client, stack, post_id)
    assert done["status"] == "published", done
    time.sleep(1.0)  # a late second message would show up now
    mine = [m for m in _messages(stack) if title in m["text"]]
    assert [m["method"] for m in mine] == ["sendMessage"]
    [message] = mine
    assert message["text"].startswith(f"{title}\n\nPart 0: whales")
    assert 2000 < len(message["text"]) <= 4096
    pages = httpx.get(f"{stack.sandbox}/sandbox/telegraph/pages", timeout=5).json()["pages"]
    assert [p for p in pages if p["title"] == title] == [], "no Telegraph page"
    preview = json.loads(message["options"]["link_preview_options"])
    assert preview["is_disabled"] is False
    assert preview["show_above_text"] is True
    assert preview["url"].startswith(f"{stack.gateway}/media/v1/{cover_id}/")
    assert httpx.get(preview["url"], timeout=10).content == cover
    assert done["remote_url"] == f"https://t.me/cachalot_e2e/{message['message_id']}"


def test_a_channel_our_bot_lost_pauses_the_account_until_linked_again_without_a_reconnect(
    client: httpx.Client, stack: EmbeddedStack, linked: dict[str, Any]
) -> None:
    """Auth's needs_channel end to end: the publisher finds the link broken; the account needs
    a channel (not a sign-in), new posts are refused naming the target, linking resumes."""
    marker = uuid.uuid4().hex[:8]
    channel = {
        "id": CHANNEL_ID,
        "username": "cachalot_e2e",
        "title": "E2E channel",
        "admins": [{"user_id": PERSON, "status": "creator"}],
    }
    sandbox = f"{stack.sandbox}/sandbox/telegram/channels"
    httpx.post(sandbox, json=channel | {"bot_status": "left"}, timeout=5).raise_for_status()
    try:
        body = {
            "kind": "article",
            "article": {"title": f"Lost {marker}", "body_html": "<p>Whales.</p>"},
            "targets": [{"account_id": linked["id"]}],
        }
        post_id = _queue(client, stack, body)
        paused = _until(
            lambda: t if (t := _target(client, stack, post_id))["status"] == "paused" else None
        )
        assert paused["last_error_code"] == "channel_link_broken"
        assert "reconnect" not in (paused["last_error"] or "").lower()
        account = _until(
            lambda: (
                a if (a := _telegram_account(client, stack))["status"] == "needs_channel" else None
            )
        )
        assert account["needs_channel"] is True
        refused = _until(
            lambda: (
                r
                if (r := client.post(f"{stack.gateway}/api/v1/posts", json=body)).status_code == 422
                else None
            ),
            timeout=30,
        )
        assert refused.json()["errors"][0]["field"] == "targets[0].account_id"
    finally:
        httpx.post(sandbox, json=channel, timeout=5).raise_for_status()
    again = client.put(
        f"{stack.gateway}/api/v1/accounts/{linked['id']}/telegram-channel",
        json={"channel": "@cachalot_e2e"},
    )
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "ok"
    done = _done(client, stack, post_id)
    assert done["status"] == "published", done
    assert len([m for m in _messages(stack) if m["text"].startswith(f"Lost {marker}")]) == 1


def _article(client: httpx.Client, stack: EmbeddedStack, account_id: str, title: str) -> str:
    body = {
        "kind": "article",
        "article": {"title": title, "body_html": "<p>Whales.</p>"},
        "targets": [{"account_id": account_id}],
    }
    return _queue(client, stack, body)


def _posted_in(stack: EmbeddedStack, chat_id: int, title: str) -> int:
    messages = httpx.get(
        f"{stack.sandbox}/sandbox/telegram/messages", params={"chat_id": str(chat_id)}, timeout=5
    ).json()["messages"]
    return len([m for m in messages if m["text"].startswith(title)])


def test_the_first_post_after_relinking_to_another_channel_goes_to_the_new_channel(
    client: httpx.Client, stack: EmbeddedStack, linked: dict[str, Any]
) -> None:
    """A lease the publisher keeps must not send a post where the account no longer points
    (lease10: one post of lag after a relink, the cached lease's destination was used)."""
    marker = uuid.uuid4().hex[:8]
    new_channel = -1003000000010
    _set_up_channel(stack, new_channel, "cachalot_e2e_new", "E2E new channel")
    before = _done(client, stack, _article(client, stack, linked["id"], f"Before {marker}"))
    assert before["status"] == "published", before  # the publisher now holds the account's lease
    relinked = client.put(
        f"{stack.gateway}/api/v1/accounts/{linked['id']}/telegram-channel",
        json={"channel": "@cachalot_e2e_new"},
    )
    assert relinked.status_code == 200, relinked.text
    try:
        after = _done(client, stack, _article(client, stack, linked["id"], f"After {marker}"))
        assert after["status"] == "published", after
        assert after["remote_url"].startswith("https://t.me/cachalot_e2e_new/"), after
        assert _posted_in(stack, new_channel, f"After {marker}") == 1
        assert _posted_in(stack, CHANNEL_ID, f"After {marker}") == 0
    finally:
        back = client.put(
            f"{stack.gateway}/api/v1/accounts/{linked['id']}/telegram-channel",
            json={"channel": "@cachalot_e2e"},
        )
        assert back.status_code == 200, back.text


def test_a_publisher_killed_while_telegrams_answer_is_in_flight_leaves_the_post_unconfirmed_not_failed(  # noqa: E501
    client: httpx.Client, stack: EmbeddedStack, linked: dict[str, Any]
) -> None:
    """Issue 10: Telegram posts the message, publisher-telegram dies (kill -9) before its
    answer; the supervisor restarts it and the command comes again. Telegram cannot be asked
    what became of it, so the target is ``unconfirmed`` ("check your channel"), never
    ``failed`` and never posted a second time by itself; the client marks it published."""
    marker = uuid.uuid4().hex[:8]
    title = f"Unconfirmed {marker}"
    httpx.post(
        f"{stack.sandbox}/sandbox/telegram/delays", json={"seconds": 30}, timeout=5
    ).raise_for_status()
    try:
        post_id = _queue(
            client,
            stack,
            {
                "kind": "article",
                "article": {"title": title, "body_html": "<p>Whales sing at dusk.</p>"},
                "targets": [{"account_id": linked["id"], "telegram": {}}],
            },
        )
        _until(lambda: [m for m in _messages(stack) if title in m["text"]], timeout=60)
        killed = stack.kill("publisher-telegram")  # posted; the answer dies with the process
    finally:
        httpx.delete(f"{stack.sandbox}/sandbox/telegram/delays", timeout=5)
    _until(lambda: stack.processes().get("publisher-telegram") not in (None, killed), 30)
    target = _until(
        lambda: t if (t := _target(client, stack, post_id))["status"] != "dispatched" else None,
        timeout=150,
    )
    if target["status"] == "publishing":
        target = _until(
            lambda: t if (t := _target(client, stack, post_id))["status"] != "publishing" else None,
            timeout=150,
        )
    assert target["status"] == "unconfirmed", target
    assert target["last_error_code"] == "outcome_unknown"
    assert "Check your channel" in target["last_error"]
    time.sleep(1.0)
    [message] = [m for m in _messages(stack) if title in m["text"]]  # once, not again
    link = f"https://t.me/cachalot_e2e/{message['message_id']}"
    marked = client.post(
        f"{stack.gateway}/api/v1/posts/{post_id}/targets/{target['id']}/mark-published",
        json={"url": link},
    )
    assert marked.status_code == 200, marked.text
    assert (marked.json()["targets"][0]["status"], marked.json()["targets"][0]["remote_url"]) == (
        "published",
        link,
    )
