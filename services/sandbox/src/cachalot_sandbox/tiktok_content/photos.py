"""``POST /v2/post/publish/content/init/``: photo posts (PULL_FROM_URL), faithful to the docs.

What TikTok documents (shared/reference/platforms.md §1.2 "Photo posts";
TikTok's content-posting reference and media transfer guide, checked with the
search tool) and what this fake checks, in order, after the token, scope,
rate-limit and fault checks of :func:`~cachalot_sandbox.tiktok_content.api.authorize`:

* ``media_type`` is ``PHOTO``; ``post_mode`` is ``DIRECT_POST`` (scope
  ``video.publish``, ``post_info.privacy_level`` checked as for videos) or
  ``MEDIA_UPLOAD`` (scope ``video.upload``; ends in ``SEND_TO_USER_INBOX``);
* ``post_info.title`` ≤ 90 and ``post_info.description`` ≤ 4000, counted in
  UTF-16 units (TikTok says "characters"; the stricter reading);
* ``source_info.source`` is ``PULL_FROM_URL`` (``FILE_UPLOAD`` is not offered
  for photos); ``photo_images`` holds 1–35 URLs, each under a verified prefix
  (403 ``url_ownership_unverified``); ``photo_cover_index`` names one of them.
  A verified prefix must be ``https`` at TikTok; the fake also takes ``http``
  URLs under a prefix that is itself ``http`` (the embedded gateway's
  ``CACHALOT_PUBLIC_URL`` on a developer's machine). Prefixes come from
  ``CACHALOT_TIKTOK_VERIFIED_URL_PREFIXES`` (default ``CACHALOT_PUBLIC_URL``)
  or ``POST /sandbox/tiktok/config {"verified_url_prefixes": [...]}``.

Then, like TikTok, it answers with a ``publish_id`` at once and pulls the
images in the background with real HTTP GETs (no redirects followed, 30 s
each): status ``PROCESSING_DOWNLOAD`` meanwhile. A pull that fails (network
error, non-200, an armed ``pull`` fault) ends the post ``FAILED`` with
``photo_pull_failed``; a file that is not JPEG or WebP by its magic bytes
(PNG included: TikTok's photo endpoint takes JPG/JPEG/WEBP only) with
``file_format_check_failed``; one over 20,000,000 bytes, or larger than 1080p
(TikTok's media transfer guide: "1080p at most"; read as the longer side over
1920 px or the shorter over 1080 px, either way up, as the registry's
``cachalot_common.platforms.tiktok`` does; sizes read from the JPEG SOF marker
or the WebP header in the first 256 KiB), with ``picture_size_check_failed``.
Each pulled image's SHA-256 and size are recorded and shown by ``GET /sandbox/tiktok/posts``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any, Final

import httpx

from cachalot_sandbox.settings import SandboxSettings
from cachalot_sandbox.tiktok_content.envelope import TikTokError
from cachalot_sandbox.tiktok_content.state import PublishTask, store

logger = logging.getLogger(__name__)

MAX_IMAGES: Final = 35
MAX_TITLE_UTF16: Final = 90
MAX_DESCRIPTION_UTF16: Final = 4000
MAX_IMAGE_BYTES: Final = 20_000_000
MAX_LONG_SIDE_PX: Final = 1920
MAX_SHORT_SIDE_PX: Final = 1080
HEAD_BYTES: Final = 256 * 1024
PULL_TIMEOUT_S: Final = 30.0
_pulls: set[asyncio.Task[None]] = set()  # strong references while pulls run


class PullFailed(Exception):
    """An image could not be used; ``fail_reason`` is TikTok's status value."""

    def __init__(self, fail_reason: str) -> None:
        super().__init__(fail_reason)
        self.fail_reason = fail_reason


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def verified_prefixes(settings: SandboxSettings) -> list[str]:
    configured = store.config.verified_url_prefixes
    return list(configured) if configured is not None else settings.tiktok_url_prefixes()


def check_photo_source(source: object, prefixes: list[str]) -> tuple[list[str], int]:
    """(photo URLs, cover index) of a well-formed ``source_info``, else :class:`TikTokError`."""
    if not isinstance(source, dict) or source.get("source") != "PULL_FROM_URL":
        raise TikTokError(
            400, "invalid_param", "source_info.source must be PULL_FROM_URL for photos."
        )
    urls = source.get("photo_images")
    if not isinstance(urls, list) or not all(isinstance(u, str) and u for u in urls):
        raise TikTokError(400, "invalid_param", "source_info.photo_images must list URLs.")
    if not 1 <= len(urls) <= MAX_IMAGES:
        raise TikTokError(
            400, "invalid_param", f"source_info.photo_images must hold 1 to {MAX_IMAGES} URLs."
        )
    for url in urls:
        if not _verified(url, prefixes):
            raise TikTokError(
                403,
                "url_ownership_unverified",
                "A photo URL is not under a domain or URL prefix verified for this app.",
            )
    cover = source.get("photo_cover_index", 0)
    if not isinstance(cover, int) or isinstance(cover, bool) or not 0 <= cover < len(urls):
        raise TikTokError(
            400, "invalid_param", "source_info.photo_cover_index must name one of the photos."
        )
    return urls, cover


def _verified(url: str, prefixes: list[str]) -> bool:
    for prefix in prefixes:
        if url.startswith(prefix) and (url.startswith("https://") or prefix.startswith("http://")):
            return True
    return False


def check_photo_text(post_info: dict[str, Any]) -> None:
    """``title`` ≤ 90 and ``description`` ≤ 4000 UTF-16 units (strings when present)."""
    for name, limit in (("title", MAX_TITLE_UTF16), ("description", MAX_DESCRIPTION_UTF16)):
        value = post_info.get(name, "")
        if not isinstance(value, str) or utf16(value) > limit:
            raise TikTokError(
                400, "invalid_param", f"post_info.{name} exceeds {limit} UTF-16 units."
            )


def start_pull(task: PublishTask, urls: list[str]) -> None:
    """Pull ``urls`` for ``task`` in the background (the init call has answered by then)."""
    pull = asyncio.get_running_loop().create_task(_pull(task, urls))
    _pulls.add(pull)
    pull.add_done_callback(_pulls.discard)


async def _pull(task: PublishTask, urls: list[str]) -> None:
    try:
        fault = store.take_fault("pull")
        if fault is not None:
            raise PullFailed("photo_pull_failed")
        async with httpx.AsyncClient(timeout=PULL_TIMEOUT_S, follow_redirects=False) as client:
            images = [await fetch_image(client, url) for url in urls]
    except PullFailed as failure:
        logger.info("tiktok photo %s: %s", task.publish_id, failure.fail_reason)
        task.fail_reason = failure.fail_reason
        task.completed_at = None
        return
    store.complete_photo(task, images)


async def fetch_image(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    """GET one image: {sha256, size, content_type}; :class:`PullFailed` when unusable."""
    digest = hashlib.sha256()
    size = 0
    head = b""
    try:
        async with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise PullFailed("photo_pull_failed")
            async for piece in response.aiter_bytes():
                size += len(piece)
                if size > MAX_IMAGE_BYTES:
                    raise PullFailed("picture_size_check_failed")
                if len(head) < HEAD_BYTES:
                    head += piece[: HEAD_BYTES - len(head)]
                digest.update(piece)
    except httpx.HTTPError:
        raise PullFailed("photo_pull_failed") from None
    content_type = image_type(head)
    if content_type is None:
        raise PullFailed("file_format_check_failed")
    size_px = picture_size(head)
    if size_px is not None and (
        max(size_px) > MAX_LONG_SIDE_PX or min(size_px) > MAX_SHORT_SIDE_PX
    ):
        raise PullFailed("picture_size_check_failed")
    return {"sha256": digest.hexdigest(), "size": size, "content_type": content_type}


def image_type(head: bytes) -> str | None:
    """``image/jpeg`` or ``image/webp`` by magic bytes; ``None`` for anything else (PNG too)."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def picture_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) in pixels from a JPEG's SOF marker or a WebP header; ``None`` when
    ``head`` does not say (the check is then skipped)."""
    if head.startswith(b"\xff\xd8"):
        return _jpeg_size(head)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP" and len(head) >= 30:
        chunk = head[12:16]
        if chunk == b"VP8X":
            width = int.from_bytes(head[24:27], "little") + 1
            height = int.from_bytes(head[27:30], "little") + 1
            return width, height
        if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":
            width = int.from_bytes(head[26:28], "little") & 0x3FFF
            height = int.from_bytes(head[28:30], "little") & 0x3FFF
            return width, height
        if chunk == b"VP8L" and head[20] == 0x2F:
            bits = int.from_bytes(head[21:25], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # frame headers (not DHT, JPG, DAC)


def _jpeg_size(head: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 10 <= len(head):
        if head[i] != 0xFF:
            return None
        marker = head[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length
            i += 2
            continue
        if marker in _SOF:
            # a frame header is whole: 8- or 12-bit samples, 1, 3 or 4 components, and a
            # length that fits them (random bytes after a JPEG's magic are not read as one)
            length = int.from_bytes(head[i + 2 : i + 4], "big")
            components = head[i + 9] if i + 9 < len(head) else 0
            if head[i + 4] not in (8, 12) or components not in (1, 3, 4):
                return None
            if length != 8 + 3 * components:
                return None
            height = int.from_bytes(head[i + 5 : i + 7], "big")
            width = int.from_bytes(head[i + 7 : i + 9], "big")
            return (width, height) if width and height else None
        i += 2 + int.from_bytes(head[i + 2 : i + 4], "big")
    return None
