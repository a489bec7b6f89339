"""Events and commands that cross service boundaries over Kafka.

Every message has ``event_id`` (UUID, the dedupe key), ``occurred_at`` (UTC)
and a ``type``; the version lives in the topic name. Tokens never go into
Kafka: these models have no field that could hold one. Names follow intent:
commands are orders (``PublishVideo``), events are past tense
(``ContactSubmitted``, ``PublishResult`` types ``published``/``failed``...).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cachalot_common.topics import Platform


def utcnow() -> datetime:
    """Timezone-aware now; naive datetimes never cross a boundary."""
    return datetime.now(UTC)


class Event(BaseModel):
    """The envelope every message carries.

    Readers are tolerant (``extra="ignore"``): a field added to a ``.vN`` topic's
    event does not break a reader deployed before it (a rolling upgrade), while a
    field removed or changed in meaning is a new topic version (DESIGN.md,
    "Versions are in the topic name"). Nested payloads that drive an action
    (a post's platform options, the media reference) stay strict, so a field a
    reader cannot honour is refused (to the DLQ) rather than silently dropped.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: UUID = Field(default_factory=uuid4, description="Unique id; consumers dedupe on it.")
    occurred_at: datetime = Field(default_factory=utcnow, description="When it happened (UTC).")


# --- contact.submitted.v1 -------------------------------------------------------------

ContactKind = Literal["telegram", "phone"]


class ContactSubmitted(Event):
    """A visitor sent the public contact form. ``event_id`` is the submission id."""

    type: Literal["contact.submitted"] = "contact.submitted"
    name: str = Field(description="Name as typed (trimmed).")
    contact: str = Field(description="Telegram @username or an E.164 phone number.")
    contact_kind: ContactKind
    category: str = Field(description="Service category slug.")
    message: str = Field(description="Message as typed.")
    ip: str | None = Field(default=None, description="Client IP (behind trusted proxies).")
    user_agent: str | None = None


# --- accounts.v1 ----------------------------------------------------------------------

AccountEventType = Literal["connected", "reauth_required", "revoked", "deleted"]


class AccountChanged(Event):
    """A connected social account changed state (auth → queue, notifier)."""

    type: AccountEventType
    account_id: UUID
    client_id: UUID
    platform: Platform
    display_name: str | None = None
    scopes: list[str] = Field(default_factory=list)
    reason: str | None = Field(default=None, description="Why, for people (reauth, revoke).")


# --- posts.publish.<platform>.v1 --------------------------------------------------------


class MediaRef(BaseModel):
    """Where the publisher finds the file in the shared media store, and what the queue's
    probe read of it (the facts are optional: absent for files stored before probing)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    media_id: UUID
    path: str = Field(description="Path relative to CACHALOT_MEDIA_DIR.")
    size: int = Field(ge=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    content_type: Literal["video/mp4", "video/quicktime", "video/webm", "image/jpeg", "image/png"]
    duration_sec: float | None = None
    width: int | None = Field(default=None, ge=1, description="Pixels.")
    height: int | None = Field(default=None, ge=1, description="Pixels.")
    frame_rate: float | None = Field(default=None, gt=0, description="Frames per second.")
    video_codec: str | None = Field(default=None, description="FFmpeg's name (h264, hevc, vp9).")


class TikTokOptions(BaseModel):
    """TikTok Direct Post fields (post_info)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    platform: Literal["tiktok"] = "tiktok"
    caption: str = Field(default="", description="post_info.title, ≤2200 UTF-16 units.")
    privacy_level: Literal[
        "PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"
    ] = "SELF_ONLY"
    disable_comment: bool = False
    disable_duet: bool = False
    disable_stitch: bool = False
    video_cover_timestamp_ms: int | None = None
    brand_content_toggle: bool = False
    brand_organic_toggle: bool = False
    is_aigc: bool = False


class YouTubeOptions(BaseModel):
    """YouTube videos.insert snippet and status fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    platform: Literal["youtube"] = "youtube"
    title: str = Field(description="≤100 characters, no '<' or '>'.")
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    category_id: str = "22"
    privacy_status: Literal["public", "unlisted", "private"] = "private"
    made_for_kids: bool = False


PlatformOptions = Annotated[TikTokOptions | YouTubeOptions, Field(discriminator="platform")]


class PublishVideo(Event):
    """Order to a publisher: put this video on this account (queue → publisher)."""

    type: Literal["publish_video"] = "publish_video"
    post_id: UUID
    target_id: UUID = Field(description="One (post, account) pair; the unit of publishing.")
    client_id: UUID
    account_id: UUID
    platform: Platform
    attempt: int = Field(ge=1, description="1 for the first dispatch, +1 on each retry.")
    media: MediaRef
    options: PlatformOptions
    reconcile: bool = Field(
        default=False,
        description="Sent by the reconciler: check the platform's status before sending anything.",
    )
    grant: str | None = Field(
        default=None,
        repr=False,
        description="The queue's signed publish grant for this attempt (cachalot_common.grants); "
        "the publisher passes it to auth with each lease. A capability, not a token: useless "
        "without the publisher's own service secret. Kept out of repr and masked in logs.",
    )


# --- posts.result.v1 -------------------------------------------------------------------

ResultType = Literal["progress", "published", "failed", "retryable"]


class PublishResult(Event):
    """What a publisher learned about one target (publisher → queue)."""

    type: ResultType
    post_id: UUID
    target_id: UUID
    account_id: UUID
    platform: Platform
    attempt: int = Field(ge=1)
    bytes_sent: int | None = None
    bytes_total: int | None = None
    remote_id: str | None = None
    remote_url: str | None = None
    code: str | None = Field(default=None, description="Machine-readable cause, e.g. 'rate_limit'.")
    reason: str | None = Field(
        default=None, description="What happened and what to do, for people."
    )
    retry_after_s: float | None = Field(default=None, description="Platform's Retry-After, if any.")
    reauth_required: bool = Field(
        default=False, description="The account's token is dead: pause until reconnect."
    )


# --- posts.status.v1 -------------------------------------------------------------------

TargetStatus = Literal[
    "scheduled", "dispatched", "publishing", "published", "failed", "cancelled", "paused"
]


class PostStatusChanged(Event):
    """A target changed state, for people (queue → notifier, dashboard feed)."""

    type: Literal["post.status_changed"] = "post.status_changed"
    post_id: UUID
    target_id: UUID
    client_id: UUID
    account_id: UUID
    platform: Platform
    status: TargetStatus
    previous: TargetStatus | None = None
    reason: str | None = None
    remote_url: str | None = None
    attempt: int | None = Field(
        default=None,
        ge=0,
        description="The target's attempt once changed (0 before its first dispatch; a "
        "dispatch raises it). Auth reads it to refuse the publish grants of attempts that are "
        "over. None from a queue older than this field.",
    )


# --- notify.v1 -------------------------------------------------------------------------


class NotifyRequested(Event):
    """Any service asks the notifier to tell someone something."""

    type: Literal["notify.requested"] = "notify.requested"
    channel: Literal["operator_telegram", "email"]
    recipient: str | None = Field(default=None, description="Email address; none for operator.")
    subject: str | None = None
    text: str = Field(min_length=1, max_length=3500)


# --- sessions.v1 -----------------------------------------------------------------------

SessionEndType = Literal["revoked", "all_revoked", "client_erased"]


class SessionEnded(Event):
    """Client sessions that ended before their expiry (auth → every client-facing service).

    * ``revoked``: the one session ``session_id`` (logout);
    * ``all_revoked``: every session of ``client_id`` issued up to ``occurred_at``;
    * ``client_erased``: the same, and the client no longer exists (``DELETE
      /api/v1/me``): nothing of it may be kept or accepted any more.

    Keyed by client id. A consumer refuses the sessions until ``expires_at``
    and may forget the revocation after it (the cookie has expired by then).
    """

    type: SessionEndType
    client_id: UUID
    session_id: str | None = Field(
        default=None,
        max_length=64,
        description="The session that ended (type revoked); none for the other types.",
    )
    expires_at: datetime = Field(
        description="When the last session this ends would have expired (UTC)."
    )

    @model_validator(mode="after")
    def _session_named_only_when_one_ends(self) -> SessionEnded:
        if (self.type == "revoked") != (self.session_id is not None):
            raise ValueError("session_id is required for type revoked and only for it")
        return self
