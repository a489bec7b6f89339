"""``POST /api/v1/contact`` over real HTTP (uvicorn on a free port)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import pytest

from cachalot_contact.schemas import MAX_BODY_BYTES
from cachalot_contact.verify import verify_file

URL = "/api/v1/contact"


def fields_named(response) -> set[str]:
    assert response.headers["content-type"] == "application/problem+json"
    return {e["field"] for e in response.json()["errors"]}


async def test_a_valid_submission_is_stored_durably_and_answered_202(
    make_settings, serve, publisher, form
):
    settings = make_settings()
    async with serve(settings, publisher=publisher) as client:
        response = await client.post(
            URL,
            json=form(contact="+7 916 123-45-67", name="  Ada  "),
            headers={"User-Agent": "pytest-browser/1.0"},
        )
        assert response.status_code == 202
        body = response.json()
        assert body["status"] == "accepted"
        await publisher.wait_for(1)
    record = json.loads(settings.log_path.read_bytes())
    event = record["event"]
    assert event["event_id"] == body["id"]
    assert event["name"] == "Ada"
    assert event["contact"] == "+79161234567"
    assert event["contact_kind"] == "phone"
    assert event["ip"] == "127.0.0.1"
    assert event["user_agent"] == "pytest-browser/1.0"
    assert str(publisher.events[0].event_id) == body["id"]
    assert verify_file(settings.log_path).ok


@pytest.mark.parametrize(
    ("overrides", "bad"),
    [
        ({"name": ""}, {"name"}),
        ({"name": "   "}, {"name"}),
        ({"name": "x" * 101}, {"name"}),
        ({"name": 42}, {"name"}),
        ({"contact": "@abc"}, {"contact"}),
        ({"contact": "@" + "a" * 33}, {"contact"}),
        ({"contact": "+7 123"}, {"contact"}),
        ({"contact": "916 123 45 67"}, {"contact"}),
        ({"contact": None}, {"contact"}),
        ({"category": "seo"}, {"category"}),
        ({"message": ""}, {"message"}),
        ({"message": "m" * 4001}, {"message"}),
        ({"message": {"text": "hi"}}, {"message"}),
        ({"website": "w" * 201}, {"website"}),
        ({"admin": True}, {"admin"}),
        ({"name": "", "category": "x", "extra": 1}, {"name", "category", "extra"}),
    ],
)
async def test_every_bad_input_answers_422_naming_the_field(shared_client, form, overrides, bad):
    response = await shared_client.post(URL, json=form(**overrides))
    assert response.status_code == 422
    assert fields_named(response) == bad
    assert response.json()["status"] == 422


async def test_missing_fields_are_each_named(make_settings, serve, publisher):
    async with serve(make_settings(), publisher=publisher) as client:
        response = await client.post(URL, json={"name": "Ada"})
    assert response.status_code == 422
    assert fields_named(response) == {"contact", "category", "message"}


async def test_a_body_that_is_not_json_is_a_clear_422(make_settings, serve, publisher):
    async with serve(make_settings(), publisher=publisher) as client:
        broken = await client.post(
            URL, content=b"{name: Ada", headers={"Content-Type": "application/json"}
        )
        not_object = await client.post(URL, json=["Ada"])
    assert broken.status_code == 422
    assert broken.json()["detail"] == "The request body is not valid JSON."
    assert not_object.status_code == 422


async def test_a_form_encoded_body_is_415(make_settings, serve, publisher):
    async with serve(make_settings(), publisher=publisher) as client:
        response = await client.post(URL, data={"name": "Ada"})
        missing = await client.post(URL, content=b"{}")
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]
    assert missing.status_code == 415


async def test_a_body_over_the_forms_worst_case_is_413_by_its_content_length(
    make_settings, serve, publisher, form
):
    async with serve(make_settings(), publisher=publisher) as client:
        response = await client.post(URL, json=form(message="m" * (MAX_BODY_BYTES + 1)))
    assert response.status_code == 413
    assert response.json()["max_bytes"] == MAX_BODY_BYTES


async def test_a_chunked_body_over_the_forms_worst_case_is_413_as_it_streams(
    make_settings, serve, publisher
):
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "Ada", "message": "'
        for _ in range(MAX_BODY_BYTES // 1024 + 4):
            yield b"m" * 1024
        yield b'"}'

    async with serve(make_settings(), publisher=publisher) as client:
        response = await client.post(
            URL, content=chunks(), headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 413


async def test_a_small_chunked_body_is_accepted(make_settings, serve, publisher, form):
    async def chunks() -> AsyncIterator[bytes]:
        yield json.dumps(form()).encode()

    async with serve(make_settings(), publisher=publisher) as client:
        response = await client.post(
            URL, content=chunks(), headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 202


async def test_a_filled_honeypot_is_answered_202_and_dropped(make_settings, serve, publisher, form):
    settings = make_settings()
    async with serve(settings, publisher=publisher) as client:
        response = await client.post(URL, json=form(website="http://buy-now.example"))
        good = await client.post(URL, json=form())
        await publisher.wait_for(1)
    assert response.status_code == 202
    assert response.json()["status"] == "accepted"
    assert response.json()["id"] != good.json()["id"]
    assert settings.log_path.read_bytes().count(b"\n") == 1
    assert b"buy-now" not in settings.log_path.read_bytes()
    assert [str(e.event_id) for e in publisher.events] == [good.json()["id"]]


async def test_the_rate_limit_answers_429_with_retry_after(make_settings, serve, publisher, form):
    settings = make_settings(contact_rate_limits="2/minute;50/day")
    async with serve(settings, publisher=publisher) as client:
        statuses = [(await client.post(URL, json=form())).status_code for _ in range(2)]
        limited = await client.post(URL, json=form())
    assert statuses == [202, 202]
    assert limited.status_code == 429
    assert limited.headers["content-type"] == "application/problem+json"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60


async def test_the_honeypot_counts_against_the_limit(make_settings, serve, publisher, form):
    settings = make_settings(contact_rate_limits="1/minute")
    async with serve(settings, publisher=publisher) as client:
        bot = await client.post(URL, json=form(website="spam"))
        person = await client.post(URL, json=form())
    assert bot.status_code == 202
    assert person.status_code == 429


async def test_a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(
    make_settings, serve, publisher, form
):
    settings = make_settings(contact_rate_limits="1/minute")
    async with serve(settings, publisher=publisher) as client:
        first = await client.post(URL, json=form(), headers={"X-Forwarded-For": "203.0.113.1"})
        second = await client.post(URL, json=form(), headers={"X-Forwarded-For": "203.0.113.2"})
        await publisher.wait_for(1)
    assert first.status_code == 202
    assert second.status_code == 429
    assert publisher.events[0].ip == "127.0.0.1"


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit(
    make_settings, serve, publisher, form
):
    settings = make_settings(contact_rate_limits="1/minute", trusted_proxies=["127.0.0.1"])
    async with serve(settings, publisher=publisher) as client:
        one = await client.post(URL, json=form(), headers={"X-Forwarded-For": "203.0.113.1"})
        two = await client.post(URL, json=form(), headers={"X-Forwarded-For": "203.0.113.2"})
        again = await client.post(URL, json=form(), headers={"X-Forwarded-For": "203.0.113.1"})
        await publisher.wait_for(2)
    assert (one.status_code, two.status_code, again.status_code) == (202, 202, 429)
    assert sorted(e.ip or "" for e in publisher.events) == ["203.0.113.1", "203.0.113.2"]


async def test_the_openapi_document_lists_the_categories_and_the_202(
    make_settings, serve, publisher
):
    async with serve(make_settings(), publisher=publisher) as client:
        document = (await client.get("/openapi.json")).json()
    operation = document["paths"]["/api/v1/contact"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["category"]["enum"] == [
        "video_production",
        "seo_articles",
        "auto_posting",
        "other",
    ]
    assert {"202", "413", "415", "422", "429"} <= set(operation["responses"])


async def test_probes_report_a_writable_log(make_settings, serve, publisher):
    async with serve(make_settings(), publisher=publisher) as client:
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
    assert health.status_code == 200
    assert ready.status_code == 200
    assert ready.json()["checks"]["log"] == "ok"


async def test_a_log_that_cannot_be_written_answers_503_and_is_not_ready(
    make_settings, serve, publisher, form
):
    settings = make_settings()
    settings.contact_log_dir.mkdir(parents=True)
    settings.log_path.symlink_to("/dev/full")  # a full disk
    async with serve(settings, publisher=publisher) as client:
        response = await client.post(URL, json=form())
        ready = await client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "Retry-After" in response.headers
    assert ready.status_code == 503
    assert ready.json()["checks"]["log"] == "failing"


async def test_a_client_that_hangs_up_mid_body_is_answered_400_and_logs_no_error(
    make_settings, serve, publisher, caplog
):
    """Content-Length 1000, 20 bytes, then the connection closes: a 4xx, no 500, no traceback."""
    caplog.set_level(logging.INFO)
    async with serve(make_settings(), publisher=publisher) as client:
        _reader, writer = await asyncio.open_connection(client.base_url.host, client.base_url.port)
        writer.write(
            b"POST /api/v1/contact HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
            b'{"name": "Ada", "mes'
        )
        await writer.drain()
        await asyncio.sleep(0.2)  # the handler is now waiting for the rest
        writer.close()
        await writer.wait_closed()
        async with asyncio.timeout(5):
            while not [r for r in caplog.records if r.name == "cachalot.access"]:
                await asyncio.sleep(0.02)
        assert (await client.post(URL, json={})).status_code == 422  # still serving
    [hung_up, *_] = [r.getMessage() for r in caplog.records if r.name == "cachalot.access"]
    assert " 500 " not in hung_up, hung_up
    assert " 400 " in hung_up, hung_up
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


# ---- issue 11 (A2): the character limit is checked on decoded text, not on bytes


def escaped(body: dict[str, object], *, indent: int | None = None) -> bytes:
    """``body`` as clients that escape everything send it (``\\uXXXX``, ASCII only)."""
    return json.dumps(body, ensure_ascii=True, indent=indent).encode("ascii")


async def test_a_3999_character_message_sent_ascii_escaped_is_accepted_not_413(
    make_settings, serve, publisher, form
):
    # The input: Cyrillic, 6 bytes a letter escaped (24 KB > the old 16 KiB cap).
    body = escaped(form(message="я" * 3999))
    assert len(body) > 16 * 1024
    async with serve(make_settings(), publisher=publisher) as client:
        response = await client.post(
            URL, content=body, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 202, response.text


async def test_every_field_at_its_limit_in_astral_characters_pretty_printed_is_accepted(
    make_settings, serve, publisher, form
):
    # The worst case: a character outside the BMP is a 12-byte surrogate pair escaped.
    body = escaped(form(name="😀" * 100, message="😀" * 4000, contact="+7 916 123-45-67"), indent=4)
    assert len(body) > 48_000
    async with serve(make_settings(), publisher=publisher) as client:
        response = await client.post(
            URL, content=body, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 202, response.text


async def test_a_message_over_its_character_limit_is_422_naming_the_field_however_sent(
    make_settings, serve, publisher, form
):
    async with serve(make_settings(), publisher=publisher) as client:
        for body in (
            escaped(form(message="я" * 4001)),
            json.dumps(form(message="я" * 4001), ensure_ascii=False).encode(),
            escaped(form(message="😀" * 4001)),
        ):
            response = await client.post(
                URL, content=body, headers={"Content-Type": "application/json"}
            )
            assert response.status_code == 422, response.text
            assert fields_named(response) == {"message"}
