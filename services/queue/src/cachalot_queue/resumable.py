"""Resumable uploads: the tus 1.0.0 protocol (https://tus.io/protocols/resumable-upload)
at ``/api/v1/media/uploads``, served by ``tuspyserver`` (a FastAPI router).

A browser (``tus-js-client``) creates an upload with ``POST`` (``Upload-Length``
and ``Upload-Metadata`` ``filename``, ``filetype``), sends the bytes in ``PATCH``
pieces at ``Upload-Offset``, asks ``HEAD`` where the server stands after a dropped
connection and goes on from there; ``DELETE`` abandons it. What this module adds
to the library, so a tus upload is held to the rules of ``POST /api/v1/media``:

- **Owner**: every route needs the client's session (:func:`current_client`);
  an upload's bytes live in ``.incoming/tus/<client id>/``, so another client's
  upload id is simply not found (404), never "forbidden".
- **Quota and caps**: the creation declares its size, which is refused past
  ``CACHALOT_MAX_MEDIA_BYTES`` (413), held against the client's media quota
  (413 with ``used_bytes``, ``quota_bytes``, ``upload_bytes``) and checked against
  the disk reserve (507) before anything is written; the library refuses a
  ``PATCH`` past the declared length. ``Upload-Defer-Length`` (no size known),
  ``Upload-Concat`` (concatenation) and a body on the creation request
  (creation-with-upload, which the library reads into memory) are refused
  with 400: the library cannot switch those extensions off.
- **One way in**: when the last byte arrives, the file goes through the same
  code as ``POST /api/v1/media`` (:func:`cachalot_queue.api.receive_media`:
  sniffed, capped, hashed, probed, recorded, the hold replaced by the row), with
  the upload's id as the media id (``Location: …/uploads/<32 hex digits>``,
  the UUID of the media). Its answer is that of a refused ``POST /media`` (415,
  422 naming ``file``…); the partial upload is removed either way.
- **Expiry**: an upload not finished by its ``Upload-Expires`` (a day after its
  creation, :data:`EXPIRY_DAYS`) is refused by the library (410) and removed
  with its hold by :meth:`MediaQuota.sweep`.
- **Nothing a dead writer left**: the library appends a ``PATCH`` body at the end
  of the upload's file and records the new offset only when the body ends; a
  replica killed mid-body leaves bytes past the recorded offset, and the client's
  resume from that offset would land after them (a shifted, damaged video).
  Before each ``PATCH`` those bytes are cut off under the library's own upload
  lock (:func:`drop_unrecorded_bytes`), so a resume always continues at the
  offset the server told the client (tus 1.0.0, "Upload-Offset").
- **Nothing received and never stored**: the library records the last byte before
  its completion hook stores the file; a replica killed in between left an upload
  whose ``HEAD`` says "all there" while no media has its id. The client's ``HEAD``
  after the restart stores it first (:func:`finish_stranded`), so the client, told
  the upload is whole, finds its media; the upload's files go with the sweep.
- **Location**: written as a path (``/api/v1/media/uploads/<id>``), so it
  holds behind any proxy whatever ``Host`` it forwards (:class:`RelativeLocation`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Final
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Request, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tuspyserver import create_tus_router
from tuspyserver.storage.local import LocalFileStorage

from cachalot_common.problems import Problem
from cachalot_common.sessions import current_client
from cachalot_queue.api import receive_media, upload_problem
from cachalot_queue.media_quota import MediaQuota
from cachalot_queue.media_store import remove_upload, tus_root
from cachalot_queue.tables import Media

PREFIX: Final = "/api/v1/media/uploads"
READ_BYTES: Final = 1024 * 1024
"""How much of a finished upload is read at a time on its way into the store."""
TUS_VERSION: Final = "1.0.0"
EXPIRY_DAYS: Final = 1
"""An unfinished upload's life (the library counts whole days from its creation)."""
_MEDIA_ID: Final = "cachalot_media_id"

logger = logging.getLogger(__name__)


def client_dir(media_dir: Path, client_id: UUID) -> Path:
    return tus_root(media_dir) / str(client_id)


def build_tus_router(*, runtime: Any, clock: Callable[[], datetime]) -> APIRouter:
    """The tus routes under :data:`PREFIX`, with the checks the module docstring lists.

    Include it with ``include_in_schema=False``: tus is its own protocol, not a
    JSON API; the routes are described in ``POST /api/v1/media``'s document.
    """
    settings = runtime.settings
    quota: MediaQuota = runtime.media_quota
    media_dir: Path = settings.media_dir

    turns = UploadTurns()

    async def owner_files(
        request: Request, client_id: UUID = Depends(current_client)
    ) -> AsyncIterator[Callable[[dict[str, Any]], dict[str, str]]]:
        """The library's ``file_dep``: the client's own folder (and, on creation, the id).

        Run before the library's ``PATCH`` handler (a dependency of it), so the bytes
        a dead writer left past the recorded offset are gone before it appends; a
        ``PATCH`` or ``HEAD`` of an upload runs in its turn (:class:`UploadTurns`), the
        ``PATCH`` with the library's write and completion hook.
        """
        folder = str(client_dir(media_dir, client_id))
        uid = str(request.path_params.get("uuid", ""))

        def files(_metadata: dict[str, Any]) -> dict[str, str]:
            media_id = getattr(request.state, _MEDIA_ID, None)
            if request.method == "POST" and media_id is not None:
                return {"files_dir": folder, "uid": media_id.hex}
            return {"files_dir": folder}

        if request.method not in ("PATCH", "HEAD") or not uid:
            yield files
            return
        async with turns.hold(uid):
            if request.method == "PATCH":
                await drop_unrecorded_bytes(Path(folder), uid)
            else:
                await finish_stranded(Path(folder), uid, store=partial(keep_media, client_id))
            yield files

    async def before_create(
        request: Request, client_id: UUID = Depends(current_client)
    ) -> Callable[[dict[str, Any], dict[str, Any]], Awaitable[None]]:
        """The library's ``pre_create_dep``: refuse what cannot be held, then hold the size."""

        async def check(metadata: dict[str, Any], info: dict[str, Any]) -> None:
            headers = request.headers
            if headers.get("upload-concat") is not None:
                raise _header_problem("Upload-Concat", "concatenation is not offered")
            if info.get("defer_length") or info.get("size") is None:
                raise _header_problem(
                    "Upload-Length", "give the file's size; uploads of unknown size are not taken"
                )
            body = headers.get("content-length", "0").strip()
            if body not in ("", "0") or headers.get("transfer-encoding"):
                raise _header_problem(
                    "Content-Length", "send the bytes with PATCH after the upload is created"
                )
            for key in ("filename", "filetype"):
                if not str(metadata.get(key) or "").strip():
                    raise _header_problem("Upload-Metadata", f"it needs {key}")
            size = int(info["size"])
            limit = settings.max_media_bytes
            if size > limit:
                raise Problem(
                    413, f"The video is larger than the {limit}-byte limit.", max_bytes=limit
                )
            media_id = uuid4()
            try:
                quota.check_disk(size)
                await quota.hold(client_id=client_id, media_id=media_id, size=size)
            except BaseException as failure:
                await quota.release(media_id)
                problem = upload_problem(failure)
                if problem is None:
                    raise
                raise problem from failure
            quota.forget(media_id)  # held in the table; this process writes no part file
            setattr(request.state, _MEDIA_ID, media_id)

        return check

    async def keep_media(client_id: UUID, source: Path, media_id: UUID) -> None:
        """Store a whole upload as media ``media_id`` unless it is stored already (called
        in the upload's turn, :class:`UploadTurns`: never two at once in this process)."""
        async with runtime.factory() as session:
            if await session.get(Media, media_id) is not None:
                return
        await receive_media(
            runtime,
            clock,
            _read_file(source),
            client_id=client_id,
            media_id=media_id,
            size=source.stat().st_size,
        )

    async def on_complete(
        client_id: UUID = Depends(current_client),
    ) -> Callable[[str, dict[str, Any]], Awaitable[None]]:
        """The library's ``upload_complete_dep``: the finished file into the store."""

        async def store(path: str, _metadata: dict[str, Any]) -> None:
            source = Path(path)
            try:
                media_id = UUID(hex=source.name)
            except ValueError as error:  # not one of ours: never created by before_create
                raise Problem(404, "No such upload.") from error
            try:
                await keep_media(client_id, source, media_id)
            finally:
                await asyncio.to_thread(remove_upload, source)

        return store

    router = APIRouter()

    @router.delete(PREFIX + "/{uid}", status_code=204, response_class=Response)
    async def terminate(uid: str, client_id: UUID = Depends(current_client)) -> Response:
        """tus termination: the client's upload and its hold go at once (else 404).

        Ours rather than the library's, which leaves the hold to the sweep. Taken in the
        upload's turn (:class:`UploadTurns`) and under the library's upload lock, as a
        ``PATCH`` is: a ``DELETE`` that came mid-``PATCH`` removed the files under the
        writer, whose ``.info`` written at the end of its body then stayed, with no data
        and no hold, until the upload's expiry (tabs15). It now waits for that ``PATCH``.
        """
        try:
            media_id = UUID(hex=uid)
        except ValueError as error:
            raise Problem(404, "No such upload.") from error
        async with turns.hold(media_id.hex):
            if not await drop_upload(client_dir(media_dir, client_id), media_id.hex):
                raise Problem(404, "No such upload.")
            await quota.release(media_id)
        return Response(status_code=204, headers={"Tus-Resumable": TUS_VERSION})

    # Its hints say sync callables; it awaits what they return (async is documented).
    make: Any = create_tus_router
    tus: APIRouter = make(
        prefix=PREFIX,
        files_dir=str(tus_root(media_dir)),
        max_size=settings.max_media_bytes,
        auth=current_client,
        days_to_keep=EXPIRY_DAYS,
        upload_complete_dep=on_complete,
        pre_create_dep=before_create,
        file_dep=owner_files,
        tags=["media"],
    )
    router.include_router(tus)  # after ours: the first route that matches answers
    return router


class UploadTurns:
    """One ``PATCH``, ``HEAD`` or ``DELETE`` at a time per upload in this process.

    The library's filesystem ``PATCH`` takes the upload's file lock blocking the event
    loop (``acquire_upload_lock``, polled with ``time.sleep`` for up to 30 s). Ours
    (:func:`drop_unrecorded_bytes`, :func:`finish_stranded`) take it from a worker
    thread and hold it across awaits, so a ``PATCH`` arriving meanwhile froze the whole
    process until the library gave up (fresh14r's two tabs: a ``HEAD`` storing the upload
    as its last ``PATCH`` came). In its turn a request meets no holder of the file lock
    in this process; other replicas still take the file lock as before. The finishing
    ``PATCH``'s completion hook runs in its turn too, so a ``HEAD`` never stores the same
    upload at the same time (that was a 500: one found the other's part file moved).
    """

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @contextlib.asynccontextmanager
    async def hold(self, uid: str) -> AsyncIterator[None]:
        lock = self._locks.get(uid)
        if lock is None:
            lock = self._locks[uid] = asyncio.Lock()
        async with lock:
            yield


@contextlib.asynccontextmanager
async def _held(folder: Path, uid: str) -> AsyncIterator[tuple[LocalFileStorage, str] | None]:
    """The library's storage of ``folder`` and the upload's id as 32 hex digits, inside
    the library's upload lock on ``folder/uid`` (``LocalFileStorage.lock``, the lock file
    its ``PATCH`` takes, an ``flock`` the kernel releases when its holder dies); None,
    unlocked, when ``uid`` is not an upload id (ours are UUIDs) or names no upload here."""
    try:
        uid = UUID(hex=uid).hex
    except ValueError:
        yield None
        return
    storage = LocalFileStorage(str(folder))
    if not await storage.exists(uid):
        yield None
        return
    async with storage.lock(uid):
        yield storage, uid


async def drop_unrecorded_bytes(folder: Path, uid: str) -> int:
    """Cut the upload ``folder/uid`` back to the offset its ``.info`` records; the
    bytes cut (0 when there were none, or no such upload).

    Bytes past the recorded offset were written by a ``PATCH`` whose process died
    before it recorded them (the library writes first, records at the end): the
    client was never told they arrived and sends them again from the recorded
    offset. Taken under the library's upload lock (``LocalFileStorage.lock``, the
    same lock file its ``PATCH`` takes, an ``flock`` the kernel releases when its
    holder dies), so a live writer on another replica is waited for, never cut.
    """
    async with _held(folder, uid) as held:
        if held is None:
            return 0
        storage, uid = held
        info = await storage.read_info(uid)
        if info is None:
            return 0
        recorded = int(info.get("offset") or 0)
        extra = await storage.size(uid) - recorded
        if extra <= 0:
            return 0
        await asyncio.to_thread(os.truncate, storage.location(uid), recorded)
    logger.warning(
        "upload %s: %d bytes past its recorded offset %d (a writer died mid-body) cut off",
        uid, extra, recorded,
    )  # fmt: skip
    return extra


async def drop_upload(folder: Path, uid: str) -> bool:
    """Remove the upload ``folder/uid`` (its bytes and ``.info``); False when there is none.

    Taken under the library's upload lock, so a ``PATCH`` writing it on another replica
    is waited for: removed under a live writer, the ``.info`` it records at the end of
    its body would be left behind (the bytes it appends go to the unlinked file).
    """
    async with _held(folder, uid) as held:
        if held is None:
            return False
        storage, uid = held
        data = Path(storage.location(uid))
        if not data.is_file():  # stored (or removed) by the request the lock waited for
            return False
        await asyncio.to_thread(remove_upload, data)
    return True


async def finish_stranded(
    folder: Path, uid: str, *, store: Callable[[Path, UUID], Awaitable[None]]
) -> bool:
    """Store the upload ``folder/uid`` if every byte of it was received (its ``.info``
    offset equals its size) but it was never stored: ``store(data file, media id)``,
    which does nothing for media stored already. True when the upload is whole.

    The upload's files stay (the library's ``HEAD`` still answers "all there"); the
    sweep removes them (:meth:`MediaQuota.sweep`). Taken under the library's upload
    lock, so a ``PATCH`` finishing it on another replica is waited for. A refusal of
    the stored file (415, 422: :func:`receive_media`) is raised, the upload dropped.
    """
    async with _held(folder, uid) as held:
        if held is None:
            return False
        storage, uid = held
        info = await storage.read_info(uid)
        size = (info or {}).get("size")
        data = Path(storage.location(uid))
        if size is None or int((info or {}).get("offset") or 0) != int(size):
            return False
        if not data.is_file() or data.stat().st_size != int(size):
            return False
        try:
            await store(data, UUID(hex=uid))
        except Problem:
            await asyncio.to_thread(remove_upload, data)
            raise
    return True


async def _read_file(path: Path) -> AsyncIterator[bytes]:
    """The finished upload's bytes, a piece at a time (reads in a worker thread)."""
    with open(path, "rb") as source:  # noqa: ASYNC230 (each read goes to a thread)
        while chunk := await asyncio.to_thread(source.read, READ_BYTES):
            yield chunk


def _header_problem(header: str, why: str) -> Problem:
    return Problem(
        400,
        f"{header}: {why}.",
        errors=[{"field": header, "in": "header", "message": why, "type": "value_error"}],
    )


class RelativeLocation:
    """ASGI middleware: a tus creation's ``Location`` as a path, not ``scheme://host/…``.

    The library builds it from ``Host``/``X-Forwarded-Host``, which a proxy may
    forward without the port the browser used; the path alone is right behind any.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(PREFIX):
            await self.app(scope, receive, send)
            return

        async def relative(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = []
                for name, value in message.get("headers", []):
                    if name.lower() == b"location" and b"://" in value:
                        after = value.split(b"://", 1)[1]
                        value = b"/" + after.split(b"/", 1)[1] if b"/" in after else b"/"
                    headers.append((name, value))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, relative)
