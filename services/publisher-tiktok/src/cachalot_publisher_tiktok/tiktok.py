"""A typed client for the Content Posting API calls this service makes.

Every call is one HTTP request (one span, via the instrumented httpx client)
and raises :class:`TikTokApiError` when TikTok's envelope says anything but
``ok``, or :class:`TikTokUnreachable` when the network failed. The bearer
token is passed per call and never logged; upload URLs carry an upload
token, so they are never logged either.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from cachalot_common.text import truncate
from cachalot_common.untrusted import retry_after_seconds
from cachalot_publisher_tiktok.chunking import ChunkPlan

JSON = "application/json; charset=UTF-8"


class TikTokUnreachable(Exception):
    """The request did not get an answer (connection refused, dropped, timed out)."""


class TikTokApiError(Exception):
    """TikTok answered with an error envelope (or a non-JSON error)."""

    def __init__(
        self, status: int, code: str, message: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(f"TikTok {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class CreatorInfo:
    username: str | None
    privacy_level_options: tuple[str, ...]
    max_video_post_duration_sec: int | None
    comment_disabled: bool
    duet_disabled: bool
    stitch_disabled: bool


@dataclass(frozen=True, slots=True)
class PublishStatus:
    status: str
    fail_reason: str | None
    uploaded_bytes: int
    post_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ChunkAnswer:
    status: int  # 206 more expected, 201 all received


class TikTokClient:
    def __init__(self, client: httpx.AsyncClient, api_base: str) -> None:
        self._client = client
        self._base = api_base.rstrip("/")
        # each endpoint's URL parsed once: httpx parses a str URL on every request
        # (about half of building a request)
        self._urls: dict[str, httpx.URL] = {}

    def _url(self, path: str) -> httpx.URL:
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = httpx.URL(self._base + path)
        return url

    async def creator_info(self, token: str) -> CreatorInfo:
        data = await self._call("/v2/post/publish/creator_info/query/", token, None)
        return CreatorInfo(
            username=data.get("creator_username"),
            privacy_level_options=tuple(data.get("privacy_level_options") or ()),
            max_video_post_duration_sec=data.get("max_video_post_duration_sec"),
            comment_disabled=bool(data.get("comment_disabled")),
            duet_disabled=bool(data.get("duet_disabled")),
            stitch_disabled=bool(data.get("stitch_disabled")),
        )

    async def init_direct_post(
        self, token: str, post_info: dict[str, Any], plan: ChunkPlan
    ) -> tuple[str, str]:
        """(publish_id, upload_url) of a new Direct Post with a FILE_UPLOAD source."""
        data = await self._call(
            "/v2/post/publish/video/init/",
            token,
            {
                "post_info": post_info,
                "source_info": {
                    "source": "FILE_UPLOAD",
                    "video_size": plan.video_size,
                    "chunk_size": plan.chunk_size,
                    "total_chunk_count": plan.total_chunk_count,
                },
            },
        )
        return str(data["publish_id"]), str(data["upload_url"])

    async def init_photo_post(
        self, token: str, post_info: dict[str, Any], photo_urls: list[str], cover_index: int
    ) -> str:
        """publish_id of a new Direct Post of photos that TikTok pulls from ``photo_urls``
        (``content/init``, ``media_type`` PHOTO, ``source`` PULL_FROM_URL)."""
        data = await self._call(
            "/v2/post/publish/content/init/",
            token,
            {
                "post_info": post_info,
                "source_info": {
                    "source": "PULL_FROM_URL",
                    "photo_images": photo_urls,
                    "photo_cover_index": cover_index,
                },
                "post_mode": "DIRECT_POST",
                "media_type": "PHOTO",
            },
        )
        return str(data["publish_id"])

    async def fetch_status(self, token: str, publish_id: str) -> PublishStatus:
        data = await self._call("/v2/post/publish/status/fetch/", token, {"publish_id": publish_id})
        return PublishStatus(
            status=str(data.get("status", "")),
            fail_reason=data.get("fail_reason"),
            uploaded_bytes=int(data.get("uploaded_bytes") or 0),
            post_ids=tuple(int(i) for i in data.get("publicaly_available_post_id") or ()),
        )

    async def put_chunk(
        self,
        upload_url: str,
        body: AsyncIterator[bytes],
        *,
        first: int,
        length: int,
        total: int,
        content_type: str,
    ) -> ChunkAnswer:
        """PUT one chunk, streamed from ``body``, at ``upload_url`` (no Authorization)."""
        headers = {
            "Content-Type": content_type,
            "Content-Length": str(length),
            "Content-Range": f"bytes {first}-{first + length - 1}/{total}",
        }
        try:
            response = await self._client.put(upload_url, content=body, headers=headers)
        except httpx.HTTPError as error:
            raise TikTokUnreachable(f"upload: {type(error).__name__}") from None
        if response.status_code in (201, 206):
            return ChunkAnswer(response.status_code)
        raise _error(response)

    async def _call(self, path: str, token: str, body: dict[str, Any] | None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": JSON}
        try:
            response = await self._client.post(self._url(path), headers=headers, json=body)
        except httpx.HTTPError as failure:
            raise TikTokUnreachable(f"{path}: {type(failure).__name__}") from None
        envelope = _json(response)
        status = envelope.get("error") if isinstance(envelope, dict) else None
        code = status.get("code") if isinstance(status, dict) else None
        if response.status_code == 200 and code == "ok":
            data = envelope.get("data")
            return data if isinstance(data, dict) else {}
        raise _error(response, envelope)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _error(response: httpx.Response, envelope: Any = None) -> TikTokApiError:
    envelope = envelope if envelope is not None else _json(response)
    error = envelope.get("error") if isinstance(envelope, dict) else None
    code = str(error.get("code")) if isinstance(error, dict) and error.get("code") else ""
    message = str(error.get("message", "")) if isinstance(error, dict) else ""
    if not code:
        code = "internal_error" if response.status_code >= 500 else f"http_{response.status_code}"
    retry_after = retry_after_seconds(response.headers.get("retry-after"))
    return TikTokApiError(
        response.status_code, code, truncate(message, 300), retry_after=retry_after
    )
