"""Uploads cannot exhaust the disk: a quota per client, a disk reserve, no partial file kept.

Issue 8, item 8: five 512 MiB uploads in a row were accepted for one client,
and a queue killed mid-upload left a partial file that survived its restart.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from queue_support import SECRET, VIDEO, QueueServer, eventually, own_queue
from sqlalchemy import func, select

from cachalot_common.sessions import COOKIE_NAME, issue_session
from cachalot_queue.media_store import store_upload
from cachalot_queue.tables import Media, MediaReservation
from cachalot_testing.processes import ServiceProcess

pytestmark = pytest.mark.integration

VIDEO_TYPE = {"Content-Type": "video/mp4"}
QUOTA = 2 * len(VIDEO) + len(VIDEO) // 2  # two tiny videos fit, a third does not


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def quota_queue(
    request: pytest.FixtureRequest,
    kafka_bootstrap: str,
    kafka_idempotence: bool,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[QueueServer]:
    async with own_queue(
        request, kafka_bootstrap, kafka_idempotence, tmp_path_factory, "limits",
        run_workers=False, media_quota_bytes=QUOTA,
    ) as server:  # fmt: skip
        yield server


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def full_disk_queue(
    request: pytest.FixtureRequest,
    kafka_bootstrap: str,
    kafka_idempotence: bool,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[QueueServer]:
    async with own_queue(
        request, kafka_bootstrap, kafka_idempotence, tmp_path_factory, "limits",
        run_workers=False,
        media_disk_reserve_bytes=10**18,  # more than any disk has: nothing fits
    ) as server:  # fmt: skip
        yield server


def files_of(queue: QueueServer) -> set[Path]:
    return {p for p in queue.runtime.settings.media_dir.rglob("*") if p.is_file()}


async def holds_of(queue: QueueServer, client_id: uuid.UUID) -> int:
    async with queue.runtime.reader() as session:
        count = await session.scalar(
            select(func.count()).where(MediaReservation.client_id == client_id)
        )
    return int(count or 0)


async def media_of(queue: QueueServer, client_id: uuid.UUID) -> int:
    async with queue.runtime.reader() as session:
        count = await session.scalar(select(func.count()).where(Media.client_id == client_id))
    return int(count or 0)


def assert_quota_problem(response: httpx.Response, *, used: int, upload: int) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "https://cachalot.dev/problems/media-quota-exceeded"
    assert (problem["used_bytes"], problem["quota_bytes"]) == (used, QUOTA)
    assert problem["upload_bytes"] == upload
    assert str(QUOTA) in problem["detail"]


async def test_an_upload_past_the_quota_with_its_length_is_refused_before_anything_is_written(
    quota_queue: QueueServer,
) -> None:
    client = quota_queue.client()
    await client.upload()
    await client.upload()
    before = files_of(quota_queue)

    third = await client.http.post("/api/v1/media", content=VIDEO, headers=VIDEO_TYPE)

    assert_quota_problem(third, used=2 * len(VIDEO), upload=len(VIDEO))
    assert files_of(quota_queue) == before
    assert await holds_of(quota_queue, client.id) == 0
    assert await media_of(quota_queue, client.id) == 2
    # another client has a quota of its own
    assert (
        await quota_queue.client().http.post("/api/v1/media", content=VIDEO, headers=VIDEO_TYPE)
    ).status_code == 201


async def test_a_chunked_upload_past_the_quota_is_refused_while_it_streams(
    quota_queue: QueueServer,
) -> None:
    client = quota_queue.client()
    await client.upload()
    await client.upload()
    before = files_of(quota_queue)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(VIDEO), 1000):
            yield VIDEO[start : start + 1000]

    third = await client.http.post("/api/v1/media", content=chunks(), headers=VIDEO_TYPE)

    assert third.status_code == 413, third.text
    problem = third.json()
    assert (problem["used_bytes"], problem["quota_bytes"]) == (2 * len(VIDEO), QUOTA)
    assert 2 * len(VIDEO) + problem["upload_bytes"] > QUOTA
    assert files_of(quota_queue) == before
    assert await holds_of(quota_queue, client.id) == 0
    assert await media_of(quota_queue, client.id) == 2


async def test_a_chunked_upload_that_fits_the_quota_is_kept(quota_queue: QueueServer) -> None:
    client = quota_queue.client()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(VIDEO), 1000):
            yield VIDEO[start : start + 1000]

    response = await client.http.post("/api/v1/media", content=chunks(), headers=VIDEO_TYPE)

    assert response.status_code == 201, response.text
    assert await holds_of(quota_queue, client.id) == 0


async def test_two_parallel_uploads_cannot_both_slip_past_the_quota(
    quota_queue: QueueServer,
) -> None:
    client = quota_queue.client()
    await client.upload()
    release = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield VIDEO[:1000]
        await release.wait()
        yield VIDEO[1000:]

    first = asyncio.create_task(
        client.http.post(
            "/api/v1/media",
            content=slow(),
            headers={**VIDEO_TYPE, "Content-Length": str(len(VIDEO))},
        )
    )
    await eventually(lambda: holds_of(quota_queue, client.id), timeout=10)
    second = await client.http.post("/api/v1/media", content=VIDEO, headers=VIDEO_TYPE)
    release.set()

    assert_quota_problem(second, used=2 * len(VIDEO), upload=len(VIDEO))
    assert (await first).status_code == 201
    assert await holds_of(quota_queue, client.id) == 0
    assert await media_of(quota_queue, client.id) == 2


async def test_an_upload_that_would_eat_the_disk_reserve_is_refused_with_507(
    full_disk_queue: QueueServer,
) -> None:
    client = full_disk_queue.client()
    before = files_of(full_disk_queue)

    response = await client.http.post("/api/v1/media", content=VIDEO, headers=VIDEO_TYPE)

    assert response.status_code == 507, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["upload_bytes"] == len(VIDEO)
    assert files_of(full_disk_queue) == before
    assert await holds_of(full_disk_queue, client.id) == 0


async def start_raw_upload(
    base_url: str, client_id: uuid.UUID, *, declared: int, sent: bytes
) -> asyncio.StreamWriter:
    """An upload over a bare socket that sends ``sent`` of ``declared`` bytes and waits."""
    token, _ = issue_session(client_id=client_id, secret=SECRET, lifetime_s=3600)
    host, port = base_url.removeprefix("http://").split(":")
    _, writer = await asyncio.open_connection(host, int(port))
    head = (
        f"POST /api/v1/media HTTP/1.1\r\nHost: {host}\r\n"
        f"Cookie: {COOKIE_NAME}={token}\r\nContent-Type: video/mp4\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    )
    writer.write(head.encode() + sent)
    await writer.drain()
    return writer


def parts_in(media_dir: Path) -> list[Path]:
    return list((media_dir / ".incoming").glob("*.part"))


async def test_a_client_that_goes_away_mid_upload_leaves_no_file_and_no_hold(
    queue: QueueServer,
) -> None:
    client_id = uuid.uuid4()
    media_dir = queue.runtime.settings.media_dir
    before = files_of(queue)
    writer = await start_raw_upload(
        queue.base_url, client_id, declared=500_000, sent=VIDEO + bytes(100_000)
    )
    await eventually(lambda: parts_in(media_dir), timeout=10)
    assert await holds_of(queue, client_id) == 1

    writer.close()

    await eventually(lambda: not parts_in(media_dir), timeout=10)

    async def released() -> bool:
        return await holds_of(queue, client_id) == 0

    await eventually(released, timeout=10)
    assert files_of(queue) == before
    assert await media_of(queue, client_id) == 0


async def test_a_cancelled_upload_leaves_no_partial_file(tmp_path: Path) -> None:
    written = asyncio.Event()

    async def stalls() -> AsyncIterator[bytes]:
        yield VIDEO
        written.set()
        await asyncio.Event().wait()  # the client stops sending; the server shuts down
        yield b""

    task = asyncio.create_task(
        store_upload(
            stalls(),
            media_dir=tmp_path,
            media_id=uuid.uuid4(),
            max_bytes=10**6,
            max_image_bytes=10**6,
        )
    )
    await written.wait()
    assert len(parts_in(tmp_path)) == 1

    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task
    assert parts_in(tmp_path) == []
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_partial_upload_of_a_killed_queue_is_gone_after_its_restart(
    tmp_path: Path, kafka_bootstrap: str, kafka_idempotence: bool
) -> None:
    media_dir = tmp_path / "media"
    env = {
        "CACHALOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/queue.db",
        "CACHALOT_SESSION_SECRET": SECRET,
        "CACHALOT_MEDIA_DIR": str(media_dir),
        "CACHALOT_MEDIA_PARTIAL_GRACE_S": "0",
        "CACHALOT_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "CACHALOT_KAFKA_IDEMPOTENCE": str(kafka_idempotence).lower(),
        "CACHALOT_KAFKA_SESSION_TIMEOUT_MS": "2000",
        "CACHALOT_CONSUMER_GROUP": f"queue-kill-{uuid.uuid4().hex[:8]}",
        "CACHALOT_ENVIRONMENT": "test",
    }
    service = ServiceProcess("cachalot_queue", env=env, log_path=tmp_path / "queue.log")
    service.start(timeout=90)
    client_id = uuid.uuid4()

    async def upload_then_kill() -> None:
        writer = await start_raw_upload(
            service.base_url, client_id, declared=2_000_000, sent=VIDEO + bytes(500_000)
        )
        await eventually(lambda: parts_in(media_dir), timeout=10)
        service.kill()  # SIGKILL mid-upload: nothing in the process can clean up
        writer.close()

    def holds() -> int:
        with sqlite3.connect(tmp_path / "queue.db") as db:
            return int(db.execute("SELECT count(*) FROM media_reservations").fetchone()[0])

    try:
        asyncio.run(upload_then_kill())
        assert len(parts_in(media_dir)) == 1
        assert holds() == 1

        service.start(timeout=90)

        assert parts_in(media_dir) == []
        assert holds() == 0
        assert [p for p in media_dir.iterdir() if p.is_file()] == []
    finally:
        service.stop()
