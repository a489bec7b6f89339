"""``sendPhoto``, ``sendVideo`` and ``sendMediaGroup`` of the fake Bot API: uploads by multipart.

What the fake checks, as core.telegram.org/bots/api and the Bots FAQ say (and
as reference/platforms.md §5.2 records):

* files come as ``multipart/form-data`` parts: the method's own field
  (``photo``, ``video``) or, in ``sendMediaGroup``'s ``media`` JSON array,
  ``attach://<part name>``; a ``file_id`` or a URL instead of an upload is
  refused here (``Bad Request: wrong file identifier/HTTP URL specified``):
  our publisher always uploads;
* an upload over 50 MB (50 MiB, the ``telegram-bot-api`` server's cap) is
  refused with HTTP 413 ``Request Entity Too Large``, as api.telegram.org's
  front does; a photo over 10 MB (10 MiB) with 400 ``Bad Request:
  PHOTO_SAVE_FILE_INVALID`` [the exact description is uncertain: reports
  differ; the status and the limit are documented]; with
  ``CACHALOT_TELEGRAM_LOCAL_BOT_API=true`` the fake acts as a local
  ``telegram-bot-api --local`` server and takes uploads up to 2000 MB;
* captions: 0–1024 characters after entity parsing (``Bad Request: message
  caption is too long``), parse errors as for ``sendMessage``;
* ``sendMediaGroup``: 2–10 items (``Bad Request: wrong number of media in the
  group`` otherwise), photos and videos only, the caption on any item; the
  answer is one Message per item, sharing a ``media_group_id``.

Every accepted file is kept (a copy under a temporary directory, with its
SHA-256), so tests compare bytes (``GET /sandbox/telegram/files/{file_unique_id}``).
Photo sizes in answers are not read from the image: one ``PhotoSize`` of
1280x720 stands for it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.datastructures import UploadFile

from cachalot_sandbox.telegram.entities import EntityParseError, parse_text, utf16_len
from cachalot_sandbox.telegram.errors import BotApiError, bad_request

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
LOCAL_MAX_UPLOAD_BYTES = 2000 * 1024 * 1024
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_CAPTION_LENGTH = 1024
_COPY_BLOCK = 1024 * 1024


@dataclass(frozen=True)
class StoredFile:
    """An uploaded file as the fake keeps it."""

    file_id: str
    file_unique_id: str
    path: Path
    size: int
    sha256: str
    content_type: str
    kind: str  # photo | video

    def public(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "size": self.size,
            "sha256": self.sha256,
            "content_type": self.content_type,
            "kind": self.kind,
        }


class FileStore:
    """Copies of uploads under one temporary directory, by ``file_unique_id``."""

    def __init__(self) -> None:
        self._dir: Path | None = None
        self.files: dict[str, StoredFile] = {}
        self.max_upload_bytes = MAX_UPLOAD_BYTES

    def _root(self) -> Path:
        if self._dir is None or not self._dir.exists():
            self._dir = Path(tempfile.mkdtemp(prefix="sandbox-telegram-"))
        return self._dir

    async def keep(self, upload: UploadFile, kind: str) -> StoredFile:
        """Copy ``upload`` (hashing it), refusing it past the size limits."""
        unique = secrets.token_hex(8)
        path = self._root() / unique
        digest = hashlib.sha256()
        size = 0
        await upload.seek(0)
        with path.open("wb") as out:
            while block := await upload.read(_COPY_BLOCK):
                size += len(block)
                if size > self.max_upload_bytes:
                    out.close()
                    path.unlink(missing_ok=True)
                    raise BotApiError(413, "Request Entity Too Large")
                digest.update(block)
                out.write(block)
        if kind == "photo" and size > MAX_PHOTO_BYTES:
            path.unlink(missing_ok=True)
            raise bad_request("PHOTO_SAVE_FILE_INVALID")
        if size == 0:
            path.unlink(missing_ok=True)
            raise bad_request("file must be non-empty")
        stored = StoredFile(
            file_id=f"{kind[:2].upper()}{secrets.token_urlsafe(24)}",
            file_unique_id=unique,
            path=path,
            size=size,
            sha256=digest.hexdigest(),
            content_type=upload.content_type or "application/octet-stream",
            kind=kind,
        )
        self.files[unique] = stored
        return stored

    def reset(self) -> None:
        for stored in self.files.values():
            stored.path.unlink(missing_ok=True)
        self.files.clear()


def parse_caption(params: dict[str, Any]) -> tuple[str, str, list[dict[str, Any]]]:
    """(raw caption, parsed caption, entities); raises Telegram's 400s."""
    raw = params.get("caption")
    if raw is None or raw == "":
        return "", "", []
    if not isinstance(raw, str):
        raise bad_request("caption must be a string")
    mode = params.get("parse_mode") or None
    try:
        parsed = parse_text(raw, str(mode) if mode else None)
    except EntityParseError as error:
        raise bad_request(f"can't parse entities: {error}") from None
    except KeyError:
        raise bad_request("unsupported parse_mode") from None
    if utf16_len(parsed.text) > MAX_CAPTION_LENGTH:
        raise bad_request("message caption is too long")
    return raw, parsed.text, parsed.entities


def upload_of(params: dict[str, Any], name: str) -> UploadFile:
    """The multipart file the parameter ``name`` names (itself, or ``attach://part``)."""
    value = params.get(name)
    if isinstance(value, str) and value.startswith("attach://"):
        value = params.get(value.removeprefix("attach://"))
    if isinstance(value, UploadFile):
        return value
    if value is None or value == "":
        raise bad_request(f"there is no {name} in the request")
    raise bad_request("wrong file identifier/HTTP URL specified")


def _photo_sizes(stored: StoredFile) -> list[dict[str, Any]]:
    return [
        {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "width": 1280,
            "height": 720,
            "file_size": stored.size,
        }
    ]


def _video(stored: StoredFile, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "width": int(params.get("width") or 1280),
        "height": int(params.get("height") or 720),
        "duration": int(params.get("duration") or 0),
        "mime_type": stored.content_type,
        "file_size": stored.size,
    }


Gate = Callable[[dict[str, Any]], Awaitable[Any]]
"""``gate(params)``: the posting checks of ``api.py`` (faults, channel rights, flood
control) for one call; returns what ``finish`` needs to know of the chat."""
Finish = Callable[..., dict[str, Any]]
"""``finish(target, params, kind=, raw_text=, text=, entities=, files=, fields=, group=)``:
records the post and answers its Message."""


class MediaMethods:
    def __init__(self, files: FileStore, gate: Gate, finish: Finish) -> None:
        self._files = files
        self._gate = gate
        self._finish = finish

    async def _single(self, params: dict[str, Any], kind: str) -> dict[str, Any]:
        raw, text, entities = parse_caption(params)
        upload = upload_of(params, kind)
        target = await self._gate(params)
        stored = await self._files.keep(upload, kind)
        fields = (
            {"photo": _photo_sizes(stored)}
            if kind == "photo"
            else {"video": _video(stored, params)}
        )
        return self._finish(
            target,
            params,
            kind=kind,
            raw_text=raw,
            text=text,
            entities=entities,
            files=[stored],
            fields=fields,
        )

    async def send_photo(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self._single(params, "photo")

    async def send_video(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self._single(params, "video")

    async def send_media_group(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        raw_media = params.get("media")
        try:
            media = json.loads(raw_media) if isinstance(raw_media, str) else raw_media
        except ValueError:
            raise bad_request("can't parse media JSON object") from None
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise bad_request("wrong number of media in the group")
        items: list[tuple[str, UploadFile, tuple[str, str, list[dict[str, Any]]]]] = []
        for item in media:
            if not isinstance(item, dict) or item.get("type") not in ("photo", "video"):
                raise bad_request("can't parse InputMedia: media type is not supported")
            upload = upload_of({**params, "media": item.get("media")}, "media")
            items.append((str(item["type"]), upload, parse_caption(item)))
        target = await self._gate(params)
        kept = [await self._files.keep(upload, kind) for kind, upload, _ in items]
        group = str(int(time.time() * 1000)) + secrets.token_hex(2)
        messages = []
        for (kind, _, (raw, text, entities)), stored in zip(items, kept, strict=True):
            fields = (
                {"photo": _photo_sizes(stored)}
                if kind == "photo"
                else {"video": _video(stored, {})}
            )
            messages.append(
                self._finish(
                    target,
                    params,
                    kind=kind,
                    raw_text=raw,
                    text=text,
                    entities=entities,
                    files=[stored],
                    fields=fields,
                    group=group,
                )
            )
        return messages
