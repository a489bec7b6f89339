"""``PUT {upload_url}``: the FILE_UPLOAD chunks of a Direct Post.

Checked as TikTok documents: the upload task exists (404) and its URL has
not expired (403); ``Content-Type`` is one of the three video types and
``Content-Length``/``Content-Range`` are well formed (400); the range starts
exactly where the upload stands and covers the declared chunk (416). Bytes
stream to the task's file as they arrive; a chunk that does not arrive whole
is cut off again, so progress only moves by whole chunks. Answers 206 (more
expected) or 201 (all parts received) with ``Content-Range: bytes
0-{UPLOADED_BYTES}/{TOTAL}`` (the documented progress header).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.requests import ClientDisconnect

from cachalot_sandbox.tiktok_content.envelope import TikTokError, TikTokRoute, ok
from cachalot_sandbox.tiktok_content.state import PublishTask, store

VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime", "video/webm"})
_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")
_busy: set[str] = set()


def create_upload_router() -> APIRouter:
    router = APIRouter(prefix="/tiktok/upload", tags=["tiktok: upload"], route_class=TikTokRoute)

    @router.put("/video/")
    async def put_chunk(request: Request, upload_id: str = "", upload_token: str = "") -> Response:
        task = store.by_upload.get(upload_id)
        if task is None or task.upload_token != upload_token:
            await _drain(request)
            raise TikTokError(404, "invalid_upload", "No upload task for this URL.")
        if time.time() >= task.expires_at:
            await _drain(request)
            raise TikTokError(403, "upload_url_expired", "The upload URL has expired.")
        if upload_id in _busy:
            await _drain(request)
            raise TikTokError(416, "range_mismatch", "Another chunk is being uploaded.")
        _busy.add(upload_id)
        try:
            return await _receive(request, task)
        except TikTokError:
            await _drain(request)
            raise
        finally:
            _busy.discard(upload_id)

    return router


async def _receive(request: Request, task: PublishTask) -> Response:
    first, length = _check_headers(request, task)
    fault = store.take_fault("upload")
    if fault is not None and fault.kind == "drop_connection":
        await _drain(request)
        return _dropped()
    if fault is not None and fault.kind == "chunk_in_progress":  # the answer put_chunk gives
        await _drain(request)  # while the body of an earlier PUT (a killed sender's) arrives
        raise TikTokError(416, "range_mismatch", "Another chunk is being uploaded.")
    if fault is not None:
        await _drain(request)
        raise TikTokError(500, "internal_error", "Upload failed; retry the same chunk.")
    if task.first_put_at is None:
        task.first_put_at = time.time()
    hasher = task.hasher.copy()
    received = 0
    started = time.monotonic()
    throttle = store.config.upload_throttle_bps
    complete = False
    fd = os.open(task.path, os.O_WRONLY)
    try:
        os.lseek(fd, first, os.SEEK_SET)
        async for piece in request.stream():
            if not piece:
                continue
            received += len(piece)
            if received > length:
                raise TikTokError(400, "invalid_params", "The body exceeds Content-Length.")
            os.write(fd, piece)
            hasher.update(piece)
            if throttle:
                ahead = received / throttle - (time.monotonic() - started)
                if ahead > 0:
                    await asyncio.sleep(ahead)
        if received != length:
            raise TikTokError(400, "invalid_params", "The body is shorter than Content-Length.")
        complete = True
    except ClientDisconnect:
        raise TikTokError(400, "invalid_params", "The client went away mid-chunk.") from None
    finally:
        if not complete:
            os.ftruncate(fd, first)
        os.close(fd)
    task.hasher = hasher
    task.uploaded_bytes = first + length
    done = task.uploaded_bytes == task.plan.video_size
    if done:
        store.complete(task)
    response = ok({}, status=201 if done else 206)
    response.headers["Content-Range"] = f"bytes 0-{task.uploaded_bytes}/{task.plan.video_size}"
    return response


def _check_headers(request: Request, task: PublishTask) -> tuple[int, int]:
    """(first byte, chunk length) once the headers agree with the upload's state."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in VIDEO_TYPES:
        raise TikTokError(
            400, "invalid_params", "Content-Type must be video/mp4, video/quicktime or video/webm."
        )
    raw_length = request.headers.get("content-length", "")
    if not raw_length.isdigit():
        raise TikTokError(400, "invalid_params", "Content-Length is required.")
    match = _RANGE.match(request.headers.get("content-range", "").strip())
    if match is None:
        raise TikTokError(400, "invalid_params", "Content-Range must be bytes FIRST-LAST/TOTAL.")
    first, last, total = (int(g) for g in match.groups())
    plan = task.plan
    if total != plan.video_size:
        raise TikTokError(400, "invalid_params", "Content-Range total differs from video_size.")
    progress = {"Content-Range": f"bytes 0-{task.uploaded_bytes}/{plan.video_size}"}
    index = first // plan.chunk_size if first < plan.video_size else plan.total_chunk_count
    if first != task.uploaded_bytes or index >= plan.total_chunk_count:
        raise TikTokError(
            416, "range_mismatch", "Content-Range does not match the upload.", headers=progress
        )
    expected = plan.chunk_length(index)
    if last - first + 1 != expected:
        raise TikTokError(
            416, "range_mismatch", f"Chunk {index + 1} must be {expected} bytes.", headers=progress
        )
    if int(raw_length) != expected:
        raise TikTokError(400, "invalid_params", "Content-Length differs from the chunk size.")
    return first, expected


async def _drain(request: Request) -> None:
    """Read and discard the body, so the client sees our answer, not a reset."""
    try:
        async for _ in request.stream():
            pass
    except (ClientDisconnect, RuntimeError):  # gone, or already read
        pass


def _dropped() -> Response:
    """A response that dies after its head: the client sees the connection drop."""

    async def broken() -> AsyncIterator[bytes]:
        yield b"{"
        raise ConnectionAbortedError("sandbox fault: connection dropped mid-chunk")

    return StreamingResponse(broken(), status_code=206, headers={"Content-Length": "64"})
