"""Signed, expiring links to media files, for platforms that fetch media (issue 10 item 2).

Instagram (and TikTok's photo mode) take a public URL and fetch the file
themselves. Each file of such a post is served at

    <CACHALOT_PUBLIC_URL>/media/v1/<media id>/<expires>/<signature>

``expires`` is a Unix time in seconds; ``signature`` is the unpadded
base64url HMAC-SHA256, under the link key, of ``"cachalot-media-link/v1"``,
the media id and ``expires`` (newline-separated: no field can run into the
next). Why this scheme: the link must work for a client that sends no
header of ours (Meta's crawler), so the capability lives in the path; an
HMAC over id and expiry makes it unguessable (256 bits), unforgeable without
the key and self-expiring without any stored state, and a signature in a
path segment (not the query) lets the access logs mask it by shape
(:mod:`cachalot_common.redaction`). The check is constant-time
(:func:`hmac.compare_digest`); every refusal (bad shape, bad signature,
expired, the media deleted or its client erased, the file gone) is the same
404, so the answer tells an outsider nothing. The key is
``CACHALOT_MEDIA_LINK_KEY``, or, unset, derived from the session secret
(HMAC-SHA256 with a fixed label: a key of its own without another secret to
deploy; changing either ends every link).

A link lasts ``CACHALOT_MEDIA_URL_TTL_S`` (a day): long enough for a platform
to fetch. An article's cover is the exception: it goes on a page that stays
up (Telegram's Telegraph page, which takes images by URL only), so its link
lasts ``CACHALOT_MEDIA_COVER_URL_TTL_S`` (a year). It still ends at once when
the media is deleted (by the client or by retention) or its client erased.

Serving is Starlette's ``FileResponse``: single and multiple ``Range``
requests (206 with ``Content-Range``; 416 for a range past the end; a
``Range`` that does not parse is ignored — 200, the whole file — as RFC 9110
§14.2 lets a server do, where Starlette answers 400: :class:`_RangeTolerantFile`),
``ETag``/``Last-Modified`` and ``If-Range``, ``HEAD``. The answer carries
``Cache-Control: private, no-store`` so no cache in between keeps serving a
file after it is deleted.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Final
from uuid import UUID

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.responses import FileResponse, MalformedRangeHeader, Response

from cachalot_common.events import MediaRef, PublishPost
from cachalot_common.platforms import find
from cachalot_common.problems import problem_response, problem_responses
from cachalot_queue.tables import Media

PREFIX: Final = "/media/v1"
_LABEL: Final = b"cachalot-media-link/v1"
_DERIVE_LABEL: Final = b"cachalot media link key v1"
_SIGNATURE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_EXPIRES = re.compile(r"^[0-9]{1,12}$")


def derive_key(secret: str) -> bytes:
    """A link key derived from another secret (the session secret), label-separated."""
    return hmac.new(secret.encode(), _DERIVE_LABEL, hashlib.sha256).digest()


class MediaLinks:
    """Makes and checks media links.

    ``public_url``: the origin (and path prefix) people and platforms reach the
    gateway at (``CACHALOT_PUBLIC_URL``); ``ttl_s``: how long a link works
    (``CACHALOT_MEDIA_URL_TTL_S``); ``cover_ttl_s``: how long an article cover's link
    works (``CACHALOT_MEDIA_COVER_URL_TTL_S``; ``ttl_s`` when None); ``clock``: now
    (UTC, aware).
    """

    def __init__(
        self,
        *,
        key: bytes,
        public_url: str,
        ttl_s: float,
        clock: Callable[[], datetime],
        cover_ttl_s: float | None = None,
    ) -> None:
        if len(key) < 32:
            raise ValueError("a media link key needs at least 32 bytes")
        self._key = key
        self._base = public_url.rstrip("/")
        self._ttl_s = ttl_s
        self._cover_ttl_s = ttl_s if cover_ttl_s is None else cover_ttl_s
        self._clock = clock

    def _signature(self, media_id: UUID, expires: int) -> str:
        message = b"\n".join((_LABEL, str(media_id).encode(), str(expires).encode()))
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def url(self, media_id: UUID, *, ttl_s: float | None = None) -> str:
        """The link to ``media_id``, working for ``ttl_s`` (default: the links' ``ttl_s``)
        from now, in whole seconds rounded up."""
        lifetime = self._ttl_s if ttl_s is None else ttl_s
        expires = int(self._clock().timestamp() + lifetime) + 1
        return f"{self._base}{PREFIX}/{media_id}/{expires}/{self._signature(media_id, expires)}"

    def sign(self, ref: MediaRef, *, ttl_s: float | None = None) -> MediaRef:
        """``ref`` with its ``url`` set to a fresh link (the dispatcher's one step)."""
        return ref.model_copy(update={"url": self.url(ref.media_id, ttl_s=ttl_s)})

    def sign_command(self, command: PublishPost) -> PublishPost:
        """``command`` with a fresh link in each of its files' ``url`` when its platform
        fetches this kind of post's files (``PlatformSpec.fetches_media``); unchanged otherwise.
        An article's cover gets the cover lifetime (it is shown from a page that stays up)."""
        spec = find(command.platform)
        if spec is None or command.kind not in spec.fetches_media:
            return command
        update: dict[str, object] = {"images": tuple(self.sign(i) for i in command.images)}
        if command.media is not None:
            update["media"] = self.sign(command.media)
        if command.article is not None and command.article.cover is not None:
            cover = self.sign(command.article.cover, ttl_s=self._cover_ttl_s)
            update["article"] = command.article.model_copy(update={"cover": cover})
        return command.model_copy(update=update)

    def verify(self, media_id: str, expires: str, signature: str) -> UUID | None:
        """The media id a link's three segments stand for, or None (bad, forged, expired)."""
        if not (_EXPIRES.match(expires) and _SIGNATURE.match(signature)):
            return None
        try:
            parsed = UUID(media_id)
        except ValueError:
            return None
        if str(parsed) != media_id:  # one spelling per link
            return None
        expected = self._signature(parsed, int(expires))
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            return None
        if int(expires) <= self._clock().timestamp():
            return None
        return parsed


NOT_FOUND: Final = "This media link is not valid, has expired, or its file was deleted."


class _RangeTolerantFile(FileResponse):
    """Starlette's ``FileResponse``, but a malformed ``Range`` (``bytes=abc``, an unknown
    unit, last < first, too many ranges) is ignored and the whole file is served (200):
    RFC 9110 §14.2, "a server MAY ignore the Range header field" and "an origin server
    MUST ignore a Range header field that contains a range unit it does not understand";
    a fetching platform then gets the file rather than an error."""

    @classmethod
    def _parse_range_header(cls, http_range: str, file_size: int) -> list[tuple[int, int]]:
        try:
            return super()._parse_range_header(http_range, file_size)
        except MalformedRangeHeader:
            return []  # no ranges: the whole file, 200


def links_router(
    links: MediaLinks, *, reader: async_sessionmaker[AsyncSession], media_dir: Path
) -> APIRouter:
    """``GET|HEAD /media/v1/{media_id}/{expires}/{signature}``: the file, or one 404 for all
    (the problem document names no path: the link is not echoed back)."""
    router = APIRouter(prefix=PREFIX, tags=["media links"])
    root = media_dir.resolve()

    @router.head("/{media_id}/{expires}/{signature}", include_in_schema=False)
    @router.get(
        "/{media_id}/{expires}/{signature}",
        response_class=FileResponse,
        responses={
            200: {"description": "The file (206 for a range)."},
            **problem_responses(404),
        },
        summary="A media file, by a signed, expiring link",
    )
    async def media_file(request: Request, media_id: str, expires: str, signature: str) -> Response:
        found = links.verify(media_id, expires, signature)
        if found is None:
            return problem_response(404, NOT_FOUND)
        async with reader() as session:
            media = await session.scalar(select(Media).where(Media.id == found))
        if media is None:  # deleted, or its client erased
            return problem_response(404, NOT_FOUND)
        path = (root / media.path).resolve()
        if not path.is_relative_to(root):
            return problem_response(404, NOT_FOUND)
        try:
            stat = await asyncio.to_thread(os.stat, path)
        except OSError:
            return problem_response(404, NOT_FOUND)
        if stat.st_size != media.size:
            return problem_response(404, NOT_FOUND)
        return _RangeTolerantFile(
            path,
            media_type=media.content_type,
            stat_result=stat,
            headers={
                "Cache-Control": "private, no-store",
                "X-Robots-Tag": "noindex",
                "Referrer-Policy": "no-referrer",
            },
        )

    return router
