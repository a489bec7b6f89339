"""What the HTTP API accepts and returns, validated against the platforms' limits.

Each target names an account and carries the block of that account's
platform (``targets[i].tiktok``, ``targets[i].youtube``): one optional field
per publishable platform of the registry (:mod:`cachalot_common.platforms`),
whose fields model holds the platform's limits (shared/reference/platforms.md).
That the block matches the account is checked against the account projection
in :mod:`cachalot_queue.posts`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar, Union, get_args, get_origin
from uuid import UUID, uuid4

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    ValidationError,
    create_model,
    field_validator,
)
from pydantic.fields import FieldInfo

from cachalot_common import platforms
from cachalot_common.events import POST_KINDS, PostKind, PublishPost, TargetStatus
from cachalot_common.json_size import round_up_kib, worst_case_json_bytes
from cachalot_common.text import CheckedText

MAX_TARGETS = 20
MAX_IMAGES = PublishPost.model_fields["images"].metadata[0].max_length
"""The most images any platform takes in one post (TikTok's 35, the command's own limit)."""


class _Input(CheckedText):
    """Strict input; every string passes the one text rule (:class:`CheckedText`)."""

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


class ArticleCreate(_Input):
    """An article: a title, a body in the article HTML subset, optionally a cover image."""

    title: str = Field(min_length=1, max_length=256)
    body_html: str = Field(
        min_length=1,
        max_length=200_000,
        description="HTML limited to p, h3, h4, blockquote, ul/ol/li, a href (http, https, "
        "mailto, tg), b/strong, i/em, u, s, br (cachalot_common.articles).",
    )
    cover_media_id: UUID | None = Field(
        default=None, description="An image (JPEG or PNG) from POST /api/v1/media."
    )


class PostCreate(_Input):
    """Queue a video, a photo post or an article for some of the client's connected accounts.

    The content goes with ``kind``: ``media_id`` (a video) for ``video``,
    ``image_ids`` (images, in order) for ``photo``, ``article`` for ``article``;
    each target's platform must take that kind (``GET /api/v1/posts/platforms``).
    """

    kind: PostKind = Field(default="video", description="video, photo or article.")
    media_id: UUID | None = Field(default=None, description="A video post's video.")
    image_ids: list[UUID] | None = Field(
        default=None,
        max_length=MAX_IMAGES,
        description="A photo post's images (JPEG or PNG), in order: 1–10 on most platforms "
        "(each platform's max_images; TikTok takes 35). An empty list is refused as none "
        "(in the post's own words, not a list rule).",
    )
    article: ArticleCreate | None = Field(default=None, description="An article post's content.")
    targets: list[TargetCreate] = Field(min_length=1, max_length=MAX_TARGETS)
    scheduled_at: AwareDatetime | None = Field(
        default=None, description="When to publish (with a time zone); now if absent."
    )


class PostUpdate(_Input):
    """Reschedule or edit a post until it is dispatched (``PATCH /api/v1/posts/{id}``).

    ``scheduled_at``: the new publish time, by the rules of creation (not past,
    at most a year ahead). ``targets``: new settings for some of the post's
    targets, each named by its ``account_id`` with its platform's block, checked
    as on creation against the post's content (errors name ``targets[i]`` of this
    body). Targets not yet handed to a publisher (scheduled or paused) change, and so
    does a failed one's settings (they are used when it is retried; its time is the
    retry's); a target handed to a publisher or finished otherwise is 409.

    The content changes with the field of the post's kind: ``media_id`` (video),
    ``image_ids`` (photo) or ``article`` (article; the whole article). It is checked
    against every target's platform, as on creation; the content is one for the whole
    post, so it changes only while no target is being published or done (each is
    scheduled, paused, failed or cancelled), else 409.
    """

    scheduled_at: AwareDatetime | None = Field(
        default=None, description="The new publish time (with a time zone)."
    )
    targets: list[TargetCreate] | None = Field(default=None, min_length=1, max_length=MAX_TARGETS)
    media_id: UUID | None = Field(default=None, description="A video post's new video.")
    image_ids: list[UUID] | None = Field(
        default=None,
        max_length=MAX_IMAGES,
        description="A photo post's new images, in order (they replace the old ones; at "
        "least one).",
    )
    article: ArticleCreate | None = Field(
        default=None, description="An article post's new title, body and cover (all three)."
    )


class MarkPublished(_Input):
    """``POST /api/v1/posts/{id}/targets/{target_id}/mark-published``: the client saw an
    ``unconfirmed`` target's post on the platform."""

    url: HttpUrl | None = Field(
        default=None,
        description="Where the post is (http or https, at most 1000 characters); optional.",
    )

    @field_validator("url")
    @classmethod
    def _url_fits(cls, url: HttpUrl | None) -> HttpUrl | None:
        if url is not None and len(str(url)) > REMOTE_URL_MAX:
            raise ValueError(f"A link is at most {REMOTE_URL_MAX} characters.")
        return url


REMOTE_URL_MAX = 1000
"""The length of ``targets.remote_url``."""


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
    text_start: str | None = Field(
        default=None,
        description="The target's own words as a person knows the post by (its title or "
        "caption, the platform registry's text_fields; an article's title when the block has "
        "none), at most 60 grapheme clusters with '…' when cut (UAX #29); None when none.",
    )


class ArticlePublic(BaseModel):
    title: str
    body_html: str
    cover_media_id: UUID | None = None


class PostPublic(BaseModel):
    id: UUID
    kind: PostKind = "video"
    media_id: UUID | None = Field(default=None, description="A video post's video.")
    image_ids: list[UUID] = Field(default_factory=list, description="A photo post's images.")
    article: ArticlePublic | None = None
    media_deleted: bool = Field(
        default=False,
        description="The client deleted a file of this post (its video, an image, the cover) "
        "after the post was finished with it; the ids are kept for the post's history.",
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
    """One stored file, with the posts that use it."""

    posts: list[UUID] = Field(
        description="Posts made with this file (as video, image or cover), oldest first."
    )
    needed_by: list[UUID] = Field(
        description="Those of them still scheduled, paused or publishing: while any is "
        "listed here, the file cannot be deleted (409)."
    )
    proposals_waiting: list[UUID] = Field(
        description="Proposals an operator delivered with this file that wait for the "
        "client's answer (proposed, changes requested), oldest first: while any is listed "
        "here, the file cannot be deleted either (409), as approving one queues a post "
        "needing it.",
    )


class MediaUsage(BaseModel):
    """How much of the media quota the client uses."""

    used_bytes: int = Field(description="Stored videos plus uploads in progress, in bytes.")
    quota_bytes: int = Field(description="What one client may keep (CACHALOT_MEDIA_QUOTA_BYTES).")


class MediaPage(MediaUsage):
    items: list[MediaItem]
    next_cursor: str | None = Field(default=None, description="Pass as ?cursor= for more.")


class PlatformPublic(BaseModel):
    """One platform as the composer shows it (from the registry, cachalot_common.platforms)."""

    name: str
    label: str
    publishable: bool = Field(description="Whether posts may target its accounts today.")
    kinds: list[PostKind] = Field(description="The kinds of post it takes.")
    max_images: int = Field(description="The most images of one photo post.")
    fields: dict[str, Any] | None = Field(
        default=None,
        description="JSON Schema of its block (targets[i].<name>); None when not publishable.",
    )


class PlatformList(BaseModel):
    items: list[PlatformPublic]

    @classmethod
    def of(cls, registry: Mapping[str, platforms.PlatformSpec]) -> PlatformList:
        """Every platform of ``registry`` in its order: whether posts may target it, the
        kinds it takes and the JSON Schema of its block (the client's composer and both
        sides' proposal lists word each choice from it, ``web/choices.js``)."""
        return cls(
            items=[
                PlatformPublic(
                    name=spec.name,
                    label=spec.label,
                    publishable=spec.publishable,
                    kinds=[k for k in POST_KINDS if k in spec.kinds],
                    max_images=spec.max_images,
                    fields=spec.fields.model_json_schema() if spec.fields is not None else None,
                )
                for spec in registry.values()
            ]
        )


def largest_body_bytes(model: type[BaseModel]) -> int:
    """The most bytes a valid ``PostCreate`` or ``PostUpdate`` body can take, every character
    escaped as JSON allows (:mod:`cachalot_common.json_size`), rounded up to a KiB.

    A valid target carries the block of its account's platform only (any other block is
    a 422, :mod:`cachalot_queue.posts`), so each target counts as the largest one-platform
    target rather than all blocks at once; each platform's text fields declare their
    platform's limit (``cachalot_common.platforms.spec.max_chars``). The routes' byte cap
    is this (issue 11: a valid post escaped past the old 64 KiB cap was refused 413);
    a longer field within it is a 422 naming the field.
    Raises ``ValueError`` if some field of ``model`` has no bound.
    """
    blocks: list[dict[str, Any]] = [
        {"account_id": (UUID, ...), spec.name: (spec.fields | None, None)}  # type: ignore[operator]
        for spec in platforms.publishable()
    ]
    one_platform = tuple(
        create_model(f"OneTarget{i}", __base__=_Input, **block) for i, block in enumerate(blocks)
    )
    largest = create_model(
        f"Largest{model.__name__}",
        __base__=model,
        targets=(list[Union[one_platform]] | None, Field(max_length=MAX_TARGETS)),  # type: ignore[valid-type,arg-type]  # noqa: UP007
    )
    schema = largest.model_json_schema()
    size = worst_case_json_bytes(schema, schema)
    if size is None:
        raise ValueError(f"{model.__name__} has a field without a bound")
    return round_up_kib(size)


#: How many times :func:`salvage` mends a body before it gives up (a stand-in may make a
#: field that depends on it fail in turn, e.g. TikTok's branded content on "Only me").
_SALVAGE_ROUNDS: Final = 4


def salvage(model: type[_Body], raw: Any, errors: Sequence[Mapping[str, Any]]) -> _Body | None:
    """A valid ``model`` made of ``raw`` (a request body that failed ``model``'s schema with
    pydantic's ``errors``) with each failing field taken out, or ``None`` when that cannot
    be made (the body is not an object, ``targets`` itself is wrong, ...).

    A field taken out gets its default; a required one a stand-in of its type (the first
    of a ``Literal``, a fresh UUID, ``"x"``, ``False``, ``0``, ``[]``), only so that the
    rest of its target can be checked by the platform's rules. What is said about a field
    taken out is said by the schema (its error): the caller drops the rules' words about it
    (issue 12: a missing TikTok privacy hid the caption's too-long error until the next
    round). ``errors``' ``loc`` may start with ``body`` (FastAPI's); the rest is a path
    into ``raw``.
    """
    if not isinstance(raw, dict):
        return None
    body = copy.deepcopy(raw)
    pending = [_body_loc(e.get("loc", ())) for e in errors]
    if any(loc[:1] == ("kind",) for loc in pending):
        return None  # the kind decides what content is required: a stand-in would misname it
    for _ in range(_SALVAGE_ROUNDS):
        for loc in pending:
            if not _mend(model, body, loc):
                return None
        try:
            return model.model_validate(body)
        except ValidationError as again:
            pending = [_body_loc(e["loc"]) for e in again.errors()]
    return None


_Body = TypeVar("_Body", bound=BaseModel)


def _body_loc(loc: Sequence[Any]) -> tuple[str | int, ...]:
    parts = tuple(loc)
    return parts[1:] if parts and parts[0] == "body" else parts


def _mend(model: type[BaseModel], body: dict[str, Any], loc: tuple[str | int, ...]) -> bool:
    """Take the field at ``loc`` out of ``body`` (the innermost object key on its path: an
    item of a list goes with its list) and put a stand-in where it is required. False when
    nothing can be done (the path leaves ``body``, or no stand-in fits)."""
    keyed = [i for i, part in enumerate(loc) if isinstance(part, str)]
    if not keyed:
        return False
    cut = loc[: keyed[-1] + 1]
    parent: Any = body
    for part in cut[:-1]:
        try:
            parent = parent[part]
        except (KeyError, IndexError, TypeError):
            return False
    if not isinstance(parent, dict):
        return False
    parent.pop(cut[-1], None)
    info = _field_at(model, cut)
    if info is None:
        return False
    if not info.is_required():
        return True
    stand_in = _stand_in(info.annotation)
    if stand_in is _NONE:
        return False
    parent[cut[-1]] = stand_in
    return True


def _field_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> FieldInfo | None:
    """The pydantic field ``loc`` names in ``model`` (list positions stepped over)."""
    current: Any = model
    info: FieldInfo | None = None
    for part in loc:
        if isinstance(part, int):
            continue
        owner = _model_in(current)
        if owner is None or part not in owner.model_fields:
            return None
        info = owner.model_fields[part]
        current = info.annotation
    return info


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model ``annotation`` holds (``X | None``, ``list[X]``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


_NONE: Final = object()


def _stand_in(annotation: Any) -> Any:
    """A value of ``annotation`` the schema takes, or :data:`_NONE`."""
    if get_origin(annotation) is Literal:
        return get_args(annotation)[0]
    if annotation is UUID:
        return str(uuid4())
    simple: dict[Any, Any] = {str: "x", bool: False, int: 0, float: 0.0}
    if annotation in simple:
        return simple[annotation]
    if get_origin(annotation) is list:
        return []
    return _NONE
