"""YouTube Data API v3 resumable upload, as a small client that classifies failures.

Three upload calls: open a session (``POST …?uploadType=resumable``), send a chunk
(``PUT <session>`` with ``Content-Range: bytes a-b/TOTAL``), and ask where a
session stands (``Content-Range: bytes */TOTAL``). Chunk bytes are streamed
from the file in small reads; nothing holds a chunk, let alone the video.
Errors come back as exception classes the publisher maps to results. One
read, :meth:`YouTubeUploads.find_uploaded`, finds a video whose upload
finished but whose id was never recorded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from cachalot_common.events import YouTubeOptions
from cachalot_common.untrusted import retry_after_seconds
from cachalot_publishing.multipart import ProgressHook
from cachalot_publishing.spans import read_span

UPLOAD_PATH = "/upload/youtube/v3/videos"
SEARCH_PATH = "/youtube/v3/search"
VIDEOS_PATH = "/youtube/v3/videos"
_RANGE = re.compile(r"^bytes=(\d+)-(\d+)$")


class YouTubeError(Exception):
    """A failed platform call; ``reason`` is Google's ``errors[0].reason``."""

    def __init__(self, message: str, *, status: int | None = None, reason: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason


class Unauthorized(YouTubeError):
    """401: the access token is expired or revoked."""


class Transient(YouTubeError):
    """Network trouble, 5xx or 429: try again (after ``retry_after_s`` if given)."""

    def __init__(self, message: str, *, retry_after_s: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after_s = retry_after_s


class QuotaExceeded(YouTubeError):
    """403 quotaExceeded: the project's daily units are spent until midnight Pacific."""


class UploadLimitExceeded(YouTubeError):
    """400 uploadLimitExceeded: the channel's daily upload cap; wait a day."""


class SessionExpired(YouTubeError):
    """404 on a session URI: it is gone; start a new session."""


class CannotLookUp(YouTubeError):
    """403 insufficientPermissions on a read: the token may upload but not list uploads."""


class Rejected(YouTubeError):
    """Any other 4xx: the request itself is wrong; retrying will not help."""


@dataclass(frozen=True, slots=True)
class UploadedVideo:
    id: str
    privacy_status: str | None

    @property
    def watch_url(self) -> str:
        return f"https://www.youtube.com/watch?v={self.id}"


@dataclass(frozen=True, slots=True)
class SessionStatus:
    """Where a session stands: bytes YouTube holds, or the finished video."""

    received: int
    video: UploadedVideo | None = None


def metadata(options: YouTubeOptions) -> dict[str, Any]:
    """The videos.insert body for ``part=snippet,status``."""
    snippet: dict[str, Any] = {
        "title": options.title,
        "description": options.description,
        "categoryId": options.category_id,
    }
    if options.tags:
        snippet["tags"] = list(options.tags)
    return {
        "snippet": snippet,
        "status": {
            "privacyStatus": options.privacy_status,
            "selfDeclaredMadeForKids": options.made_for_kids,
        },
    }


def _google_error(response: httpx.Response) -> tuple[str | None, str]:
    try:
        error = response.json().get("error") or {}
        items = error.get("errors") or [{}]
        return items[0].get("reason"), str(error.get("message") or response.reason_phrase)
    except (ValueError, AttributeError):
        return None, response.reason_phrase or f"HTTP {response.status_code}"


def _retry_after(response: httpx.Response) -> float | None:
    return retry_after_seconds(response.headers.get("retry-after"))


def classify(response: httpx.Response, *, session_call: bool) -> YouTubeError:
    """Turn a non-success response into the exception the publisher acts on."""
    status = response.status_code
    reason, message = _google_error(response)
    kw: dict[str, Any] = {"status": status, "reason": reason}
    if status == 401:
        return Unauthorized(message, **kw)
    if reason == "quotaExceeded":
        return QuotaExceeded(message, **kw)
    if reason == "uploadLimitExceeded":
        return UploadLimitExceeded(message, **kw)
    if status == 429 or reason in ("rateLimitExceeded", "userRateLimitExceeded"):
        return Transient(message, retry_after_s=_retry_after(response), **kw)
    if status in (500, 502, 503, 504):
        return Transient(message, retry_after_s=_retry_after(response), **kw)
    if status == 404 and session_call:
        return SessionExpired(message, **kw)
    return Rejected(message, **kw)


def _video(response: httpx.Response) -> UploadedVideo:
    body = response.json()
    return UploadedVideo(
        id=str(body["id"]), privacy_status=body.get("status", {}).get("privacyStatus")
    )


def _timestamp(value: object) -> datetime | None:
    """An RFC 3339 timestamp from Google (``2026-03-02T10:00:00.123Z``), or None."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _received(response: httpx.Response) -> int:
    match = _RANGE.match(response.headers.get("range", "").strip())
    return int(match.group(2)) + 1 if match else 0


class YouTubeUploads:
    """The three resumable-upload calls over one (instrumented) HTTP client."""

    def __init__(self, client: httpx.AsyncClient, *, api_base: str, read_bytes: int) -> None:
        self._client = client
        self._base = api_base.rstrip("/")
        self._read_bytes = read_bytes

    async def start_session(
        self, token: str, options: YouTubeOptions, *, total: int, content_type: str
    ) -> str:
        """Open a resumable session; returns its URI (the ``Location`` header)."""
        try:
            response = await self._client.post(
                f"{self._base}{UPLOAD_PATH}",
                params={"uploadType": "resumable", "part": "snippet,status"},
                json=metadata(options),
                headers={
                    "Authorization": f"Bearer {token}",
                    "X-Upload-Content-Length": str(total),
                    "X-Upload-Content-Type": content_type,
                },
            )
        except httpx.TransportError as error:
            raise Transient(f"network error opening the session: {type(error).__name__}") from None
        if response.status_code != 200:
            raise classify(response, session_call=False)
        location = response.headers.get("location")
        if not location:
            raise Transient("YouTube opened a session without a Location header", status=200)
        return str(location)

    async def query_status(self, token: str, session_uri: str, *, total: int) -> SessionStatus:
        """``PUT`` with ``bytes */TOTAL``: how much YouTube holds, or the finished video."""
        try:
            response = await self._client.put(
                session_uri,
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Range": f"bytes */{total}",
                    "Content-Length": "0",
                },
            )
        except httpx.TransportError as error:
            raise Transient(f"network error asking the session: {type(error).__name__}") from None
        return self._status(response)

    async def put_chunk(
        self,
        token: str,
        *,
        session_uri: str,
        path: Path,
        first: int,
        size: int,
        total: int,
        content_type: str,
        progress: ProgressHook | None = None,
    ) -> SessionStatus:
        """Send ``size`` bytes from ``first``, streamed from ``path``; ``progress(bytes of the
        file sent, total)`` as they leave (:func:`cachalot_publishing.spans.read_span`)."""
        try:
            response = await self._client.put(
                session_uri,
                content=read_span(
                    path, first, size, self._read_bytes, progress=progress, total=total
                ),
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": content_type,
                    "Content-Length": str(size),
                    "Content-Range": f"bytes {first}-{first + size - 1}/{total}",
                },
            )
        except httpx.TransportError as error:
            raise Transient(
                f"network error sending bytes {first}+: {type(error).__name__}"
            ) from None
        return self._status(response)

    async def find_uploaded(
        self, token: str, *, title: str, size: int, since: datetime
    ) -> UploadedVideo | None:
        """The caller's own video titled ``title``, of ``size`` bytes, published at or after
        ``since`` (the newest such), or None.

        ``search.list?forMine=true&type=video&q=<title>`` (100 quota units) names the
        candidates, ``videos.list?part=fileDetails`` (1 unit; owner-only) gives their
        uploaded sizes. Needs a reading scope (``youtube.readonly`` or wider); without one
        raises :class:`CannotLookUp`; other failures raise as :func:`classify` says.
        """
        found = await self._get(
            SEARCH_PATH,
            token,
            {
                "part": "snippet",
                "forMine": "true",
                "type": "video",
                "order": "date",
                "maxResults": "25",
                "q": title,
            },
        )
        candidates = []
        for item in found.get("items") or []:
            snippet = item.get("snippet") or {}
            video_id = (item.get("id") or {}).get("videoId")
            published = _timestamp(snippet.get("publishedAt"))
            if video_id and snippet.get("title") == title and published and published >= since:
                candidates.append(str(video_id))
        if not candidates:
            return None
        listed = await self._get(
            VIDEOS_PATH, token, {"part": "fileDetails,status", "id": ",".join(candidates)}
        )
        sizes = {str(item.get("id")): item for item in listed.get("items") or [] if item.get("id")}
        for video_id in candidates:  # newest first
            item = sizes.get(video_id) or {}
            file_size = (item.get("fileDetails") or {}).get("fileSize")
            if file_size is not None and str(file_size) == str(size):
                status = item.get("status") or {}
                return UploadedVideo(id=video_id, privacy_status=status.get("privacyStatus"))
        return None

    async def _get(self, path: str, token: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            response = await self._client.get(
                f"{self._base}{path}",
                params=params,
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.TransportError as error:
            raise Transient(f"network error listing videos: {type(error).__name__}") from None
        if response.status_code != 200:
            failure = classify(response, session_call=False)
            if failure.reason == "insufficientPermissions":
                raise CannotLookUp(failure.message, status=failure.status, reason=failure.reason)
            raise failure
        body = response.json()
        return body if isinstance(body, dict) else {}

    @staticmethod
    def _status(response: httpx.Response) -> SessionStatus:
        if response.status_code == 308:
            return SessionStatus(received=_received(response))
        if response.status_code in (200, 201):
            video = _video(response)
            return SessionStatus(received=-1, video=video)
        raise classify(response, session_call=True)
