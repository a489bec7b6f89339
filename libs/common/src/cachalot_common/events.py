"""Events and commands that cross service boundaries over Kafka.

Every message has ``event_id`` (UUID, the dedupe key), ``occurred_at`` (UTC)
and a ``type``; the version lives in the topic name. Tokens never go into
Kafka: these models have no field that could hold one. Names follow intent:
commands are orders (``PublishPost``), events are past tense
(``ContactSubmitted``, ``PublishResult`` types ``published``/``failed``...).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Final, Literal
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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

AccountEventType = Literal[
    "connected", "reauth_required", "needs_channel", "revoked", "deleted", "updated"
]
"""``needs_channel`` (added for issue 10): a Telegram account whose sign-in is fine but whose
channel is the problem (``code`` says which); its posts wait, new ones are refused when queued,
until the client links a channel (then ``connected``). ``updated`` (added for issue 13): what
auth knows of the account changed (TikTok's ``creator_info`` read again), not its state: a
reader refreshes its facts and leaves the account's status and its posts as they are."""


class CreatorInfoFacts(BaseModel):
    """What TikTok's ``creator_info`` said of an account at auth's last read (added for issue
    13): what the queue needs to refuse, when a post is queued, the choices TikTok would refuse
    at publish time (shared/reference/platforms.md §1.2, creator_info and the Direct Post UX
    rules). publisher-tiktok reads ``creator_info`` again before it posts: the final word."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    privacy_level_options: list[str] = Field(
        description="The privacy levels the creator may post with (PUBLIC_TO_EVERYONE, ...)."
    )
    comment_disabled: bool = Field(description="The creator turned comments off in TikTok.")
    duet_disabled: bool = Field(description="The creator turned duets off in TikTok.")
    stitch_disabled: bool = Field(description="The creator turned stitches off in TikTok.")
    max_video_post_duration_sec: int | None = Field(
        default=None, ge=1, description="The longest video the creator may post, in seconds."
    )


class Community(BaseModel):
    """A VK community an account's person administers, as VK's ``groups.get`` with
    ``extended=1`` describes it (dev.vk.com, the group object: ``id``, ``name``,
    ``screen_name``)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: int = Field(gt=0, description="The community's id (its wall is -id).")
    name: str | None = Field(default=None, max_length=256, description="Its name.")
    screen_name: str | None = Field(
        default=None, max_length=64, description="Its short address (vk.com/<screen_name>)."
    )


ACCOUNT_NAME_MAX_CHARS = 256
"""The longest account display name (characters): auth cuts a platform's name to it, and
auth and the queue store up to it (``accounts.display_name``, ``targets.account_name``)."""


class AccountChanged(Event):
    """A connected social account changed state (auth → queue, notifier)."""

    type: AccountEventType
    account_id: UUID
    client_id: UUID
    platform: Platform
    display_name: str | None = Field(
        default=None, description=f"At most {ACCOUNT_NAME_MAX_CHARS} characters (auth cuts it)."
    )
    scopes: list[str] = Field(default_factory=list)
    reason: str | None = Field(default=None, description="Why, for people (reauth, revoke).")
    communities: list[int] | None = Field(
        default=None,
        description="VK: ids of the communities the account's person administers, as VK's "
        "groups.get filter=admin said at the last sign-in (added for issue 10: the queue checks "
        "a post's owner_id against it); None when not known or another platform.",
    )
    community_details: list[Community] | None = Field(
        default=None,
        description="VK: each of ``communities`` with its name and screen name, as VK's "
        "groups.get extended=1 said at the last sign-in (added for issue 10, so people see "
        "names, not ids); None when not known, another platform, or an older auth.",
    )
    platform_user_id: str | None = Field(
        default=None,
        max_length=64,
        description="The person's id on the platform (auth's platform_user_id; added for "
        "issue 10: a VK owner_id that is positive must be this id, the person's own wall); "
        "None from an older auth.",
    )
    creator_info: CreatorInfoFacts | None = Field(
        default=None,
        description="TikTok: what creator_info said at auth's last read of it (sent again, "
        "type updated, when a read finds it changed); None when not known or another platform.",
    )
    code: str | None = Field(
        default=None,
        description="Why, for machines. needs_channel: channel_not_linked (no channel linked "
        "yet) or channel_link_broken (our bot cannot post in the account's Telegram channel: "
        "the client makes it an admin and links the channel again; the sign-in is fine). "
        "Older auth sent channel_link_broken with reauth_required. reauth_required after a "
        "refresh the platform refused: its OAuth error (invalid_grant...); None from an older "
        "auth or a sign-in's own reasons.",
    )


# --- posts.publish.<platform>.v1 --------------------------------------------------------


PostKind = Literal["video", "photo", "article"]
"""What a post carries: one video; 1–10 images with a caption (TikTok takes up to 35); or an
article (a title and a body in :mod:`cachalot_common.articles` HTML, optionally a cover)."""

POST_KINDS: Final[tuple[PostKind, ...]] = ("video", "photo", "article")


class MediaRef(BaseModel):
    """Where the publisher finds one file (a video or an image) in the shared media store,
    and what the queue's probe read of it (the facts are optional: absent for files stored
    before probing). Unknown fields are ignored (a tolerant reader: a newer queue may add
    facts an older publisher does not know)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

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
    url: str | None = Field(
        default=None,
        repr=False,
        description="For platforms that fetch media (Instagram): a signed, expiring link to this "
        "file under CACHALOT_PUBLIC_URL, filled by the queue at dispatch. A capability until it "
        "expires: kept out of repr; the access logs mask its signature.",
    )


class Article(BaseModel):
    """An article as the client wrote it.

    ``body_html`` is the small HTML subset of :mod:`cachalot_common.articles`
    (paragraphs, headings, lists, quotes, links, bold/italic), already checked
    by :func:`cachalot_common.articles.parse` when the post was queued; each
    publisher renders it the way its platform reads text.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str = Field(min_length=1, max_length=256)
    body_html: str = Field(min_length=1, max_length=200_000)
    cover: MediaRef | None = Field(default=None, description="An image (JPEG or PNG).")


class TikTokOptions(BaseModel):
    """TikTok Direct Post fields (post_info).

    For a video post ``caption`` is ``post_info.title`` (≤ 2200 UTF-16 units);
    for a photo post it is ``post_info.description`` (≤ 4000) and
    ``photo_title`` is ``post_info.title`` (≤ 90), per TikTok's Content Posting
    API reference (shared/reference/platforms.md §1, "Photo posts").
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    platform: Literal["tiktok"] = "tiktok"
    caption: str = Field(default="", description="post_info.title, ≤2200 UTF-16 units.")
    privacy_level: Literal[
        "PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"
    ] = Field(
        description="Chosen by the person from creator_info's privacy_level_options; no "
        "default (TikTok's Direct Post UX rules, shared/reference/platforms.md §1.2)."
    )
    disable_comment: bool = False
    disable_duet: bool = False
    disable_stitch: bool = False
    video_cover_timestamp_ms: int | None = None
    brand_content_toggle: bool = False
    brand_organic_toggle: bool = False
    is_aigc: bool = False
    photo_title: str = Field(default="", description="Photo posts: post_info.title, ≤90.")
    photo_cover_index: int = Field(default=0, ge=0, description="Photo posts: the cover image.")
    auto_add_music: bool = Field(default=False, description="Photo posts: TikTok adds music.")


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


class InstagramOptions(BaseModel):
    """Instagram content publishing fields (a Reel, an image or a carousel)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    platform: Literal["instagram"] = "instagram"
    caption: str = Field(default="", description="≤2,200 characters, 30 hashtags, 20 mentions.")
    share_to_feed: bool = Field(default=True, description="Reels: also show in the feed.")


class VKOptions(BaseModel):
    """VK ``wall.post`` fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    platform: Literal["vk"] = "vk"
    message: str = Field(default="", description="The wall post's text.")
    owner_id: int | None = Field(
        default=None,
        description="Where to post: None for the account's own wall (or the community chosen "
        "when it was connected); a negative id for a community the client administers.",
    )


class TelegramOptions(BaseModel):
    """Telegram Bot API fields for a post in the account's linked channel."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    platform: Literal["telegram"] = "telegram"
    caption: str = Field(
        default="",
        description="Video and photo posts: the caption, ≤1024 UTF-16 units after entity parsing.",
    )
    disable_link_preview: bool = False
    disable_notification: bool = False
    article_as: Literal["auto", "message", "telegraph"] = Field(
        default="auto",
        description="Articles: one message when it fits 4096 characters (auto), or always a "
        "Telegraph page announced in the channel.",
    )


PlatformOptions = Annotated[
    TikTokOptions | YouTubeOptions | InstagramOptions | VKOptions | TelegramOptions,
    Field(discriminator="platform"),
]


class PublishPost(Event):
    """Order to a publisher: put this post on this account (queue → publisher).

    The content is one of (``kind``): ``media`` (a video), ``images`` (a photo
    post, in order) or ``article`` (its cover, if any, is ``article.cover``).
    ``type`` ``publish_video`` is still read from queues older than post kinds.
    """

    type: Literal["publish_post", "publish_video"] = "publish_post"
    post_id: UUID
    target_id: UUID = Field(description="One (post, account) pair; the unit of publishing.")
    client_id: UUID
    account_id: UUID
    platform: Platform
    attempt: int = Field(ge=1, description="1 for the first dispatch, +1 on each retry.")
    kind: PostKind = "video"
    media: MediaRef | None = Field(default=None, description="The video of a video post.")
    images: tuple[MediaRef, ...] = Field(
        default=(), max_length=35, description="A photo post's images, in order."
    )
    article: Article | None = Field(default=None, description="An article post's content.")
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

    @model_validator(mode="after")
    def _content_matches_kind(self) -> PublishPost:
        has = {"video": self.media is not None, "photo": bool(self.images)}
        has["article"] = self.article is not None
        if not has[self.kind] or any(v for k, v in has.items() if k != self.kind):
            raise ValueError(
                f"{self.kind} posts carry only their own content "
                "(media for video, images for photo, article for article)"
            )
        return self

    @property
    def made_from(self) -> str:
        """What a platform's partial work for this target is made from, as a fingerprint:
        sha256 (hex, 64 characters) of the kind, each file's sha256 in order, the article's
        title and body, and the options. A publisher that keeps partial work between
        attempts (uploaded attachments, media containers) keeps this beside it and starts
        again when a later attempt's differs: the client changed the post after a failure
        (``PATCH /api/v1/posts/{id}`` on a failed target), so the old work is not this post."""
        plain = {
            "kind": self.kind,
            "files": [f.sha256 for f in self.files()],
            "article": [self.article.title, self.article.body_html] if self.article else None,
            "options": self.options.model_dump(mode="json"),
        }
        return hashlib.sha256(json.dumps(plain, sort_keys=True).encode()).hexdigest()

    def video(self) -> MediaRef:
        """The video of a video post; raises ``ValueError`` for another kind."""
        if self.media is None:
            raise ValueError(f"a {self.kind} post has no video")
        return self.media

    def files(self) -> list[MediaRef]:
        """Every file the publisher reads, in order (video; images; article cover)."""
        if self.media is not None:
            return [self.media]
        if self.article is not None:
            return [self.article.cover] if self.article.cover is not None else []
        return list(self.images)

    @property
    def bytes_total(self) -> int:
        """The size of every file the post sends, in bytes (0 for an article without cover)."""
        return sum(f.size for f in self.files())


# --- posts.result.v1 -------------------------------------------------------------------

ResultType = Literal["progress", "published", "failed", "retryable", "unknown"]
"""``unknown``: the publisher cannot tell whether the post went out (its platform's answer was
lost, and the platform has no way to look a post up: ``PlatformSpec.looks_up_posts``); the
queue marks the target ``unconfirmed`` for the client to check, never failed, never sent again
by itself (issue 10)."""


MAX_RETRY_AFTER_S: Final = 7 * 24 * 3600.0
"""The longest wait a platform is taken at its word for (a week; the longest any documents
is a day): a ``Retry-After`` or ``retry_after`` asking for more is read as this, so that no
clock arithmetic overflows (``datetime + timedelta`` raised ``OverflowError`` at 10¹² s and
wedged the queue's result consumer, fresh16); the queue then gives up past its deadline."""


def bounded_wait_s(seconds: float) -> float:
    """``seconds`` within ``[0, MAX_RETRY_AFTER_S]`` (NaN is 0)."""
    if seconds != seconds:  # NaN
        return 0.0
    return min(max(0.0, seconds), MAX_RETRY_AFTER_S)


def whole_second_wait(
    retry_after_s: float, *, now: datetime | None = None
) -> tuple[datetime, float]:
    """``(occurred_at, retry_after_s)`` for a result whose wait ends at the first whole second
    (UTC) at or after ``now + retry_after_s`` (``now``: the clock), both from one reading.

    The queue ends a platform wait at ``occurred_at + retry_after_s`` (``cachalot_queue.states``),
    so an account's commands handed back for one rate-limit window all end at one instant and
    are dispatched together, oldest post first, in their order (fresh16: ended by when each
    result was read, they came back in any order)."""
    start = utcnow() if now is None else now
    wanted = start + timedelta(seconds=bounded_wait_s(retry_after_s))
    ends = wanted.replace(microsecond=0)
    if ends < wanted:
        ends += timedelta(seconds=1)
    return start, (ends - start).total_seconds()


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
    retry_after_s: float | None = Field(
        default=None,
        description="Platform's Retry-After, if any: seconds from occurred_at, read as at most "
        "a week (MAX_RETRY_AFTER_S).",
    )
    reauth_required: bool = Field(
        default=False, description="The account's token is dead: pause until reconnect."
    )
    leased_at: datetime | None = Field(
        default=None,
        description="When this attempt first had its token lease from auth (or a cached lease "
        "its grant verified for), UTC, the publisher's clock: the audit trail's 'leased' step. "
        "None when it had none (auth refused, or it ended before asking) or from an older "
        "publisher.",
    )

    @field_validator("retry_after_s")
    @classmethod
    def _bounded_wait(cls, value: float | None) -> float | None:
        """Any producer's wait within ``[0, MAX_RETRY_AFTER_S]``: read, never refused (a
        refused result would be dead-lettered and its target left waiting)."""
        return None if value is None else bounded_wait_s(value)


# --- posts.status.v1 -------------------------------------------------------------------

TargetStatus = Literal[
    "scheduled",
    "dispatched",
    "publishing",
    "published",
    "failed",
    "cancelled",
    "paused",
    "unconfirmed",
]
"""A target's state. ``unconfirmed``: the attempt may or may not have posted and nobody can
look it up (Telegram has no lookup of sent messages); the client checks the platform, then
marks it published or publishes it again (issue 10). Not a failure: not mailed as one."""


TEXT_START_GRAPHEMES: Final = 60
"""How much of a post's words a status event carries for people (:class:`PostStatusChanged`)."""


class PostStatusChanged(Event):
    """A target changed state, for people (queue → notifier, dashboard feed).

    ``previous == status`` is no transition: progress while publishing (with the bytes), or
    a new time or new settings of a target not yet dispatched (an edit, without bytes),
    announced so that the client's pages open elsewhere read the post again.
    """

    type: Literal["post.status_changed"] = "post.status_changed"
    post_id: UUID
    target_id: UUID
    client_id: UUID
    account_id: UUID
    platform: Platform
    status: TargetStatus
    previous: TargetStatus | None = None
    reason: str | None = None
    code: str | None = Field(
        default=None,
        description="Why, for machines: the result's code (cachalot_publishing.outcome's shared "
        "codes or the platform's own, e.g. rate_limited, outcome_unknown, account_revoked, "
        "spam_risk_too_many_posts), which the dashboard and the notifier word in the client's "
        "language; None when the change has none or from an older queue.",
    )
    remote_url: str | None = None
    attempt: int | None = Field(
        default=None,
        ge=0,
        description="The target's attempt once changed (0 before its first dispatch; a "
        "dispatch raises it). Auth reads it to refuse the publish grants of attempts that are "
        "over. None from a queue older than this field.",
    )
    bytes_sent: int | None = Field(
        default=None,
        ge=0,
        description="Publishing progress: bytes of the post's files sent to the platform so "
        "far (status publishing; a progress event has previous == status == publishing).",
    )
    bytes_total: int | None = Field(
        default=None, ge=0, description="Publishing progress: bytes the platform will get."
    )
    account_name: str | None = Field(
        default=None,
        description="Failed or unconfirmed: the account's name as the client knew it when it "
        "queued the post, so that people are told which account; None when unknown.",
    )
    text_start: str | None = Field(
        default=None,
        description="Failed or unconfirmed: the start of the post's own words (its title or "
        f"caption: the platform registry's text_fields), at most {TEXT_START_GRAPHEMES} "
        "grapheme clusters with '…' when cut (UAX #29); None when it has none.",
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


# --- notify.v1: a client's answer to an operator's proposal (queue → notifier) ---------

ProposalAnswer = Literal["approved", "changes_requested"]


class ProposalAnswered(Event):
    """A client answered an operator's proposal (queue → notifier on ``notify.v1``, key
    the client's id, via the queue's outbox); the notifier tells the operator on Telegram
    (issue 13 item 2).

    ``approved``: the approval queued post ``post_id`` for ``scheduled_at`` on
    ``platforms``; ``changes_requested``: the client's ``comment`` says what to change
    (its words as typed: the notifier shows invisible characters as codes).
    """

    type: Literal["proposal.answered"] = "proposal.answered"
    answer: ProposalAnswer
    client_id: UUID
    operator_id: UUID = Field(description="Who delivered it.")
    delivery_id: UUID
    proposal_id: UUID
    comment: str | None = Field(default=None, max_length=2000)
    post_id: UUID | None = Field(default=None, description="approved: the post it queued.")
    scheduled_at: datetime | None = Field(default=None, description="approved: when it posts.")
    platforms: list[str] = Field(
        default_factory=list, max_length=16, description="approved: where it posts."
    )


# --- proposals.v1: a proposal made or changed (queue → the live feeds) ------------------

ProposalChange = Literal["proposed", "edited", "approved", "changes_requested", "superseded"]
ProposalStatus = Literal["proposed", "changes_requested", "approved", "superseded"]


class ProposalChanged(Event):
    """An operator's proposal was made or changed (queue → the queue's live feeds on
    ``proposals.v1``, key the client's id, via the outbox in the change's transaction).

    The client's dashboard (``GET /api/v1/events``, the client's own proposals) and the
    operator's page (``GET /api/v1/operator/events``, every client's) read their proposal
    lists again when one comes (issue 13). ``change``: what happened (``proposed`` by the
    operator, ``edited``/``approved``/``changes_requested`` by the client, ``superseded``
    by the operator's new proposal); ``status``: where the proposal stands after it.
    Ids only: no texts or comments (the pages read them with the session that may see them).
    """

    type: Literal["proposal.changed"] = "proposal.changed"
    change: ProposalChange
    status: ProposalStatus
    client_id: UUID
    operator_id: UUID = Field(description="Who delivered it.")
    delivery_id: UUID
    proposal_id: UUID
    post_id: UUID | None = Field(default=None, description="approved: the post it queued.")


# --- notify.v1: notices to a client (auth → notifier) ---------------------------------

ClientNoticeKind = Literal["policy_changed"]


class ClientNoticeRequested(Event):
    """Tell one client something by e-mail (auth → notifier on ``notify.v1``, key client id).

    Carries the client's id, never its address: the notifier looks the address
    up from auth when it sends (``GET /internal/v1/clients/{id}/contact``), so
    the address stays in auth's database and out of Kafka, logs and traces.
    ``policy_changed``: the operator published privacy-policy version
    ``policy_version``; the notifier sends it once per (version, client)
    whatever the redeliveries, and it is sent even to a client who switched
    notices off (it is a legal notice, not a notification).
    """

    type: Literal["client_notice.requested"] = "client_notice.requested"
    client_id: UUID
    notice: ClientNoticeKind
    policy_version: str = Field(min_length=1, max_length=64)
    policy_url: str | None = Field(default=None, max_length=500)
    policy_summary: str | None = Field(
        default=None, max_length=500, description="What changed, in the operator's words."
    )
