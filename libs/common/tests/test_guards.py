"""The guards in front of every route: origin, who is calling, body type and size.

Driven as pure ASGI so each test can see how many body chunks the app pulled
(the point of the guards is that a refused request costs no body bytes).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field

from cachalot_common.app import create_service_app
from cachalot_common.guards import DEFAULT_MAX_BODY_BYTES, SignedIn, service_check, session_check
from cachalot_common.json_size import round_up_kib
from cachalot_common.service_auth import mint_service_token
from cachalot_common.sessions import COOKIE_NAME, issue_session
from cachalot_common.settings import ServiceSettings

SECRET = "guards-tests-session-secret-0123456789"
SERVICE_SECRETS = {"publisher-tiktok": "guards-tests-service-secret-0123456789"}
GATEWAY = "http://127.0.0.1:8000"
SIBLING = "http://127.0.0.1:8001"


class Note(BaseModel):
    text: str


def _app(**settings: Any) -> FastAPI:
    app = create_service_app(
        title="guarded",
        settings=ServiceSettings(public_url=GATEWAY, **settings),
        signed_in=[
            SignedIn(("/api/v1/me",), session_check(SECRET)),
            SignedIn(("/internal",), service_check(SERVICE_SECRETS), proof="service JWT"),
        ],
    )

    @app.post("/api/v1/notes")
    async def create_note(note: Note) -> dict[str, str]:
        return {"text": note.text}

    @app.post("/api/v1/me/notes")
    async def create_my_note(note: Note) -> dict[str, str]:
        return {"text": note.text}

    router = APIRouter(prefix="/api/v1/me")  # rules found through an included router too

    @router.post("/notes/{note_id}/cancel")
    async def cancel_note(note_id: str) -> dict[str, str]:
        return {"cancelled": note_id}

    @router.post("/drafts")
    async def create_draft(note: Note) -> dict[str, str]:
        return {"text": note.text}

    app.include_router(router)

    @app.post("/internal/notes")
    async def internal_note(note: Note) -> dict[str, str]:
        return {"text": note.text}

    @app.post("/api/v1/big-notes", openapi_extra={"x-max-body-bytes": 1_000_000})
    async def create_big_note(note: Note) -> dict[str, int]:
        return {"length": len(note.text)}

    @app.post(
        "/api/v1/videos",
        openapi_extra={
            "requestBody": {
                "content": {t: {} for t in ("video/mp4", "video/*", "application/octet-stream")}
            }
        },
    )
    async def upload(request: Request) -> dict[str, int]:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return {"size": size}

    return app


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    chunks_read: int
    chunks: int = 0

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Call:
    """One request sent to an ASGI app, counting the body chunks it reads."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)
    declare_length: bool = True
    stall_after: int | None = None
    """After this many chunks the sender goes silent (its next part never comes)."""

    async def send_to(self, app: FastAPI) -> Answer:
        headers = {"host": "127.0.0.1:8104", **{k.lower(): v for k, v in self.headers.items()}}
        if self.declare_length and self.chunks:
            headers["content-length"] = str(sum(len(c) for c in self.chunks))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": self.method,
            "scheme": "http",
            "path": self.path,
            "raw_path": self.path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8104),
            "app": app,
        }
        pending = list(self.chunks) or [b""]
        read = 0
        out: dict[str, Any] = {"body": b""}

        async def receive() -> dict[str, Any]:
            nonlocal read
            if self.stall_after is not None and read >= self.stall_after:
                await asyncio.Event().wait()  # never set
            if not pending:
                return {"type": "http.disconnect"}
            read += 1
            chunk = pending.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                out["status"] = message["status"]
                out["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}
            elif message["type"] == "http.response.body":
                out["body"] += message.get("body", b"")

        await app(scope, receive, send)
        return Answer(out["status"], out["headers"], out["body"], read, len(self.chunks))


def _cookie() -> str:
    token, _ = issue_session(client_id=uuid.uuid4(), secret=SECRET, lifetime_s=600)
    return f"{COOKIE_NAME}={token}"


def _json(text: str = "hi") -> list[bytes]:
    return [json.dumps({"text": text}).encode()]


def _mega_chunks(total: int, size: int = 64 * 1024) -> list[bytes]:
    return [b" " * size for _ in range(total // size)]


async def test_a_signed_in_route_answers_401_before_reading_a_byte_of_the_body() -> None:
    big = [b'{"text": "', *_mega_chunks(8 * 1024 * 1024), b'"}']
    answer = await Call(
        "POST", "/api/v1/me/notes", {"content-type": "application/json"}, big
    ).send_to(_app())
    assert answer.status == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"] == "https://cachalot.dev/problems/not-signed-in"
    assert answer.chunks_read == 0


async def test_a_signed_in_route_serves_a_valid_session() -> None:
    headers = {"content-type": "application/json", "cookie": _cookie()}
    answer = await Call("POST", "/api/v1/me/notes", headers, _json()).send_to(_app())
    assert answer.status == 200, answer.body
    forged = {**headers, "cookie": _cookie()[:-3] + "abc"}
    refused = await Call("POST", "/api/v1/me/notes", forged, _json()).send_to(_app())
    assert refused.status == 401


async def test_an_internal_route_needs_a_service_jwt_before_its_body_is_read() -> None:
    token = mint_service_token(
        service="publisher-tiktok", secret=SERVICE_SECRETS["publisher-tiktok"]
    )
    forged = mint_service_token(
        service="publisher-tiktok", secret="not-the-secret-at-all-0123456789abcdef"
    )
    base = {"content-type": "application/json"}
    for headers, status in (
        (base, 401),
        ({**base, "authorization": f"Bearer {forged}"}, 401),
        ({**base, "authorization": f"Bearer {token}"}, 200),
    ):
        answer = await Call("POST", "/internal/notes", headers, _json()).send_to(_app())
        assert answer.status == status, answer.body
        if status == 401:
            assert answer.chunks_read == 0


async def test_a_json_body_declared_over_the_cap_is_refused_unread_naming_the_limit() -> None:
    chunks = _mega_chunks(DEFAULT_MAX_BODY_BYTES + 64 * 1024)
    for path, headers in (
        ("/api/v1/notes", {"content-type": "application/json"}),
        ("/api/v1/me/drafts", {"content-type": "application/json", "cookie": _cookie()}),
    ):
        answer = await Call("POST", path, headers, chunks).send_to(_app())
        assert answer.status == 413, path
        assert answer.json()["max_bytes"] == DEFAULT_MAX_BODY_BYTES
        assert answer.chunks_read == 0


async def test_a_chunked_json_body_is_counted_as_it_streams_and_refused_past_the_cap() -> None:
    chunks = [b'{"text": "', *_mega_chunks(4 * 1024 * 1024), b'"}']
    call = Call("POST", "/api/v1/notes", {"content-type": "application/json"}, chunks)
    call.declare_length = False
    answer = await call.send_to(_app())
    assert answer.status == 413
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["max_bytes"] == DEFAULT_MAX_BODY_BYTES
    # it stopped one chunk past the cap, not at the end of the body
    assert answer.chunks_read <= DEFAULT_MAX_BODY_BYTES // (64 * 1024) + 2 < len(chunks)


async def test_a_write_whose_body_stops_coming_is_answered_408_and_its_connection_closed() -> None:
    """fresh15: a sender whose network died silently mid-body held its request (and what the
    route held while reading) for as long as the socket lived."""
    chunks = [b'{"text": "', b"x" * 1000, b'"}']
    call = Call("POST", "/api/v1/notes", {"content-type": "application/json"}, chunks)
    call.stall_after = 1
    started = time.monotonic()
    answer = await call.send_to(_app(request_body_idle_s=0.3))
    assert 0.3 <= time.monotonic() - started < 5
    assert answer.status == 408
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["connection"] == "close"
    assert answer.json()["idle_s"] == 0.3
    assert "0.3 s" in answer.json()["detail"]


async def test_a_body_that_came_whole_is_never_timed_out_however_long_the_route_takes() -> None:
    app = _app(request_body_idle_s=0.2)

    @app.post("/api/v1/slow-notes")
    async def slow_note(note: Note) -> dict[str, str]:
        await asyncio.sleep(0.5)
        return {"text": note.text}

    answer = await Call(
        "POST", "/api/v1/slow-notes", {"content-type": "application/json"}, _json("slow")
    ).send_to(app)
    assert answer.status == 200, answer.body
    assert answer.json() == {"text": "slow"}


async def test_a_route_may_take_a_larger_json_body_than_the_default() -> None:
    text = "x" * (200 * 1024)
    headers = {"content-type": "application/json"}
    answer = await Call("POST", "/api/v1/big-notes", headers, _json(text)).send_to(_app())
    assert answer.status == 200, answer.body
    assert answer.json() == {"length": len(text)}


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
async def test_a_json_route_refuses_any_other_content_type_with_415(
    content_type: str | None,
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    answer = await Call("POST", "/api/v1/notes", headers, _json()).send_to(_app())
    assert answer.status == 415
    assert answer.json()["accepted"] == ["application/json"]
    assert answer.chunks_read == 0


async def test_a_json_route_takes_json_with_a_charset_or_a_json_suffix() -> None:
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        answer = await Call(
            "POST", "/api/v1/notes", {"content-type": content_type}, _json()
        ).send_to(_app())
        assert answer.status == 200, (content_type, answer.body)


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
async def test_a_bodyless_action_refuses_what_an_html_form_sends(content_type: str) -> None:
    headers = {"content-type": content_type, "cookie": _cookie()}
    answer = await Call("POST", "/api/v1/me/notes/n1/cancel", headers, [b"x=1"]).send_to(_app())
    assert answer.status == 415
    assert answer.headers["content-type"] == "application/problem+json"


async def test_a_bodyless_action_takes_no_content_type_or_json() -> None:
    for headers in ({}, {"content-type": "application/json"}):
        answer = await Call(
            "POST", "/api/v1/me/notes/n1/cancel", {**headers, "cookie": _cookie()}
        ).send_to(_app())
        assert answer.status == 200, answer.body


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("video/mp4", 200),
        ("video/x-m4v", 200),
        ("application/octet-stream", 200),
        (None, 415),
        ("text/plain", 415),
        ("image/png", 415),
        ("video", 415),
    ],
)
async def test_a_streaming_route_takes_only_its_declared_types_and_keeps_its_own_size(
    content_type: str | None, status: int
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    chunks = _mega_chunks(1024 * 1024)  # past the JSON cap: the route bounds its own body
    answer = await Call("POST", "/api/v1/videos", headers, chunks).send_to(_app())
    assert answer.status == status, answer.body
    if status == 200:
        assert answer.json() == {"size": 1024 * 1024}
    else:
        assert answer.json()["accepted"] == ["video/mp4", "video/*", "application/octet-stream"]


SIBLING_HEADERS: list[dict[str, str]] = [
    {"sec-fetch-site": "same-site", "origin": SIBLING},
    {"sec-fetch-site": "cross-site", "origin": "https://evil.example"},
    {"sec-fetch-site": "same-site"},
    {"origin": SIBLING},  # an older browser: no Sec-Fetch-Site
    {"origin": "null"},
]


@pytest.mark.parametrize("sent", SIBLING_HEADERS)
async def test_a_page_of_another_origin_cannot_write(sent: dict[str, str]) -> None:
    headers = {**sent, "content-type": "application/json", "cookie": _cookie()}
    for path, chunks in (("/api/v1/me/notes", _json()), ("/api/v1/me/notes/n1/cancel", [])):
        answer = await Call("POST", path, headers, chunks).send_to(_app())
        assert answer.status == 403, (sent, path)
        assert answer.json()["type"] == "https://cachalot.dev/problems/cross-origin-request"
        assert answer.chunks_read == 0


@pytest.mark.parametrize(
    "sent",
    [
        {"sec-fetch-site": "same-origin", "origin": GATEWAY},
        {"sec-fetch-site": "none"},
        {},  # curl, or another service
        {"origin": GATEWAY},  # an older browser on the public URL
        {"origin": "http://127.0.0.1:8104"},  # an older browser: Origin matches Host
        {"sec-fetch-site": "same-site", "origin": "https://app.example"},  # allowed by setting
    ],
)
async def test_the_own_origin_an_allowed_origin_and_non_browsers_can_write(
    sent: dict[str, str],
) -> None:
    app = _app(allowed_origins=["https://app.example/"])
    headers = {**sent, "content-type": "application/json", "cookie": _cookie()}
    answer = await Call("POST", "/api/v1/me/notes", headers, _json()).send_to(app)
    assert answer.status == 200, (sent, answer.body)


async def test_reads_from_another_origin_are_not_refused() -> None:
    headers = {"sec-fetch-site": "cross-site", "origin": "https://evil.example"}
    answer = await Call("GET", "/healthz", headers).send_to(_app())
    assert answer.status == 200


def _responses(schema: dict[str, Any], path: str, method: str = "post") -> Iterable[str]:
    return set(schema["paths"][path][method]["responses"])


def test_the_openapi_document_lists_each_guard_answer_where_it_applies() -> None:
    schema = _app().openapi()
    assert {"401", "403", "408", "413", "415", "422"} <= set(_responses(schema, "/api/v1/me/notes"))
    assert {"403", "408", "413", "415"} <= set(_responses(schema, "/api/v1/notes"))
    assert "401" not in _responses(schema, "/api/v1/notes")
    assert {"401", "403", "415"} <= set(_responses(schema, "/api/v1/me/notes/{note_id}/cancel"))
    video = schema["paths"]["/api/v1/videos"]["post"]["responses"]
    assert {"403", "415"} <= set(video)
    assert "413" not in video  # the route documents its own cap
    assert "video/*" in video["415"]["description"]


class Letter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=10_000)


def _letters_app() -> FastAPI:
    app = create_service_app(title="letters", settings=ServiceSettings(public_url=GATEWAY))

    @app.post("/api/v1/letters")
    async def write(letter: Letter) -> dict[str, int]:
        return {"characters": len(letter.text)}

    return app


async def test_a_bounded_json_route_is_capped_at_its_worst_case_not_at_the_default() -> None:
    # Issue 11 (A2): 9,999 characters outside the BMP, each a 12-byte escape,
    # is a valid letter of 120 KB, past the 64 KiB default cap.
    valid = json.dumps({"text": "\U0001f600" * 9_999}, ensure_ascii=True).encode()
    assert len(valid) > DEFAULT_MAX_BODY_BYTES
    headers = {"content-type": "application/json"}
    answer = await Call("POST", "/api/v1/letters", headers, [valid]).send_to(_letters_app())
    assert answer.status == 200, answer.body
    assert answer.json() == {"characters": 9_999}
    # one character too many: the decoded text is refused, naming the field
    over = json.dumps({"text": "я" * 10_001}, ensure_ascii=True).encode()
    answer = await Call("POST", "/api/v1/letters", headers, [over]).send_to(_letters_app())
    assert answer.status == 422
    assert [e["field"] for e in answer.json()["errors"]] == ["text"]
    # a body no valid letter can be: 413 naming the cap, unread
    cap = round_up_kib(2 + 12 * 10_000 + 16 + 6 * 4 + 2 + 1 + 1 + 16)
    chunks = _mega_chunks(cap + 1024, size=1024)
    answer = await Call("POST", "/api/v1/letters", headers, chunks).send_to(_letters_app())
    assert answer.status == 413
    assert answer.json()["max_bytes"] == cap
    assert answer.chunks_read == 0
