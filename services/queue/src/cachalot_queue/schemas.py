"""What the HTTP API accepts and returns, validated against the platforms' limits.

Each target names an account and carries the block of that account's
platform (``targets[i].tiktok``, ``targets[i].youtube``): one optional field
per publishable platform of the registry (:mod:`cachalot_common.platforms`),
whose fields model holds the platform's limits (shared/reference/platforms.md).
That the block matches the account is checked against the account projection
in :mod:`cachalot_queue.posts`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, create_model

from cachalot_common import platforms
from cachalot_common.events import TargetStatus

MAX_TARGETS = 20


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class TargetBase(_Input):
    """One account to publish to, with the block for its platform."""

    account_id: UUID

    def block(self, platform: str) -> platforms.PlatformFields | None:
        """The block the client sent for ``platform`` (``None``: none sent)."""
        found = getattr(self, platform, None)
        return found if isinstance(found, platforms.PlatformFields) else None


# One ``<platform>: <its fields model> | None`` field per publishable platform, in registry
# order, so a new platform's block appears here (and in the OpenAPI document) by itself.
# Type checkers see the base class: code reads a block with ``TargetBase.block(name)``.
if TYPE_CHECKING:
    TargetCreate = TargetBase
else:
    TargetCreate = create_model(
        "TargetCreate",
        __base__=TargetBase,
        __doc__=TargetBase.__doc__,
        __module__=__name__,
        **{s.name: (s.fields | None, None) for s in platforms.publishable()},
    )


class PostCreate(_Input):
    """Queue a video for one or more of the client's connected accounts."""

    media_id: UUID = Field(description="From POST /api/v1/media.")
    targets: list[TargetCreate] = Field(min_length=1, max_length=MAX_TARGETS)
    scheduled_at: AwareDatetime | None = Field(
        default=None, description="When to publish (with a time zone); now if absent."
    )


class MediaPublic(BaseModel):
    """One stored file and what the probe read of it (units in the names; sizes in pixels)."""

    id: UUID
    size: int = Field(description="Bytes.")
    sha256: str
    content_type: str = Field(
        description="Recognised from the bytes: video/mp4, video/quicktime, video/webm, "
        "image/jpeg or image/png."
    )
    kind: Literal["video", "image"] = "video"
    duration_sec: float | None = Field(default=None, description="Videos: seconds.")
    width: int | None = Field(default=None, description="Pixels (None: stored before probing).")
    height: int | None = Field(default=None, description="Pixels (None: stored before probing).")
    frame_rate: float | None = Field(default=None, description="Videos: frames per second.")
    video_codec: str | None = Field(default=None, description="Videos: FFmpeg's codec name.")
    audio_codec: str | None = Field(
        default=None, description="Videos: FFmpeg's codec name of the first audio stream, if any."
    )


class TargetPublic(BaseModel):
    id: UUID
    account_id: UUID
    platform: str
    status: TargetStatus
    attempts: int = Field(description="How many times it was handed to the publisher.")
    next_attempt_at: datetime | None = None
    remote_id: str | None = None
    remote_url: str | None = None
    last_error: str | None = None
    last_error_code: str | None = None
    bytes_sent: int | None = None
    bytes_total: int | None = None
    updated_at: datetime
    options: dict[str, Any]


class PostPublic(BaseModel):
    id: UUID
    media_id: UUID
    media_deleted: bool = Field(
        default=False,
        description="The client deleted this video after the post was finished with it; "
        "media_id is kept for the post's history, the file is gone.",
    )
    scheduled_at: datetime
    created_at: datetime
    targets: list[TargetPublic]


class MediaExport(MediaPublic):
    created_at: datetime


class PostsExport(BaseModel):
    """Everything the queue holds of one client (part of ``GET /api/v1/me/export``)."""

    posts: list[PostPublic] = Field(description="Every post, oldest first, with its targets.")
    media: list[MediaExport] = Field(description="Every uploaded video (metadata; not the bytes).")


class PostPage(BaseModel):
    items: list[PostPublic]
    next_cursor: str | None = Field(default=None, description="Pass as ?cursor= for more.")


class MediaItem(MediaExport):
    """One stored video, with the posts that use it."""

    posts: list[UUID] = Field(description="Posts made from this video, oldest first.")
    needed_by: list[UUID] = Field(
        description="Those of them still scheduled, paused or publishing: while any is "
        "listed here, the video cannot be deleted (409)."
    )


class MediaUsage(BaseModel):
    """How much of the media quota the client uses."""

    used_bytes: int = Field(description="Stored videos plus uploads in progress, in bytes.")
    quota_bytes: int = Field(description="What one client may keep (CACHALOT_MEDIA_QUOTA_BYTES).")


class MediaPage(MediaUsage):
    items: list[MediaItem]
    next_cursor: str | None = Field(default=None, description="Pass as ?cursor= for more.")
