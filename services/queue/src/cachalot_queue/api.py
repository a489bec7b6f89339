"""HTTP entry points: thin routes that turn requests into service calls.

Every route needs the client session (cookie ``cachalot_session``), checked
locally with the shared secret and the revocations auth's ``sessions.v1``
feed brought (``CurrentClient``: no call to auth per request). Validation
errors name fields the way the client wrote them: ``targets[1].youtube.title``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel
from starlette.requests import ClientDisconnect

from cachalot_common.guards import MAX_BODY_EXTENSION
from cachalot_common.problems import Problem, field_errors, problem_response, problem_responses
from cachalot_common.sessions import CurrentClient, current_client, current_session
from cachalot_common.untrusted import StrictJsonRoute
from cachalot_queue.deliveries import DeliveryService, FullExport
from cachalot_queue.media_library import MediaInUse, MediaLibrary, MediaNotFound
from cachalot_queue.media_quota import DiskFull, MediaQuota, QuotaExceeded
from cachalot_queue.media_store import (
    NotAVideo,
    PartialLost,
    StoredMedia,
    UnusableMedia,
    UploadTooLarge,
    store_upload,
)
from cachalot_queue.posts import PostService, post_etag
from cachalot_queue.revocations import ClientErased, Revocations
from cachalot_queue.schemas import (
    MarkPublished,
    MediaItem,
    MediaPage,
    MediaPublic,
    MediaUsage,
    PlatformList,
    PostCreate,
    PostPage,
    PostPublic,
    PostUpdate,
    largest_body_bytes,
    salvage,
)
from cachalot_queue.tables import Media

DISK_FULL_RETRY_AFTER_S = 300
"""A full volume needs an operator; five minutes is a polite first wait."""

#: The Content-Types an upload may declare (the guards refuse any other with a
#: 415 before a byte is read); what the bytes are is recognised from them.
UPLOAD_TYPES = (
    "video/mp4",
    "video/quicktime",
    "video/webm",
    "video/*",
    "image/jpeg",
    "image/png",
    "image/*",
    "application/octet-stream",
)
"""Content-Types an upload may declare; what it is gets decided from its bytes."""
ACCEPTED = "MP4, MOV (QuickTime) and WebM videos and JPEG and PNG images"


def field_path(loc: Sequence[Any]) -> str:
    """``("targets", 1, "youtube", "title")`` → ``targets[1].youtube.title``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    """Like the shared handler, with list positions written as ``[i]``; a body checked
    further by its route's rules (:class:`GatheringRoute`) carries their errors too."""
    assert isinstance(exc, RequestValidationError)
    raw = list(exc.errors())
    errors = field_errors(raw)
    for error, item in zip(errors, raw, strict=True):
        loc = list(item.get("loc", ()))
        if loc and loc[0] in {"body", "query", "path", "header", "cookie"}:
            loc = loc[1:]
        error["field"] = field_path(loc) or error["in"]
    if any(e["type"] == "json_invalid" for e in errors):
        return problem_response(
            422, "The request body is not valid JSON.", errors=errors, instance=request.url.path
        )
    if isinstance(exc, RulesToo):
        errors += beside(errors, exc.more)
    names = ", ".join(dict.fromkeys(e["field"] for e in errors))
    return problem_response(
        422, f"Invalid input: {names}.", errors=errors, instance=request.url.path
    )


def beside(
    said: Sequence[Mapping[str, Any]], more: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The errors of ``more`` not about a field ``said`` already names, nor about a part of
    one (``targets[0].tiktok`` covers ``targets[0].tiktok.privacy_level``)."""
    named = [str(e["field"]) for e in said]

    def covered(field: str) -> bool:
        return any(field == name or field.startswith((f"{name}.", f"{name}[")) for name in named)

    return [e for e in more if not covered(str(e["field"]))]


class RulesToo(RequestValidationError):
    """A body that failed its schema, with what the route's rules say of the rest of it."""

    def __init__(self, failed: RequestValidationError, more: list[dict[str, Any]]) -> None:
        super().__init__(failed.errors(), body=failed.body)
        self.more = more


Rules = Callable[[Request, Any], Awaitable[list[dict[str, Any]]]]
"""A route's rules run on a salvaged body: the errors they find (problem ``errors[]``)."""


def gathers(
    model: type[BaseModel], rules: Rules
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a route whose body, when it fails ``model``'s schema, is also checked by
    ``rules`` (on the body with the failing fields taken out, :func:`schemas.salvage`), so
    that one 422 names every problem (issue 12: a missing TikTok privacy hid a too-long
    caption until the next try). Put it under the route's decorator."""

    def mark(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        endpoint.gathers = (model, rules)  # type: ignore[attr-defined]
        return endpoint

    return mark


class GatheringRoute(StrictJsonRoute):
    """:class:`StrictJsonRoute` that, for a route marked with :func:`gathers`, answers a
    body failing its schema with the rules' errors beside the schema's (:class:`RulesToo`)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        marked: tuple[type[BaseModel], Rules] | None = getattr(self.endpoint, "gathers", None)
        if marked is None:
            return handler
        model, rules = marked

        async def gathering(request: Request) -> Response:
            try:
                return await handler(request)
            except RulesToo:
                raise
            except RequestValidationError as failed:
                salvaged = salvage(model, failed.body, failed.errors())
                if salvaged is None:
                    raise
                raise RulesToo(failed, await rules(request, salvaged)) from None

        return gathering


async def rules_say(check: Awaitable[object]) -> list[dict[str, Any]]:
    """The errors of the 422 ``check`` raises; none when it passes or refuses otherwise
    (a post that is not there: the schema's errors are the answer)."""
    try:
        await check
    except Problem as refused:
        return list(refused.errors or []) if refused.status == 422 else []
    return []


ClientId = CurrentClient


async def refuse_if_erased(revocations: Revocations, client_id: UUID) -> None:
    """After a write: a client erased meanwhile keeps nothing and gets a 401 problem."""
    try:
        await revocations.refuse_if_erased(client_id)
    except ClientErased as error:
        raise Problem(
            401,
            "This session has ended (signed out or erased); sign in again.",
            title="Not signed in",
        ) from error


async def receive_media(
    runtime: Any,
    clock: Callable[[], datetime],
    chunks: AsyncIterator[bytes],
    *,
    client_id: UUID,
    media_id: UUID,
    size: int | None,
    uploaded_by: UUID | None = None,
) -> StoredMedia:
    """Store one upload the way every upload is stored, and record it as ``media_id``
    (``uploaded_by``: the operator who uploads it into the client's library, None for the
    client's own upload).

    The one path of ``POST /api/v1/media`` and of a finished resumable upload
    (:mod:`cachalot_queue.resumable`): the disk reserve and the client's quota
    checked for ``size`` bytes (None: unknown, held as the bytes arrive) before
    the first byte is read, the bytes streamed through the quota's meter into
    :func:`store_upload` (sniffed, capped, hashed, probed), then the row written
    in place of the hold. Raises the matching :class:`Problem` (413, 415, 422,
    503, 507, 400) with nothing kept and the hold dropped.
    """
    quota: MediaQuota = runtime.media_quota
    try:
        quota.check_disk(size or 0)
        await quota.hold(client_id=client_id, media_id=media_id, size=size or 0)
        stored = await store_upload(
            quota.metered(chunks, client_id=client_id, media_id=media_id, held=size or 0),
            media_dir=runtime.settings.media_dir,
            media_id=media_id,
            max_bytes=runtime.settings.max_media_bytes,
            max_image_bytes=runtime.settings.max_image_bytes,
        )
        await quota.keep(
            Media(
                client_id=client_id,
                created_at=clock(),
                uploaded_by=uploaded_by,
                **asdict(stored),
            )
        )
    except BaseException as failure:  # every way out drops the hold (the store drops the file)
        await quota.release(media_id)
        problem = upload_problem(failure)
        if problem is None:
            raise
        raise problem from failure
    return stored


async def upload_body(
    runtime: Any,
    clock: Callable[[], datetime],
    request: Request,
    client_id: UUID,
    uploaded_by: UUID | None = None,
) -> MediaPublic:
    """Store the request's body as one of ``client_id``'s files: the one path of
    ``POST /api/v1/media`` and of an operator's upload into a client's library
    (:mod:`cachalot_queue.deliveries`; ``uploaded_by``: that operator's id, recorded so the
    orphan sweep deletes only operators' uploads no delivery names). Raises
    :func:`receive_media`'s problems, 413 at once for a declared Content-Length over the
    cap, 401 for a client erased meanwhile."""
    limit = runtime.settings.max_media_bytes
    declared = request.headers.get("content-length")
    size = int(declared) if declared and declared.isascii() and declared.isdigit() else None
    if size is not None and size > limit:
        raise _too_large(limit)
    stored = await receive_media(
        runtime,
        clock,
        request.stream(),
        client_id=client_id,
        media_id=uuid4(),
        size=size,
        uploaded_by=uploaded_by,
    )
    await refuse_if_erased(runtime.revocations, client_id)
    return MediaPublic.model_validate(stored, from_attributes=True)


def build_router(
    *,
    posts: PostService,
    deliveries: DeliveryService,
    media: MediaLibrary,
    runtime: Any,
    clock: Callable[[], datetime],
) -> APIRouter:
    """Routes bound to the service objects built by the composition root."""
    # Every route needs a session (401) and validates something (422).
    router = APIRouter(
        prefix="/api/v1", route_class=GatheringRoute, responses=problem_responses(401, 422)
    )

    @router.post(
        "/media",
        status_code=201,
        response_model=MediaPublic,
        tags=["media"],
        summary="Upload a video or an image (raw body, streamed)",
        responses=problem_responses(
            400,
            413,
            415,
            422,
            503,
            507,
            descriptions={
                422: "A file of a type taken that is no playable video or readable image "
                "(`errors[0].field` is `file`), or an invalid query."
            },
        ),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    t: {"schema": {"type": "string", "format": "binary"}} for t in UPLOAD_TYPES
                },
            }
        },
    )
    async def upload_media(request: Request, client_id: ClientId) -> MediaPublic:
        """Send the file itself as the body, typed as a video, an image or octet-stream
        (``curl -H 'Content-Type: video/mp4' --data-binary @v.mp4``).

        The type is recognised from the content (MP4, MOV, WebM, JPEG, PNG;
        anything else, GIF and WebP included, is 415), whatever Content-Type
        says. Once stored, the file is probed before anyone can see it: a video
        without a video stream or whose frames cannot be decoded, an image that
        cannot be decoded → 422 naming ``file`` and why; the answer carries what
        was read (kind, width, height, frame rate, codecs, duration).
        Larger than the cap (images: CACHALOT_MAX_IMAGE_BYTES) → 413. Past the
        client's media quota (stored videos and uploads in progress) → 413 with
        ``used_bytes``, ``quota_bytes`` and ``upload_bytes``, before the body is
        read when Content-Length is given; leaving less than the disk reserve
        free → 507 with Retry-After.

        Large files are better sent resumably, by the tus 1.0.0 protocol
        (tus.io) at ``/api/v1/media/uploads``: ``POST`` with ``Upload-Length``
        and ``Upload-Metadata`` (``filename``, ``filetype``) → 201 with a
        ``Location`` whose last segment is the new media's id (32 hex digits);
        ``PATCH`` pieces at ``Upload-Offset``; ``HEAD`` for the offset after a
        dropped connection; ``DELETE`` to abandon. The size is held against
        the quota at creation; the finished file is checked as here, and an
        unfinished one goes with its hold after ``Upload-Expires`` (a day).
        """
        return await upload_body(runtime, clock, request, client_id)

    @router.get(
        "/media",
        response_model=MediaPage,
        tags=["media"],
        responses=problem_responses(
            422, descriptions={422: "A bad limit or cursor, named in errors."}
        ),
    )
    async def list_media(
        client_id: ClientId,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
    ) -> MediaPage:
        """The client's videos, newest first, each with the posts made from it, and how
        much of the media quota they use (``used_bytes`` of ``quota_bytes``)."""
        return await media.page(client_id=client_id, limit=limit, cursor=cursor)

    @router.get(
        "/media/usage",
        response_model=MediaUsage,
        tags=["media"],
    )
    async def media_usage(client_id: ClientId) -> MediaUsage:
        """Bytes of videos kept and being uploaded, against the client's quota."""
        return await media.usage(client_id=client_id)

    @router.delete(
        "/media/{media_id}",
        status_code=204,
        response_class=Response,
        tags=["media"],
        responses=problem_responses(
            404,
            409,
            descriptions={
                404: "The client has no such video.",
                409: "Posts still scheduled, paused or publishing need it; `posts` lists them.",
            },
        ),
    )
    async def delete_media(media_id: UUID, client_id: ClientId) -> Response:
        """Delete a video and free its bytes of the quota.

        Refused (409) while a post made from it is not finished; its finished
        posts stay, showing ``media_deleted``, and can no longer be retried.
        """
        try:
            await media.delete(client_id=client_id, media_id=media_id)
        except (MediaNotFound, MediaInUse) as failure:
            raise _media_problem(failure) from failure
        return Response(status_code=204)

    @router.get(
        "/media/{media_id}",
        response_model=MediaItem,
        tags=["media"],
        responses=problem_responses(404, descriptions={404: "The client has no such file."}),
    )
    async def get_media(media_id: UUID, client_id: ClientId) -> MediaItem:
        """One file of the client's (a finished resumable upload's id is the UUID of its
        32 hex digits), with the posts made with it."""
        try:
            return await media.get(client_id=client_id, media_id=media_id)
        except MediaNotFound as failure:
            raise _media_problem(failure) from failure

    @router.get(
        "/media/{media_id}/thumbnail",
        response_class=FileResponse,
        tags=["media"],
        responses={
            200: {"content": {"image/jpeg": {}}, "description": "A JPEG, 320 px a side at most."},
            **problem_responses(
                404, descriptions={404: "No such file, or no picture can be made of it."}
            ),
        },
    )
    async def media_thumbnail(media_id: UUID, client_id: ClientId) -> FileResponse:
        """A small picture of the file: a video's frame at one second, or the image."""
        try:
            path = await media.thumbnail(client_id=client_id, media_id=media_id)
        except MediaNotFound as failure:
            raise _media_problem(failure) from failure
        except UnusableMedia as failure:
            raise Problem(
                404, f"No picture can be made of this file: {failure.reason}."
            ) from failure
        return FileResponse(
            path, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"}
        )

    async def check_create(request: Request, body: PostCreate) -> list[dict[str, Any]]:
        client_id = await current_client(await current_session(request))
        return await rules_say(posts.check(client_id=client_id, body=body, now=clock()))

    async def check_draft(request: Request, body: PostCreate) -> list[dict[str, Any]]:
        client_id = await current_client(await current_session(request))
        check = posts.check(client_id=client_id, body=body, now=clock(), files_to_come=True)
        return await rules_say(check)

    async def check_update(request: Request, body: PostUpdate) -> list[dict[str, Any]]:
        client_id = await current_client(await current_session(request))
        try:
            post_id = UUID(str(request.path_params["post_id"]))
        except ValueError:
            return []
        return await rules_say(
            posts.check_update(client_id=client_id, post_id=post_id, body=body, now=clock())
        )

    @router.post(
        "/posts",
        status_code=201,
        response_model=PostPublic,
        tags=["posts"],
        openapi_extra={MAX_BODY_EXTENSION: largest_body_bytes(PostCreate)},
    )
    @gathers(PostCreate, check_create)
    async def create_post(
        body: PostCreate,
        response: Response,
        client_id: ClientId,
        idempotency_key: Annotated[
            str | None,
            Header(
                alias="Idempotency-Key",
                max_length=255,
                pattern=r"^[\x21-\x7e]+$",
                description="Retry with the same key to get the same post back.",
            ),
        ] = None,
    ) -> PostPublic:
        """Queue a video, a photo post or an article for some of the client's connected
        accounts (see ``PostCreate``); every problem is a 422 naming its field."""
        created = await posts.create(
            client_id=client_id, body=body, idempotency_key=idempotency_key, now=clock()
        )
        await refuse_if_erased(runtime.revocations, client_id)
        if created.replayed:
            response.headers["Idempotent-Replayed"] = "true"
        else:
            runtime.scheduler_wake.set()
            runtime.relay_wake.set()
        return created.post

    @router.post(
        "/posts/check",
        status_code=204,
        response_class=Response,
        tags=["posts"],
        openapi_extra={MAX_BODY_EXTENSION: largest_body_bytes(PostCreate)},
        responses=problem_responses(
            422, descriptions={422: "What ``POST /posts`` would refuse, each field named."}
        ),
    )
    @gathers(PostCreate, check_draft)
    async def check_post(body: PostCreate, client_id: ClientId) -> Response:
        """Check a post by every rule of ``POST /posts`` without queueing it (a dry run:
        nothing is kept, nothing is sent): 204 when it would be taken, else the same 422.

        ``media_id`` (a video post) and ``image_ids`` (a photo post) may be left out while
        the files are still to be uploaded: the dashboard checks the form before its
        upload. What depends on the files themselves (a video's length, the number of
        images) is then checked when the post is queued."""
        await posts.check(client_id=client_id, body=body, now=clock(), files_to_come=True)
        return Response(status_code=204)

    @router.get("/posts/platforms", response_model=PlatformList, tags=["posts"])
    async def list_platforms(client_id: ClientId) -> PlatformList:
        """Every platform, in the order people see them: whether posts may target it,
        the kinds of post it takes, and the JSON Schema of its block (``targets[i].<name>``),
        from which the dashboard builds each target's fields."""
        return PlatformList.of(runtime.registry)

    @router.get("/posts", response_model=PostPage, tags=["posts"])
    async def list_posts(
        client_id: ClientId,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
        order: Annotated[
            Literal["created", "due"],
            Query(
                description="created: newest first; due: by publish time (scheduled_at), "
                "soonest first. A cursor is good for the order that gave it."
            ),
        ] = "created",
    ) -> PostPage:
        """The client's posts, newest first or (``order=due``) by publish time."""
        items, next_cursor = await posts.page(
            client_id=client_id, limit=limit, cursor=cursor, order=order
        )
        return PostPage(items=items, next_cursor=next_cursor)

    @router.get("/posts/export", response_model=FullExport, tags=["posts"])
    async def export_posts(client_id: ClientId) -> FullExport:
        """Every post and video (metadata) of the client, the deliveries made to it with
        their proposals, and the posts' audit trail: its part of the data export."""
        base = await posts.export(client_id=client_id)
        delivered, trail = await deliveries.export(client_id=client_id)
        return FullExport(**dict(base), deliveries=delivered, audit=trail)

    @router.get(
        "/posts/{post_id}",
        response_model=PostPublic,
        tags=["posts"],
        responses=problem_responses(404),
    )
    async def get_post(post_id: UUID, client_id: ClientId, response: Response) -> PostPublic:
        """The post, with its ``ETag`` header (a strong tag of this representation: any
        change to the post gives another) to send back in ``If-Match`` with ``PATCH``
        (optimistic concurrency, RFC 9110 §13.1.1)."""
        post = await posts.get(client_id=client_id, post_id=post_id)
        response.headers["ETag"] = post_etag(post)
        return post

    @router.patch(
        "/posts/{post_id}",
        response_model=PostPublic,
        tags=["posts"],
        openapi_extra={MAX_BODY_EXTENSION: largest_body_bytes(PostUpdate)},
        responses=problem_responses(
            404,
            409,
            412,
            descriptions={
                409: "A target to change was already handed to a publisher.",
                412: "`If-Match` was sent and the post changed since: nothing was changed; "
                "`ETag` is the current tag and `post` the post as it is now.",
            },
        ),
    )
    @gathers(PostUpdate, check_update)
    async def update_post(
        post_id: UUID,
        body: PostUpdate,
        client_id: ClientId,
        response: Response,
        if_match: Annotated[
            str | None,
            Header(
                description="The post's `ETag` from `GET /posts/{post_id}` (RFC 9110 "
                "§13.1.1): the edit applies only to that version, else 412. Optional: "
                "without it the edit applies to the post as it is (last write wins)."
            ),
        ] = None,
    ) -> PostPublic:
        """Reschedule a post or change its targets' settings until it is dispatched
        (see ``PostUpdate``); checked by the rules of ``POST /posts``, every problem a
        422 naming its field. With ``If-Match``, a 412 when the post changed since."""
        post = await posts.update(
            client_id=client_id, post_id=post_id, body=body, now=clock(), if_match=if_match
        )
        runtime.scheduler_wake.set()
        response.headers["ETag"] = post_etag(post)
        return post

    @router.post(
        "/posts/{post_id}/cancel",
        response_model=PostPublic,
        tags=["posts"],
        responses=problem_responses(404, 409),
    )
    async def cancel_post(post_id: UUID, client_id: ClientId) -> PostPublic:
        """Cancel the targets not yet handed to a publisher."""
        post = await posts.cancel(client_id=client_id, post_id=post_id, now=clock())
        runtime.relay_wake.set()
        return post

    @router.post(
        "/posts/{post_id}/retry",
        response_model=PostPublic,
        tags=["posts"],
        responses=problem_responses(
            404,
            409,
            descriptions={409: "No target can be retried (each named), or the video was deleted."},
        ),
    )
    async def retry_post(post_id: UUID, client_id: ClientId) -> PostPublic:
        """Queue the failed targets again."""
        post = await posts.retry(client_id=client_id, post_id=post_id, now=clock())
        runtime.relay_wake.set()
        runtime.scheduler_wake.set()
        return post

    @router.post(
        "/posts/{post_id}/targets/{target_id}/cancel",
        response_model=PostPublic,
        tags=["posts"],
        responses=problem_responses(
            404,
            409,
            descriptions={
                404: "No such post, or no such target of it.",
                409: "The target is already being published.",
            },
        ),
    )
    async def cancel_target(post_id: UUID, target_id: UUID, client_id: ClientId) -> PostPublic:
        """Cancel one target of the post, by the rules of ``POST /posts/{id}/cancel``;
        the post's other targets are left as they are."""
        post = await posts.cancel(
            client_id=client_id, post_id=post_id, target_id=target_id, now=clock()
        )
        runtime.relay_wake.set()
        return post

    @router.post(
        "/posts/{post_id}/targets/{target_id}/retry",
        response_model=PostPublic,
        tags=["posts"],
        responses=problem_responses(
            404,
            409,
            descriptions={
                404: "No such post, or no such target of it.",
                409: "The target has not failed, its account was lost, or the media was deleted.",
            },
        ),
    )
    async def retry_target(post_id: UUID, target_id: UUID, client_id: ClientId) -> PostPublic:
        """Queue one failed target again, by the rules of ``POST /posts/{id}/retry``;
        the post's other targets are left as they are."""
        post = await posts.retry(
            client_id=client_id, post_id=post_id, target_id=target_id, now=clock()
        )
        runtime.relay_wake.set()
        runtime.scheduler_wake.set()
        return post

    @router.post(
        "/posts/{post_id}/targets/{target_id}/mark-published",
        response_model=PostPublic,
        tags=["posts"],
        responses=problem_responses(
            404,
            409,
            422,
            descriptions={
                404: "No such post, or no such target of it.",
                409: "The target is not unconfirmed.",
                422: "``url`` is not an http(s) link of at most 1000 characters.",
            },
        ),
    )
    async def mark_published(
        post_id: UUID, target_id: UUID, client_id: ClientId, body: MarkPublished
    ) -> PostPublic:
        """An ``unconfirmed`` target (we could not confirm whether its post went out) is
        published: the client saw it on the platform, at ``url`` if given."""
        url = str(body.url) if body.url is not None else None
        post = await posts.mark_published(
            client_id=client_id, post_id=post_id, target_id=target_id, url=url, now=clock()
        )
        runtime.relay_wake.set()
        return post

    @router.post(
        "/posts/{post_id}/targets/{target_id}/publish-again",
        response_model=PostPublic,
        tags=["posts"],
        responses=problem_responses(
            404,
            409,
            descriptions={
                404: "No such post, or no such target of it.",
                409: "The target is not unconfirmed, its account was lost, or the media was "
                "deleted.",
            },
        ),
    )
    async def publish_again(post_id: UUID, target_id: UUID, client_id: ClientId) -> PostPublic:
        """An ``unconfirmed`` target whose post the client did not find is queued again: a
        new attempt, which may post a second time if the first did go out (the client's
        choice, never the queue's)."""
        post = await posts.publish_again(
            client_id=client_id, post_id=post_id, target_id=target_id, now=clock()
        )
        runtime.relay_wake.set()
        runtime.scheduler_wake.set()
        return post

    return router


def upload_problem(failure: BaseException) -> Problem | None:
    """The problem an upload failure answers with; None for anything else (re-raised)."""
    if isinstance(failure, UploadTooLarge):
        return _too_large(failure.max_bytes, failure.kind)
    if isinstance(failure, QuotaExceeded):
        return Problem(
            413,
            f"This upload ({failure.upload_bytes} bytes) would take the videos you keep here "
            f"past your {failure.quota_bytes}-byte quota; {failure.used_bytes} bytes are used.",
            title="Media quota exceeded",
            type_="https://cachalot.dev/problems/media-quota-exceeded",
            used_bytes=failure.used_bytes,
            quota_bytes=failure.quota_bytes,
            upload_bytes=failure.upload_bytes,
        )
    if isinstance(failure, DiskFull):
        return Problem(
            507,
            "The server has no room for this video right now; try again later.",
            title="Insufficient storage",
            headers={"Retry-After": str(DISK_FULL_RETRY_AFTER_S)},
            upload_bytes=failure.upload_bytes,
        )
    if isinstance(failure, ClientDisconnect):
        return Problem(400, "The upload was interrupted before the end; send it again.")
    if isinstance(failure, PartialLost):
        return Problem(
            503,
            "The upload was interrupted on our side; send it again.",
            headers={"Retry-After": "5"},
        )
    if isinstance(failure, NotAVideo):
        return Problem(
            415,
            f"Only {ACCEPTED} are accepted; this file is none of them.",
            errors=[_file_error("is not of a type taken", "type_error")],
        )
    if isinstance(failure, UnusableMedia):
        return Problem(
            422,
            f"This file cannot be used: {failure.reason}.",
            title="Unusable media",
            # the entry's type is the reason's code (media_<probe.UnusableCode>), which the
            # pages word in their language (web/words.js); the message keeps the file's facts
            errors=[_file_error(failure.reason, f"media_{failure.code}")],
        )
    return None


def _media_problem(failure: MediaNotFound | MediaInUse) -> Problem:
    if isinstance(failure, MediaNotFound):
        return Problem(404, "No such media.")
    held = []
    if failure.posts:
        names = ", ".join(str(p) for p in failure.posts)
        held.append(
            f"This file is still needed by post(s) {names}, not yet published, cancelled "
            "or failed; cancel them or wait until they finish, then delete it."
        )
    if failure.proposals:
        names = ", ".join(str(p) for p in failure.proposals)
        held.append(
            f"This file is still needed by proposal(s) {names} waiting for your answer; "
            "approving one queues a post with this file."
        )
    return Problem(
        409,
        " ".join(held),
        title="Media in use",
        type_="https://cachalot.dev/problems/media-in-use",
        posts=[str(p) for p in failure.posts],
        proposals=[str(p) for p in failure.proposals],
    )


def _too_large(limit: int, kind: str = "video") -> Problem:
    return Problem(413, f"The {kind} is larger than the {limit}-byte limit.", max_bytes=limit)


def _file_error(message: str, kind: str = "value_error") -> dict[str, str]:
    """The problem's ``errors[]`` entry for the uploaded file (the request body)."""
    return {"field": "file", "in": "body", "message": message, "type": kind}
