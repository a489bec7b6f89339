"""YouTube's resumable upload for videos.insert, at its real path under ``/youtube``.

``POST /upload/youtube/v3/videos?uploadType=resumable&part=…`` opens a session
(200 + ``Location``); ``PUT <session URI>`` carries chunks (``Content-Range:
bytes a-b/TOTAL``, 308 + ``Range`` until the last one, then 201 + the video),
or asks where the session stands (``bytes */TOTAL``, empty body).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from cachalot_sandbox.settings import SandboxSettings
from cachalot_sandbox.tokens import registry
from cachalot_sandbox.youtube_upload import errors
from cachalot_sandbox.youtube_upload.errors import GoogleError, bad_request
from cachalot_sandbox.youtube_upload.metadata import UPLOAD_SCOPES, validate_metadata
from cachalot_sandbox.youtube_upload.state import (
    INSERT_COST_UNITS,
    Fault,
    UploadSession,
    state,
)

CHUNK_GRANULARITY = 256 * 1024
MAX_FILE_BYTES = 256 * 1024**3
MAX_METADATA_BYTES = 64 * 1024
UPLOAD_PATH = "/upload/youtube/v3/videos"
SEARCH_COST_UNITS = 100
READ_SCOPES = frozenset(
    f"https://www.googleapis.com/auth/{s}"
    for s in ("youtube", "youtube.readonly", "youtube.force-ssl", "youtubepartner")
)
_RANGE = re.compile(r"^bytes (?:(\d+)-(\d+)|\*)/(\d+|\*)$")


class DropConnection(Response):
    """Starts a response, then fails: uvicorn closes the socket mid-exchange.

    The client sees the connection die, exactly as when a proxy or the
    network drops an upload half-way.
    """

    def __init__(self) -> None:
        super().__init__(status_code=200, headers={"Content-Length": "1048576"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        raise ConnectionAbortedError("sandbox: connection dropped on purpose")


def _channel_for(request: Request) -> str:
    """The channel id behind the bearer token, or Google's 401/403."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise errors.unauthorized()
    issued = registry.lookup("google", token.strip())
    if issued is None or not issued.is_valid():
        raise errors.unauthorized()
    if not issued.scopes & UPLOAD_SCOPES:
        raise errors.insufficient_scope()
    return issued.subject


def _fire(fault: Fault | None) -> None:
    """Raise the error an armed fault stands for (drops are handled by the caller)."""
    if fault is None or fault.kind == "drop_mid_chunk":
        return
    match fault.kind:
        case "server_error":
            raise errors.server_error(fault.status)
        case "rate_limit":
            raise errors.rate_limited(fault.retry_after_s)
        case "quota_exceeded":
            raise errors.quota_exceeded()
        case "upload_limit_exceeded":
            raise errors.upload_limit_exceeded()
        case "unauthorized":
            raise errors.unauthorized()
        case "expire_session":
            state.expire_sessions()
            raise errors.session_not_found()


def _declared_length(request: Request) -> int:
    raw = request.headers.get("x-upload-content-length")
    if raw is None or not raw.isdigit() or int(raw) <= 0:
        raise bad_request(
            "invalidArgument", "X-Upload-Content-Length must be a positive integer (file bytes)."
        )
    if int(raw) > MAX_FILE_BYTES:
        raise bad_request("uploadTooLarge", "The file is larger than 256 GB.")
    return int(raw)


def _declared_type(request: Request) -> str:
    value = request.headers.get("x-upload-content-type", "").split(";")[0].strip().lower()
    if not (value.startswith("video/") or value == "application/octet-stream"):
        raise bad_request(
            "invalidArgument",
            "X-Upload-Content-Type must be video/* or application/octet-stream.",
        )
    return value


async def _metadata(request: Request) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise bad_request("badContent", "The metadata must be sent as application/json.")
    raw = bytearray()
    async for piece in request.stream():
        raw += piece
        if len(raw) > MAX_METADATA_BYTES:
            raise bad_request("badContent", "The metadata is too large.")
    try:
        return json.loads(raw or b"{}")
    except ValueError:
        raise bad_request("parseError", "Parse Error: the metadata is not valid JSON.") from None


def _range_header(session: UploadSession) -> dict[str, str]:
    return {"Range": f"bytes=0-{session.received - 1}"} if session.received else {}


def _incomplete(session: UploadSession) -> Response:
    return Response(status_code=308, headers={**_range_header(session), "Content-Length": "0"})


def _finished(session: UploadSession, status: int) -> JSONResponse:
    assert session.video_id is not None
    return JSONResponse(state.videos[session.video_id].resource(), status_code=status)


async def _receive_bytes(
    request: Request, session: UploadSession, expected: int, stop_after: int | None
) -> tuple[int, bool]:
    """Append the body to the session's file; returns (bytes written, body complete).

    Every piece goes straight to disk. If the client disconnects, what arrived
    is kept, as Google keeps what it persisted; the status query reports it.
    """
    written = 0
    throttle = state.throttle_bytes_per_s
    limit = expected if stop_after is None else min(stop_after, expected)
    complete = True
    with session.path.open("r+b") as handle:
        handle.seek(session.received)
        try:
            async for piece in request.stream():
                if not piece:
                    continue
                if written + len(piece) > expected:
                    handle.truncate(session.received)
                    raise bad_request(
                        "badContent", "The body is longer than the Content-Range says."
                    )
                room = limit - written
                handle.write(piece[:room])
                written += min(len(piece), room)
                if throttle:
                    await asyncio.sleep(len(piece) / throttle)
                if stop_after is not None and written >= limit:
                    complete = False
                    break
        except ClientDisconnect:
            complete = False
        handle.flush()
    return written, complete


def create_platform_router(settings: SandboxSettings) -> APIRouter:
    router = APIRouter(prefix="/youtube", tags=["sandbox: youtube upload"])

    @router.post(UPLOAD_PATH, response_model=None)
    async def start_session(request: Request) -> Response:
        """videos.insert, resumable: validate the metadata, charge quota, open a session."""
        try:
            query = request.query_params
            if query.get("uploadType") != "resumable":
                raise bad_request(
                    "invalidArgument", "The sandbox supports uploadType=resumable only."
                )
            parts = {p.strip() for p in query.get("part", "").split(",") if p.strip()}
            if not parts:
                raise GoogleError(400, "required", "Required parameter: part")
            channel_id = _channel_for(request)
            _fire(state.take_fault("insert"))
            total = _declared_length(request)
            content_type = _declared_type(request)
            snippet, status = validate_metadata(await _metadata(request), parts)
            if state.unaudited:  # unaudited API projects may only upload private videos
                status["privacyStatus"] = "private"
            uploads = state.channel_uploads.get(channel_id, 0)
            if uploads >= state.channel_daily_uploads:
                raise errors.upload_limit_exceeded()
            if not state.quota.charge(INSERT_COST_UNITS):
                raise errors.quota_exceeded()
            state.channel_uploads[channel_id] = uploads + 1
        except GoogleError as error:
            return error.response()
        session = state.open_session(
            channel_id=channel_id,
            snippet=snippet,
            status=status,
            total=total,
            content_type=content_type,
        )
        location = f"{settings.base_url()}/youtube{UPLOAD_PATH}?" + urlencode(
            {
                "uploadType": "resumable",
                "upload_id": session.upload_id,
                "part": query.get("part", ""),
            },
            safe=",",
        )
        return Response(
            status_code=200,
            headers={
                "Location": location,
                "X-GUploader-UploadID": session.upload_id,
                "Content-Length": "0",
            },
        )

    @router.put(UPLOAD_PATH, response_model=None)
    async def put_bytes(request: Request) -> Response:
        """A chunk, the whole file, or a status query (``bytes */TOTAL``)."""
        try:
            _channel_for(request)
            session = state.find_session(request.query_params.get("upload_id", ""))
            if session is None:
                raise errors.session_not_found()
            return await _put(request, session)
        except GoogleError as error:
            return error.response()

    async def _put(request: Request, session: UploadSession) -> Response:
        content_range = request.headers.get("content-range")
        length_header = request.headers.get("content-length", "0")
        length = int(length_header) if length_header.isdigit() else 0
        if content_range is None:
            first, last, total = 0, length - 1, session.total
            query_only = length == 0
        else:
            match = _RANGE.match(content_range.strip())
            if match is None:
                raise bad_request("badContent", f"Malformed Content-Range: {content_range!r}")
            total_raw = match.group(3)
            total = session.total if total_raw == "*" else int(total_raw)
            query_only = match.group(1) is None
            first = int(match.group(1) or 0)
            last = int(match.group(2) or -1)
        if total != session.total:
            raise bad_request(
                "badContent",
                f"Content-Range total {total} is not X-Upload-Content-Length {session.total}.",
            )
        fault = state.take_fault("chunk", carries_bytes=not query_only)
        _fire(fault)
        async with session.lock:
            if query_only:
                if session.video_id is not None:
                    return _finished(session, 200)
                return _incomplete(session)
            if session.video_id is not None:
                raise bad_request("badContent", "This upload is already complete.")
            size = last - first + 1
            if first != session.received or size <= 0 or last >= session.total:
                raise bad_request(
                    "badContent",
                    f"Content-Range bytes {first}-{last}/{total} does not continue the "
                    f"{session.received} bytes received; ask with bytes */{total}.",
                )
            is_last = last + 1 == session.total
            if not is_last and size % CHUNK_GRANULARITY:
                raise bad_request(
                    "badContent",
                    f"A chunk other than the last must be a multiple of {CHUNK_GRANULARITY} "
                    f"bytes; got {size}.",
                )
            if request.headers.get("content-length") is not None and length != size:
                raise bad_request(
                    "badContent", f"Content-Length {length} differs from Content-Range size {size}."
                )
            if session.first_byte_at is None:
                session.first_byte_at = time.time()
            drop = fault is not None and fault.kind == "drop_mid_chunk"
            stop_after = None
            if drop:
                assert fault is not None
                stop_after = fault.accept_bytes if fault.accept_bytes is not None else size // 2
            written, complete = await _receive_bytes(request, session, size, stop_after)
            if drop:
                session.received += written
                return DropConnection()
            if not complete:
                session.received += written  # the client went away; keep what arrived
                raise bad_request("badContent", "The body ended before the Content-Range did.")
            if written != size:
                with session.path.open("r+b") as handle:
                    handle.truncate(session.received)
                raise bad_request("badContent", f"Got {written} bytes, Content-Range says {size}.")
            session.received += written
            session.chunks += 1
            if session.received < session.total:
                return _incomplete(session)
            state.finish(session)
            return _finished(session, 201)

    @router.get("/youtube/v3/search", response_model=None)
    async def search(request: Request) -> Response:
        """search.list, ``forMine=true&type=video`` only: the caller's videos whose title
        holds ``q`` (case-insensitive), newest first, ``maxResults`` (≤ 50). 100 units."""
        try:
            query = request.query_params
            if "snippet" not in query.get("part", "").split(","):
                raise GoogleError(400, "required", "Required parameter: part")
            if query.get("forMine") != "true" or query.get("type") != "video":
                raise bad_request(
                    "invalidSearchFilter", "The sandbox supports forMine=true&type=video only."
                )
            channel_id = _reader_channel(request)
            if not state.quota.charge(SEARCH_COST_UNITS):
                raise errors.quota_exceeded()
        except GoogleError as error:
            return error.response()
        words = query.get("q", "").casefold()
        limit = min(max(int(query.get("maxResults", "5") or 5), 0), 50)
        mine = [
            v
            for v in state.videos.values()
            if v.channel_id == channel_id and words in str(v.snippet.get("title", "")).casefold()
        ]
        mine.sort(key=lambda v: v.published_at, reverse=True)
        items = [
            {
                "kind": "youtube#searchResult",
                "id": {"kind": "youtube#video", "videoId": v.id},
                "snippet": {
                    "publishedAt": v.published_at,
                    "channelId": v.channel_id,
                    "title": v.snippet.get("title"),
                    "description": v.snippet.get("description", ""),
                },
            }
            for v in mine[:limit]
        ]
        return JSONResponse(
            {
                "kind": "youtube#searchListResponse",
                "pageInfo": {"totalResults": len(mine)},
                "items": items,
            }
        )

    @router.get("/youtube/v3/videos", response_model=None)
    async def list_videos(request: Request) -> Response:
        """videos.list by ``id`` (comma-separated); ``fileDetails`` (the uploaded file's
        size and type) only for the owner's own videos, as on YouTube. 1 unit."""
        try:
            parts = {p for p in request.query_params.get("part", "").split(",") if p}
            if not parts:
                raise GoogleError(400, "required", "Required parameter: part")
            channel_id = _reader_channel(request)
            if not state.quota.charge(1):
                raise errors.quota_exceeded()
        except GoogleError as error:
            return error.response()
        ids = [i for i in request.query_params.get("id", "").split(",") if i]
        items = []
        for video_id in ids[:50]:
            video = state.videos.get(video_id)
            if video is None:
                continue
            resource = video.resource()
            item: dict[str, Any] = {"kind": resource["kind"], "id": video.id}
            for part in ("snippet", "status"):
                if part in parts:
                    item[part] = resource[part]
            if "fileDetails" in parts and video.channel_id == channel_id:
                item["fileDetails"] = {"fileSize": str(video.size), "fileType": "video"}
            items.append(item)
        return JSONResponse({"kind": "youtube#videoListResponse", "items": items})

    return router


def _reader_channel(request: Request) -> str:
    """The caller's channel, for calls that read the channel (youtube.readonly and up)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise errors.unauthorized()
    issued = registry.lookup("google", token.strip())
    if issued is None or not issued.is_valid():
        raise errors.unauthorized()
    if not issued.scopes & READ_SCOPES:
        raise errors.insufficient_scope()
    return issued.subject
