"""The queue's settings: the only place that reads the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator

from cachalot_common import platforms
from cachalot_common.grants import (
    DEV_GRANT_SIGNING_KEY,
    GrantSigningKey,
    parse_signing_key,
    require_real_grant_key,
)
from cachalot_common.settings import KafkaSettings, ServiceSettings, require_real_secret


class QueueSettings(ServiceSettings, KafkaSettings):
    """Everything the queue needs; every field is a ``CACHALOT_<NAME>`` variable."""

    http_port: int = Field(default=8104, ge=0, le=65535)
    database_url: str = "sqlite+aiosqlite:///./var/queue.db"
    auto_migrate: bool = Field(default=True, description="Run Alembic migrations at start.")
    session_secret: SecretStr = Field(description="Verifies the client session cookie.")
    media_dir: Path = Path("./var/media")
    max_media_bytes: int = Field(default=4 * 1024**3, ge=1, description="Upload size cap.")
    max_image_bytes: int = Field(
        default_factory=platforms.largest_image_bytes,
        ge=1,
        description="Size cap of an uploaded image (JPEG, PNG): by default the largest image any "
        "platform takes (VK's 50 MB; each target's own limit, e.g. Instagram's 8 MB, TikTok's "
        "20 MB, is checked when the post is queued, naming the image); the smaller of this and "
        "max_media_bytes applies.",
    )
    media_quota_bytes: int = Field(
        default=20 * 1024**3,
        ge=1,
        description="Media one client may keep, stored and uploading together; over it → 413.",
    )
    media_disk_reserve_bytes: int = Field(
        default=2 * 1024**3,
        ge=0,
        description="Free space an upload must leave on the media volume; short of it → 507.",
    )
    media_retention_days: float | None = Field(
        default=30.0,
        gt=0,
        description="A file whose posts have all been finished (published, cancelled or "
        "failed) this many days is deleted (the privacy policy's promise); unset: kept until "
        "the client deletes it.",
    )
    operator_upload_orphan_hours: float | None = Field(
        default=24.0,
        gt=0,
        description="A file an operator uploaded into a client's library that no post and "
        "no delivery names after this many hours is deleted (a delivery never made: a later "
        "upload failed or the tab was closed); unset: kept until the client deletes it.",
    )
    audit_retention_days: float | None = Field(
        default=400.0,
        gt=0,
        description="Audit trail entries (who delivered, proposed, edited, approved, leased, "
        "published) older than this many days are deleted, except those of a post still in "
        "progress or of a proposal changed within the period (400: over a year of proof of "
        "who approved what); unset: kept until the client erases its data.",
    )
    media_partial_grace_s: float = Field(
        default=60.0,
        ge=0,
        description="A partial upload untouched this long, written by no upload of this "
        "process, was left by a stopped queue: removed at start and by the sweeper.",
    )
    consumer_group: str = Field(default="queue", description="Kafka consumer group id.")
    run_workers: bool = Field(
        default=True, description="Run scheduler, reconciler and outbox relay in this process."
    )
    max_attempts: int = Field(default=5, ge=1, description="Dispatches per run before failing.")
    backoff_base_s: float = Field(default=5.0, gt=0, description="First retry delay.")
    backoff_max_s: float = Field(default=1800.0, gt=0, description="Longest retry delay.")
    platform_wait_deadline_s: float = Field(
        default=86400.0,
        gt=0,
        description="Waits a platform asks for (429, retry_after) use no attempt; they may go "
        "on this long (seconds) after the first attempt, then the target fails.",
    )
    reconcile_after_s: float = Field(
        default=900.0,
        gt=0,
        description="A dispatched/publishing target silent this long is checked.",
    )
    max_reconciles: int = Field(default=3, ge=1, description="Checks before giving up on a target.")
    scheduler_max_sleep_s: float = Field(default=0.2, gt=0, le=5)
    dispatch_batch: int = Field(default=200, ge=1, le=5000)
    metrics_interval_s: float = Field(
        default=15.0, gt=0, description="How often the queue's depth is counted for /metrics."
    )
    service_name: str = Field(
        default="queue", description="Signs publish grants as this service (auth's issuer)."
    )
    grant_signing_key: SecretStr = Field(
        default=SecretStr(DEV_GRANT_SIGNING_KEY),
        description="'<kid>:<base64 Ed25519 private key>' (or '<kid>:<PEM>'): signs the "
        "publish grant of every command; auth and publishers hold its public key in "
        "CACHALOT_GRANT_PUBLIC_KEYS. Make a pair: python -m cachalot_common.grants keygen. "
        "The default is a published development key, refused in production.",
    )
    grant_lifetime_s: float = Field(
        default=6 * 3600.0,
        ge=60,
        description="How long a command's publish grant can lease tokens (a long upload); "
        "past it the publisher reports retryable and the next dispatch brings a fresh one.",
    )
    media_url_ttl_s: float = Field(
        default=24 * 3600.0,
        ge=60,
        description="How long a signed media link (for platforms that fetch media, such as "
        "Instagram) works after dispatch; longer than the platform's processing.",
    )
    media_cover_url_ttl_s: float = Field(
        default=365 * 24 * 3600.0,
        ge=60,
        description="How long the signed link to an article's cover works: Telegram articles "
        "published as Telegraph pages show the cover from it (Telegraph takes images by URL "
        "only). Deleting the media or erasing its client ends it at once.",
    )
    media_link_key: SecretStr | None = Field(
        default=None,
        description="Signs media links (HMAC-SHA256, at least 32 bytes). Unset: derived from "
        "CACHALOT_SESSION_SECRET. Links are made only when CACHALOT_PUBLIC_URL is set.",
    )
    trace_url_template: str | None = Field(
        default=None,
        description="A trace's page in the tracing UI, {trace_id} standing for its W3C id: "
        "http://127.0.0.1:16686/trace/{trace_id} (Jaeger), "
        "http://127.0.0.1:6006/redirects/traces/{trace_id} (Phoenix, `make dev TRACES=1`). "
        "The operator console links each target's trace there; unset: no links.",
        pattern=r"^$|\{trace_id\}",  # empty: no links
    )
    telegram_local_bot_api: bool = Field(
        default=False,
        description="Telegram videos are checked against a local Bot API server's 2000 MB, "
        "not the cloud's 50 MB; publisher-telegram's value (the post checks read this "
        "variable: cachalot_common.platforms.telegram.local_bot_api).",
    )
    dlq_read_timeout_s: float = Field(
        default=5.0, gt=0, le=60, description="How long the operator's DLQ read may take."
    )
    schedule_grace_s: float = Field(
        default=30.0, ge=0, description="scheduled_at this far in the past is taken as now."
    )
    account_catch_up_s: float = Field(
        default=3.0,
        ge=0,
        le=30,
        description="How long a request waits for auth's accounts.v1 event before it is "
        "refused for an account the queue does not know yet, or does not see connected "
        "yet (read-your-writes: a client who links a channel or connects an account in "
        "auth and queues at once is not refused by the queue's lagging copy).",
    )
    live_heartbeat_s: float = Field(
        default=15.0,
        gt=0,
        le=50,
        description="The live feed (GET /api/v1/events) writes at least this often, so "
        "proxies keep the stream open (below the gateways' 60 s read timeouts).",
    )
    live_buffer_events: int = Field(
        default=20_000,
        ge=1,
        description="Recent posts.status.v1 and accounts.v1 records each replica keeps to "
        "replay after a reconnect (Last-Event-ID); an older gap makes the page reload.",
    )
    live_backfill_per_partition: int = Field(
        default=500,
        ge=0,
        description="Records per partition a starting replica reads back, so it can resume "
        "streams another replica was serving (at most live_buffer_events divided by the "
        "fed topics' partitions: the ring keeps them all).",
    )

    @field_validator("grant_signing_key")
    @classmethod
    def _grant_key_parses(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        key = parse_signing_key(value.get_secret_value())
        require_real_grant_key(str(info.data.get("environment", "production")), key)
        return value

    @field_validator("media_link_key")
    @classmethod
    def _link_key_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < 32:
            raise ValueError("must be at least 32 bytes")
        return value

    @model_validator(mode="after")
    def _real_secret_in_production(self) -> QueueSettings:
        require_real_secret(self.environment, "CACHALOT_SESSION_SECRET", self.session_secret)
        return self

    def media_link_key_bytes(self) -> bytes:
        """The media link key: ``CACHALOT_MEDIA_LINK_KEY`` or one derived from the session
        secret (:func:`cachalot_queue.media_links.derive_key`)."""
        from cachalot_queue.media_links import derive_key

        if self.media_link_key is not None:
            return self.media_link_key.get_secret_value().encode()
        return derive_key(self.session_secret.get_secret_value())

    def grant_key(self) -> GrantSigningKey:
        """The parsed ``CACHALOT_GRANT_SIGNING_KEY`` (checked at start)."""
        return parse_signing_key(self.grant_signing_key.get_secret_value())
