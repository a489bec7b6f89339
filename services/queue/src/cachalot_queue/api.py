"""HTTP entry points: thin routes that turn requests into service calls.

Every route needs the client session (cookie ``cachalot_session``), checked
locally with the shared secret. Validation errors name fields the way the
client wrote them: ``targets[1].youtube.title``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from cachalot_common.problems import Problem, field_errors, problem_response, problem_responses
from cachalot_common.sessions import COOKIE_NAME, SessionError, read_session
from cachalot_common.untrusted import StrictJsonRoute
from cachalot_queue.media_store import NotAVideo, UploadTooLarge, store_upload
from cachalot_queue.posts import PostService
from cachalot_queue.schemas import MediaPublic, PostCreate, PostPage, PostPublic, PostsExport
from cachalot_queue.tables import Media

VIDEO_TYPES = ("video/mp4", "video/quicktime", "video/webm", "application/octet-stream")


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
    """Like the shared handler, with list positions written as ``[i]``."""
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
    names = ", ".join(dict.fromkeys(e["field"] for e in errors))
    return problem_response(
        422, f"Invalid input: {names}.", errors=errors, instance=request.url.path
    )


def current_client(request: Request) -> UUID:
    """The signed-in client, from the session cookie auth issued."""
    secret = request.app.state.runtime.settings.session_secret.get_secret_value()
    try:
        return read_session(request.cookies.get(COOKIE_NAME), secret=secret).client_id
    except SessionError as error:
        raise Problem(
            401, "Sign in first: this needs a valid session.", title="Not signed in"
        ) from error


ClientId = Annotated[UUID, Depends(current_client)]


def build_router(
    *,
    posts: PostService,
    runtime: Any,
    clock: Callable[[], datetime],
) -> APIRouter:
    """Routes bound to the service objects built by the composition root."""
    # Every route needs a session (401) and validates something (422).
    router = APIRouter(
        prefix="/api/v1", route_class=StrictJsonRoute, responses=problem_responses(401, 422)
    )

    @router.post(
        "/media",
        status_code=201,
        response_model=MediaPublic,
        tags=["media"],
        summary="Upload a video (raw body, streamed)",
        responses=problem_responses(400, 413, 415),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    t: {"schema": {"type": "string", "format": "binary"}} for t in VIDEO_TYPES
                },
            }
        },
    )
    async def upload_media(request: Request, client_id: ClientId) -> MediaPublic:
        """Send the file itself as the body (``curl --data-binary @v.mp4`` or ``-T v.mp4``).

        The type is recognised from the content (MP4, MOV, WebM; anything else
        is 415), whatever Content-Type says. Larger than the cap → 413.
        """
        limit = runtime.settings.max_media_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isascii() and declared.isdigit() and int(declared) > limit:
            raise _too_large(limit)
        media_id = uuid4()
        try:
            stored = await store_upload(
                request.stream(),
                media_dir=runtime.settings.media_dir,
                media_id=media_id,
                max_bytes=limit,
            )
        except UploadTooLarge as error:
            raise _too_large(limit) from error
        except ClientDisconnect as error:
            raise Problem(
                400, "The upload was interrupted before the end; send it again."
            ) from error
        except NotAVideo as error:
            raise Problem(
                415,
                "Only MP4, MOV (QuickTime) and WebM videos are accepted; "
                "this file is none of them.",
            ) from error
        async with runtime.factory() as session, session.begin():
            session.add(
                Media(
                    id=stored.id,
                    client_id=client_id,
                    path=stored.path,
                    size=stored.size,
                    sha256=stored.sha256,
                    content_type=stored.content_type,
                    duration_sec=stored.duration_sec,
                    created_at=clock(),
                )
            )
        return MediaPublic.model_validate(stored, from_attributes=True)

    @router.post(
        "/posts",
        status_code=201,
        response_model=PostPublic,
        tags=["posts"],
    )
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
        """Queue a video for some of the client's connected accounts."""
        created = await posts.create(
            client_id=client_id, body=body, idempotency_key=idempotency_key, now=clock()
        )
        if created.replayed:
            response.headers["Idempotent-Replayed"] = "true"
        else:
            runtime.scheduler_wake.set()
            runtime.relay_wake.set()
        return created.post

    @router.get("/posts", response_model=PostPage, tags=["posts"])
    async def list_posts(
        client_id: ClientId,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
    ) -> PostPage:
        """The client's posts, newest first."""
        items, next_cursor = await posts.page(client_id=client_id, limit=limit, cursor=cursor)
        return PostPage(items=items, next_cursor=next_cursor)

    @router.get("/posts/export", response_model=PostsExport, tags=["posts"])
    async def export_posts(client_id: ClientId) -> PostsExport:
        """Every post and video (metadata) of the client: its part of the data export."""
        return await posts.export(client_id=client_id)

    @router.get(
        "/posts/{post_id}",
        response_model=PostPublic,
        tags=["posts"],
        responses=problem_responses(404),
    )
    async def get_post(post_id: UUID, client_id: ClientId) -> PostPublic:
        return await posts.get(client_id=client_id, post_id=post_id)

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
        responses=problem_responses(404, 409),
    )
    async def retry_post(post_id: UUID, client_id: ClientId) -> PostPublic:
        """Queue the failed targets again."""
        post = await posts.retry(client_id=client_id, post_id=post_id, now=clock())
        runtime.relay_wake.set()
        runtime.scheduler_wake.set()
        return post

    return router


def _too_large(limit: int) -> Problem:
    return Problem(413, f"The video is larger than the {limit}-byte limit.", max_bytes=limit)
