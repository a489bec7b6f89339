"""Resumable uploads (tus 1.0.0) at /api/v1/media/uploads, held to the rules of POST /media.

Issue 12 item 3: a large video is uploaded from the browser in pieces, survives a
dropped connection (HEAD says where the server stands; the client goes on from
there), is stored by the same code as a plain upload (sniffed, probed, hashed,
capped), counts against the client's quota from its creation, belongs to the
client who made it, and goes when abandoned. The protocol is spoken here by
hand (httpx), header by header, as the spec writes it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import io
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from queue_support import VIDEO, ApiClient, QueueServer, eventually, own_queue
from sqlalchemy import select

from cachalot_queue.tables import Media, MediaReservation
from cachalot_testing.media import image_file

pytestmark = pytest.mark.integration

TUS = {"Tus-Resumable": "1.0.0"}
ENDPOINT = "/api/v1/media/uploads"
QUOTA = 2 * len(VIDEO) + len(VIDEO) // 2  # two tiny videos fit, a third does not
BODY_IDLE_S = 5.0  # a piece's body that sends nothing this long is answered 408


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def queue(
    request: pytest.FixtureRequest,
    kafka_bootstrap: str,
    kafka_idempotence: bool,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[QueueServer]:
    async with own_queue(
        request,
        kafka_bootstrap,
        kafka_idempotence,
        tmp_path_factory,
        "tus",
        media_quota_bytes=QUOTA,
        request_body_idle_s=BODY_IDLE_S,
    ) as server:
        yield server
    await server.kafka.stop()


def metadata(filename: str = "clip.mp4", filetype: str = "video/mp4") -> str:
    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    return f"filename {b64(filename)},filetype {b64(filetype)}"


async def create(client: ApiClient, size: int, **headers: str) -> httpx.Response:
    return await client.http.post(
        ENDPOINT,
        headers={**TUS, "Upload-Length": str(size), "Upload-Metadata": metadata(), **headers},
    )


async def created(client: ApiClient, size: int = len(VIDEO)) -> str:
    """A new upload's path (its Location)."""
    response = await create(client, size)
    assert response.status_code == 201, response.text
    location = response.headers["location"]
    assert location.startswith(ENDPOINT + "/"), location  # a path: right behind any proxy
    assert response.headers["tus-resumable"] == "1.0.0"
    assert "upload-expires" in {k.lower() for k in response.headers}
    return location


async def patch(client: ApiClient, location: str, offset: int, piece: Any) -> httpx.Response:
    return await client.http.patch(
        location,
        content=piece,
        headers={
            **TUS,
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
        },
    )


async def offset_of(client: ApiClient, location: str) -> int:
    response = await client.http.head(location, headers=TUS)
    assert response.status_code == 200, response.status_code
    assert response.headers["cache-control"] == "no-store"
    return int(response.headers["upload-offset"])


def media_id_of(location: str) -> uuid.UUID:
    return uuid.UUID(hex=location.rsplit("/", 1)[1])


def upload_files(queue: QueueServer, client: ApiClient) -> list[Path]:
    """The client's unfinished uploads' files (bytes and ``.info``)."""
    root = queue.runtime.settings.media_dir / ".incoming" / "tus" / str(client.id)
    return [p for p in root.rglob("*") if p.is_file()] if root.is_dir() else []


async def half_sent(queue: QueueServer, client: ApiClient) -> tuple[str, Path]:
    """A new upload with the first half of ``VIDEO`` sent: its path and its data file."""
    location = await created(client)
    half = len(VIDEO) // 2
    assert (await patch(client, location, 0, VIDEO[:half])).status_code == 204
    (data,) = [p for p in upload_files(queue, client) if p.name == media_id_of(location).hex]
    return location, data


async def holds(queue: QueueServer, client: ApiClient) -> list[MediaReservation]:
    async with queue.runtime.reader() as session:
        rows = await session.scalars(
            select(MediaReservation).where(MediaReservation.client_id == client.id)
        )
        return list(rows.all())


async def clear(client: ApiClient) -> None:
    """Delete the client's stored media (the module's queue has a small quota)."""
    for item in (await client.http.get("/api/v1/media?limit=100")).json()["items"]:
        assert (await client.http.delete(f"/api/v1/media/{item['id']}")).status_code == 204


async def test_an_upload_sent_in_pieces_is_stored_as_a_plain_upload_would_be(
    queue: QueueServer,
) -> None:
    client = queue.client()
    location = await created(client)
    assert await offset_of(client, location) == 0
    third = len(VIDEO) // 3
    pieces = [VIDEO[:third], VIDEO[third : 2 * third], VIDEO[2 * third :]]
    offset = 0
    for piece in pieces:
        response = await patch(client, location, offset, piece)
        assert response.status_code == 204, response.text
        offset += len(piece)
        assert int(response.headers["upload-offset"]) == offset

    media_id = media_id_of(location)
    got = await client.http.get(f"/api/v1/media/{media_id}")
    assert got.status_code == 200, got.text
    media = got.json()
    plain = await client.upload()  # the same bytes by POST /media
    assert media["sha256"] == hashlib.sha256(VIDEO).hexdigest() == plain["sha256"]
    for fact in ("kind", "width", "height", "duration_sec", "frame_rate", "video_codec", "size"):
        assert media[fact] == plain[fact], fact
    assert upload_files(queue, client) == []  # the partial bytes went once stored
    assert await holds(queue, client) == []  # the hold became the media row
    await clear(client)


async def test_after_a_dropped_connection_head_tells_the_offset_and_the_upload_resumes(
    queue: QueueServer,
) -> None:
    client = queue.client()
    location = await created(client)
    first = VIDEO[: len(VIDEO) // 2]
    # the connection drops mid-body: the headers promise every byte, half of them come
    host, port = client.http.base_url.host, client.http.base_url.port
    assert port is not None
    _, writer = await asyncio.open_connection(host, port)
    cookie = "; ".join(f"{k}={v}" for k, v in client.http.cookies.items())
    writer.write(
        (
            f"PATCH {location} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n"
            f"Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
            f"Content-Type: application/offset+octet-stream\r\n"
            f"Content-Length: {len(VIDEO)}\r\n\r\n"
        ).encode()
        + first
    )
    await writer.drain()
    await asyncio.sleep(0.5)
    writer.transport.abort()  # no goodbye: a reset, as when the train enters a tunnel

    async def server_has_it() -> bool:
        return await offset_of(client, location) > 0

    await eventually(server_has_it, timeout=10)
    offset = await offset_of(client, location)
    assert 0 < offset <= len(first)  # what arrived is kept, nothing past it
    stale = await patch(client, location, 0, VIDEO)  # a client that forgot to ask first
    assert stale.status_code == 409
    done = await patch(client, location, offset, VIDEO[offset:])
    assert done.status_code == 204, done.text
    media = (await client.http.get(f"/api/v1/media/{media_id_of(location)}")).json()
    assert media["sha256"] == hashlib.sha256(VIDEO).hexdigest()
    await clear(client)


async def test_bytes_a_killed_writer_left_past_the_recorded_offset_never_shift_the_resumed_video(
    queue: QueueServer,
) -> None:
    # a replica killed mid-PATCH: the library wrote the body's first bytes to the file
    # but died before recording the new offset; HEAD still says the old one
    client = queue.client()
    location, data = await half_sent(queue, client)
    half = len(VIDEO) // 2
    with data.open("ab") as leftover:
        leftover.write(VIDEO[half : half + 1000])  # written, never recorded
    assert await offset_of(client, location) == half

    done = await patch(client, location, half, VIDEO[half:])  # the client resumes as told
    assert done.status_code == 204, done.text
    media = (await client.http.get(f"/api/v1/media/{media_id_of(location)}")).json()
    assert media["sha256"] == hashlib.sha256(VIDEO).hexdigest()
    await clear(client)


async def test_an_upload_whose_last_byte_came_but_whose_storing_was_cut_off_is_stored_at_head(
    queue: QueueServer,
) -> None:
    # a replica killed in the final PATCH's completion: the library recorded the last
    # byte (offset == size), the hook that stores the file never ran to its end
    client = queue.client()
    location, data = await half_sent(queue, client)
    media_id = media_id_of(location)
    half = len(VIDEO) // 2
    with data.open("ab") as rest:
        rest.write(VIDEO[half:])
    info_path = data.with_name(data.name + ".info")
    info = json.loads(info_path.read_text())
    info["offset"] = len(VIDEO)
    info_path.write_text(json.dumps(info))
    assert (await client.http.get(f"/api/v1/media/{media_id}")).status_code == 404

    # the client's HEAD after the restart is told "all there"...
    assert await offset_of(client, location) == len(VIDEO)
    # ...and its media is there when it queues the post
    got = await client.http.get(f"/api/v1/media/{media_id}")
    assert got.status_code == 200, got.text
    assert got.json()["sha256"] == hashlib.sha256(VIDEO).hexdigest()
    assert await offset_of(client, location) == len(VIDEO)  # asked again: stored once
    assert await holds(queue, client) == []

    long_ago = time.time() - 3600
    for path in upload_files(queue, client):
        os.utime(path, (long_ago, long_ago))
    await queue.runtime.media_quota.sweep()  # the upload's files go, the media stays
    assert upload_files(queue, client) == []
    assert (await client.http.get(f"/api/v1/media/{media_id}")).status_code == 200
    await clear(client)


async def test_another_clients_upload_id_is_not_found_whatever_is_asked(
    queue: QueueServer,
) -> None:
    owner, stranger = queue.client(), queue.client()
    location = await created(owner)
    assert (await patch(owner, location, 0, VIDEO[:1000])).status_code == 204

    assert (await stranger.http.head(location, headers=TUS)).status_code == 404
    assert (await patch(stranger, location, 1000, VIDEO[1000:])).status_code == 404
    assert (await stranger.http.delete(location, headers=TUS)).status_code == 404
    assert (await stranger.http.get(f"/api/v1/media/{media_id_of(location)}")).status_code == 404

    assert await offset_of(owner, location) == 1000  # untouched by the stranger
    assert (await owner.http.delete(location, headers=TUS)).status_code == 204
    assert (await owner.http.head(location, headers=TUS)).status_code == 404
    assert await holds(queue, owner) == []  # cancelling frees the quota at once


async def test_an_upload_is_held_against_the_quota_from_its_creation(queue: QueueServer) -> None:
    client = queue.client()
    await client.upload()
    location = await created(client)  # declared, nothing sent yet: its size is held
    over = await create(client, len(VIDEO))
    assert over.status_code == 413, over.text
    body = over.json()
    assert over.headers["content-type"] == "application/problem+json"
    assert body["used_bytes"] == 2 * len(VIDEO)
    assert body["quota_bytes"] == QUOTA
    assert body["upload_bytes"] == len(VIDEO)
    plain = await client.http.post(
        "/api/v1/media", content=VIDEO, headers={"Content-Type": "video/mp4"}
    )
    assert plain.status_code == 413  # a plain upload counts the resumable one too
    assert (await client.http.get("/api/v1/media/usage")).json()["used_bytes"] == 2 * len(VIDEO)
    assert (await client.http.delete(location, headers=TUS)).status_code == 204
    assert (await create(client, len(VIDEO))).status_code == 201
    huge = await create(client, queue.runtime.settings.max_media_bytes + 1)
    assert huge.status_code == 413
    assert huge.json()["max_bytes"] == queue.runtime.settings.max_media_bytes


async def test_a_finished_upload_that_is_no_video_is_refused_as_a_plain_upload_is(
    queue: QueueServer,
) -> None:
    client = queue.client()
    junk = b"GIF89a" + b"\0" * 5000
    location = await created(client, len(junk))
    refused = await patch(client, location, 0, junk)
    assert refused.status_code == 415, refused.text
    assert refused.json()["errors"][0]["field"] == "file"
    assert (await client.http.head(location, headers=TUS)).status_code == 404
    assert upload_files(queue, client) == []
    assert await holds(queue, client) == []
    assert (await client.http.get("/api/v1/media")).json()["items"] == []


@pytest.mark.parametrize(
    ("headers", "field"),
    [
        ({"Upload-Length": "", "Upload-Defer-Length": "1"}, "Upload-Length"),
        ({"Upload-Concat": "partial"}, "Upload-Concat"),
        ({"Upload-Metadata": ""}, "Upload-Metadata"),
    ],
)
async def test_a_creation_the_quota_cannot_hold_is_refused_naming_its_header(
    queue: QueueServer, headers: dict[str, str], field: str
) -> None:
    client = queue.client()
    sent = {**TUS, "Upload-Length": "1000", "Upload-Metadata": metadata(), **headers}
    response = await client.http.post(ENDPOINT, headers={k: v for k, v in sent.items() if v})
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["field"] == field
    assert await holds(queue, client) == []


async def test_a_creation_carrying_bytes_is_refused_before_they_are_read(
    queue: QueueServer,
) -> None:
    client = queue.client()
    response = await client.http.post(
        ENDPOINT,
        content=VIDEO,
        headers={**TUS, "Upload-Length": str(len(VIDEO)), "Upload-Metadata": metadata()},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "Content-Length"
    assert upload_files(queue, client) == []


async def test_an_abandoned_upload_is_removed_with_its_hold_once_it_expires(
    queue: QueueServer,
) -> None:
    client = queue.client()
    location = await created(client)
    assert (await patch(client, location, 0, VIDEO[:5000])).status_code == 204
    await queue.runtime.media_quota.sweep()  # not expired: kept, hold and all
    assert await offset_of(client, location) == 5000
    assert len(await holds(queue, client)) == 1

    (data,) = [p for p in upload_files(queue, client) if p.name == media_id_of(location).hex]
    info_path = data.with_name(data.name + ".info")
    info = json.loads(info_path.read_text())
    info["expires"] = "Mon, 01 Jan 2024 00:00:00 GMT"  # its Upload-Expires has passed
    info_path.write_text(json.dumps(info))
    gone = await client.http.head(location, headers=TUS)
    assert gone.status_code == 410  # the library refuses it before the sweep runs

    await queue.runtime.media_quota.sweep()
    assert upload_files(queue, client) == []
    assert await holds(queue, client) == []
    assert (await client.http.head(location, headers=TUS)).status_code == 404


async def test_a_creation_no_byte_followed_is_removed_with_its_hold_after_the_grace(
    queue: QueueServer,
) -> None:
    """fresh12k: the answer to a creation was lost, the page made another upload, and the
    first one's hold (the whole declared size, 90 MB) counted against the quota for a day,
    until it expired. One with bytes is kept, idle or not, until it expires."""
    client = queue.client()
    empty, started = await created(client), await created(client)
    assert (await patch(client, started, 0, VIDEO[:5000])).status_code == 204
    grace = queue.runtime.media_quota.partial_grace_s
    for data in upload_files(queue, client):  # both untouched for longer than the grace
        if len(data.name) == 32:
            old = time.time() - grace - 5
            os.utime(data, (old, old))
    await queue.runtime.media_quota.sweep()
    assert (await client.http.head(empty, headers=TUS)).status_code == 404
    assert await offset_of(client, started) == 5000
    assert [h.id for h in await holds(queue, client)] == [media_id_of(started)]


async def test_heads_from_another_tab_while_the_last_piece_is_stored_never_answer_500(
    queue: QueueServer,
) -> None:
    """fresh14r: two tabs queued the same file and shared its upload. The other tab's HEAD
    came while the finishing PATCH stored the file; it stored the same upload at the same
    time (the library runs its completion hook after it lets the upload's lock go), one of
    the two found the other's moved part file gone, and the HEAD was answered 500."""
    client = queue.client()
    location = await created(client)
    assert (await patch(client, location, 0, VIDEO[:-10])).status_code == 204

    async def head() -> int:
        return (await client.http.head(location, headers=TUS)).status_code

    last = asyncio.create_task(patch(client, location, len(VIDEO) - 10, VIDEO[-10:]))
    answers = []
    while not last.done():
        answers += await asyncio.gather(*(head() for _ in range(4)))
    assert (await last).status_code == 204
    assert 500 not in answers, answers
    assert set(answers) <= {200, 404}, answers
    async with queue.runtime.reader() as session:
        assert await session.get(Media, media_id_of(location)) is not None
    assert upload_files(queue, client) == []


def piece_held_back(
    client: ApiClient, location: str, offset: int, release: asyncio.Event
) -> asyncio.Task[httpx.Response]:
    """A PATCH of 2,000 bytes of ``VIDEO`` from ``offset`` (not the last piece) whose body
    sends its first 1,000 bytes, then waits for ``release`` before the rest."""
    piece = VIDEO[offset : offset + 2000]

    async def body() -> AsyncIterator[bytes]:
        yield piece[:1000]
        await release.wait()
        yield piece[1000:]

    return asyncio.create_task(
        client.http.patch(
            location,
            content=body(),
            headers={
                **TUS,
                "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream",
                "Content-Length": str(len(piece)),  # not chunked: the library needs it
            },
        )
    )


async def test_a_cancel_that_comes_mid_piece_waits_for_it_and_leaves_no_file_behind(
    queue: QueueServer,
) -> None:
    """tabs15: a DELETE (Cancel in another tab sharing the upload) came while a PATCH was
    sending its body. It removed the files under the writer, which recorded its offset in
    a new ``.info`` at the end of its body: an orphan, with no data and no hold, until the
    upload's expiry. The DELETE now waits for the PATCH in flight, then removes it all."""
    client = queue.client()
    location, data = await half_sent(queue, client)
    half = len(VIDEO) // 2
    go_on = asyncio.Event()  # the rest of the piece held back while the DELETE comes
    sending = piece_held_back(client, location, half, go_on)
    await eventually(lambda: data.is_file() and data.stat().st_size >= half + 1000)
    cancel = asyncio.create_task(client.http.delete(location, headers=TUS))
    await asyncio.sleep(0.5)
    held = not cancel.done()
    go_on.set()
    sent, cancelled = await asyncio.gather(sending, cancel)
    assert upload_files(queue, client) == [], (sent.status_code, cancelled.status_code)
    assert held  # (before: answered 204 at once, under the writer)
    assert sent.status_code == 204, sent.text  # the piece went through...
    assert cancelled.status_code == 204, cancelled.text  # ...then the upload was dropped
    assert await holds(queue, client) == []
    assert (await client.http.head(location, headers=TUS)).status_code == 404


async def test_a_piece_whose_sender_goes_silent_gives_the_upload_back_after_the_idle_limit(
    queue: QueueServer,
) -> None:
    """fresh15: a network that died silently mid-piece (no FIN reached the server) kept the
    PATCH reading, and with it the upload's turn, for as long as the socket lived: the
    reloaded page's HEAD to resume waited behind it, answered 504 by the gateway again and
    again for minutes. A body that sends nothing for ``request_body_idle_s`` now ends its
    request (408), so the HEAD is answered at once with the offset the upload has."""
    client = queue.client()
    location, data = await half_sent(queue, client)
    half = len(VIDEO) // 2
    # the sender's network is gone: the rest never comes
    sending = piece_held_back(client, location, half, asyncio.Event())
    try:
        await eventually(lambda: data.is_file() and data.stat().st_size >= half + 1000)
        started = time.monotonic()
        head = await client.http.head(location, headers=TUS, timeout=BODY_IDLE_S + 20)
        waited = time.monotonic() - started
    finally:
        sending.cancel()  # the client still holds its half-sent body: let it go
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await sending
    assert head.status_code == 200, head.text
    assert waited < BODY_IDLE_S + 10, waited
    # what came of the piece is kept (as when a client disconnects) or cut, never half-recorded
    offset = int(head.headers["upload-offset"])
    assert offset in (half, half + 1000), offset
    assert data.stat().st_size == offset
    assert (await patch(client, location, offset, VIDEO[offset:])).status_code == 204
    async with queue.runtime.reader() as session:
        assert await session.get(Media, media_id_of(location)) is not None


async def test_the_plain_upload_still_works_beside_the_resumable_one(queue: QueueServer) -> None:
    client = queue.client()
    media = await client.upload()
    async with queue.runtime.reader() as session:
        assert await session.get(Media, uuid.UUID(media["id"])) is not None
    await clear(client)


def picture_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a JPEG, read back with PyAV."""
    with av.open(io.BytesIO(data), format="jpeg_pipe") as box:
        frame = next(box.decode(video=0))
        return frame.width, frame.height


async def test_the_library_gives_a_small_picture_of_each_video_and_image_to_its_owner_only(
    queue: QueueServer,
) -> None:
    client, stranger = queue.client(), queue.client()
    video = await client.upload()
    image = await client.upload(
        image_file(width=1200, height=800, suffix=".png").read_bytes(),
        **{"Content-Type": "image/png"},
    )
    shot = await client.http.get(f"/api/v1/media/{video['id']}/thumbnail")
    assert shot.status_code == 200, shot.text
    assert shot.headers["content-type"] == "image/jpeg"
    assert shot.content[:2] == b"\xff\xd8"
    assert picture_size(shot.content) == (180, 320)  # 360×640 scaled to 320 on its long side
    still = await client.http.get(f"/api/v1/media/{image['id']}/thumbnail")
    assert still.status_code == 200
    assert picture_size(still.content) == (320, 212)

    assert (await stranger.http.get(f"/api/v1/media/{video['id']}/thumbnail")).status_code == 404
    listed = (await client.http.get(f"/api/v1/media/{video['id']}")).json()
    assert listed["duration_sec"] == pytest.approx(3.0, abs=0.1)
    assert listed["size"] == len(VIDEO)
    kept = queue.runtime.settings.media_dir / ".thumbs" / f"{video['id']}.jpg"
    assert kept.is_file()
    await clear(client)
    assert not kept.exists()  # deleting the media deletes its picture
    assert (await client.http.get(f"/api/v1/media/{video['id']}/thumbnail")).status_code == 404


async def test_an_erased_clients_unfinished_uploads_and_pictures_go_with_it(
    queue: QueueServer,
) -> None:
    client = queue.client()
    tiktok = await client.account("tiktok")
    video = await client.upload()
    assert (await client.http.get(f"/api/v1/media/{video['id']}/thumbnail")).status_code == 200
    picture = queue.runtime.settings.media_dir / ".thumbs" / f"{video['id']}.jpg"
    location = await created(client)
    assert (await patch(client, location, 0, VIDEO[:4000])).status_code == 204

    await client.account_event(tiktok, "tiktok", "deleted", reason="the client erased their data")

    assert upload_files(queue, client) == []
    assert await holds(queue, client) == []
    assert not picture.exists()
