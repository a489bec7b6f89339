"""Settings every publisher shares (``CACHALOT_*``); a platform's settings class extends them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, model_validator

from cachalot_common.leases import MAX_CONFIRM_BATCH
from cachalot_common.settings import (
    GrantVerifierSettings,
    KafkaSettings,
    ServiceSettings,
    require_real_secret,
)


class PublisherSettings(ServiceSettings, GrantVerifierSettings, KafkaSettings):
    """The runtime's knobs, the publisher's own database, the media store and the lease
    endpoint. A platform's class sets its ``http_port``, ``service_name`` and
    ``service_secret`` defaults and adds its own ``<platform>_*`` settings."""

    media_dir: Path = Path("./var/media")
    auth_url: str = "http://127.0.0.1:8103"
    service_name: str = Field(
        default="publisher", description="This publisher's service identity for auth's leases."
    )
    database_url: str = Field(
        default="",
        description=(
            "This publisher's own database (SQLAlchemy async URL: its record of what went up "
            "for each target); empty: SQLite at ./var/<service_name>.db."
        ),
    )
    auto_migrate: bool = Field(default=True, description="Migrate the database to head at start.")
    service_secret: SecretStr = SecretStr("dev-publisher-secret")
    publish_concurrency: int = Field(
        default=32, ge=1, le=1024, description="Publishes in flight at once in one process."
    )
    publish_max_inline_wait_s: float = Field(
        default=10.0,
        ge=0,
        description=(
            "Longest wait (rate limit, Retry-After, processing poll) slept in process; a longer "
            "one goes back to the queue as retryable with retry_after_s."
        ),
    )
    publish_max_buffered: int = Field(
        default=1000,
        ge=1,
        description=(
            "Commands received and not finished before fetching pauses (resumes at half); "
            "one fetch (publish_fetch_max_records) may go past it."
        ),
    )
    publish_fetch_max_records: int = Field(
        default=200,
        ge=1,
        le=10_000,
        description=(
            "Commands taken from Kafka per fetch (one handler call for the batch); the "
            "buffer limit may be passed by at most one fetch."
        ),
    )
    publish_confirm_batch_max: int = Field(
        default=50,
        ge=1,
        le=MAX_CONFIRM_BATCH,
        description=(
            "Most lease confirmations (auth's check before a post's visible step) in one "
            "request to auth. One request is out at a time; confirmations asked meanwhile go "
            "in the next, so each is still auth's check made after its command asked "
            "(cachalot_publishing.token)."
        ),
    )
    publish_confirm_gather_s: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description=(
            "Seconds a lease confirmation request waits for more to go with it (0: it "
            "goes at once). The wait comes before auth's check, never between the check "
            "and the post's visible step."
        ),
    )
    publish_commit_interval_s: float = Field(
        default=0.25, gt=0, le=5, description="How often finished offsets are committed."
    )
    publish_progress_interval_s: float = Field(
        default=1.0, ge=0, description="At most one progress result per command per interval."
    )

    @model_validator(mode="before")
    @classmethod
    def _database_of_the_service(cls, data: Any) -> Any:
        """No ``database_url`` given: the service's own SQLite file (development)."""
        if isinstance(data, dict) and not data.get("database_url"):
            service = data.get("service_name") or cls.model_fields["service_name"].default
            return {**data, "database_url": f"sqlite+aiosqlite:///./var/{service}.db"}
        return data

    @model_validator(mode="after")
    def _real_secret(self) -> PublisherSettings:
        require_real_secret(self.environment, "CACHALOT_SERVICE_SECRET", self.service_secret)
        return self
