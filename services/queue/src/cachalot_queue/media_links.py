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

Serving is Starlette's ``FileResponse`` (single and multiple ranges: 206 with
``Content-Range``; ``ETag``/``Last-Modified``; ``HEAD``), but the ``Range`` it
sees is one we checked first (:func:`satisfiable_ranges`, RFC 9110 §14): a
``Range`` that does not parse, names another unit, comes with a method other
than GET, or with an ``If-Range`` that does not match is ignored (200, the whole
file; §14.2, §13.1.5; Starlette would answer 400 to the first two); one whose
ranges are all past the end is 416 with ``Content-Range: bytes */<size>``
(§15.5.17); otherwise only its satisfiable ranges reach ``FileResponse``
(Starlette would answer 416 to a set with one range past the end). The answer carries
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
from typing import Any, Final
from uuid import UUID

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.responses import FileResponse, Response
from starlette.types import Receive, Scope, Send

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
_SERVED_HEADERS: Final = {
    "Cache-Control": "private, no-store",
    "X-Robots-Tag": "noindex",
    "Referrer-Policy": "no-referrer",
}


_RANGE_SPEC: Final = re.compile(r"^(?:([0-9]+)-([0-9]*)|-([0-9]+))$")
_TOKEN: Final = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def satisfiable_ranges(value: str, size: int) -> list[tuple[int, int]] | None:
    """The satisfiable byte ranges of a ``Range`` header ``value`` for a ``size``-byte file,
    each ``(first, last)`` inclusive and within the file, in the order asked.

    RFC 9110 §14.1 (``bytes=`` then a comma list of ``first-[last]`` or ``-suffix``; empty
    list elements and spaces around them allowed, §5.6.1): ``None`` when the header is to
    be ignored (§14.2: another unit, or not that syntax, or an int-range whose last is
    before its first); ``[]`` when none of its ranges is satisfiable (§14.1.1: a first at
    or past the end, a suffix of 0), which is answered 416 (§15.5.17).
    """
    unit, equals, specs = value.partition("=")
    if not equals or not _TOKEN.match(unit) or unit.lower() != "bytes":
        return None
    found: list[tuple[int, int]] = []
    asked = 0
    for element in specs.split(","):
        spec = element.strip(" \t")
        if not spec:
            continue
        match = _RANGE_SPEC.match(spec)
        if match is None:
            return None
        asked += 1
        first, last, suffix = match.groups()
        if suffix is not None:
            if int(suffix) > 0 and size > 0:
                found.append((max(0, size - int(suffix)), size - 1))
        elif last and int(last) < int(first):
            return None
        elif int(first) < size:
            found.append((int(first), min(int(last), size - 1) if last else size - 1))
    return found if asked else None


def _if_range_holds(value: str | None, etag: str, last_modified: str) -> bool:
    """RFC 9110 §13.1.5: no ``If-Range``, or one naming the file's strong ETag or its exact
    Last-Modified date (a weak ETag never matches)."""
    return value is None or (not value.startswith("W/") and value in (etag, last_modified))


class _CheckedRangeFile(FileResponse):
    """``FileResponse`` that sees only the ``Range`` we checked (module notes): ``ranges``
    ``None`` serves the whole file; otherwise those ranges, written out as ``bytes=…``.
    The request's own ``Range`` never reaches it (the ASGI scope it gets is a copy)."""

    def __init__(
        self, path: Path, *, ranges: list[tuple[int, int]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(path, **kwargs)
        self.ranges = ranges

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in (b"range", b"if-range")]
        if self.ranges:
            asked = ",".join(f"{first}-{last}" for first, last in self.ranges)
            headers.append((b"range", f"bytes={asked}".encode("ascii")))
        await super().__call__({**scope, "headers": headers}, receive, send)


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
            **problem_responses(404, 416),
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
        served = _CheckedRangeFile(
            path, media_type=media.content_type, stat_result=stat, headers=_SERVED_HEADERS
        )
        asked = request.headers.get("range")
        if asked is None or request.method != "GET":  # §14.2: GET is the one range method
            return served
        if not _if_range_holds(
            request.headers.get("if-range"), served.headers["etag"], served.headers["last-modified"]
        ):
            return served
        served.ranges = satisfiable_ranges(asked, stat.st_size)
        if served.ranges == []:
            return problem_response(
                416,
                "None of the requested ranges is within the file.",
                headers={**_SERVED_HEADERS, "Content-Range": f"bytes */{stat.st_size}"},
            )
        return served

    return router
