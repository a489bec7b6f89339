"""The one settings class of publisher-youtube (environment prefix ``CACHALOT_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator

from cachalot_common.settings import KafkaSettings, ServiceSettings, require_real_secret

CHUNK_GRANULARITY = 256 * 1024


class Settings(ServiceSettings, KafkaSettings):
    http_port: int = Field(default=8106, ge=0, le=65535)
    service_name: str = "publisher-youtube"
    service_secret: SecretStr = Field(
        default=SecretStr("dev-publisher-youtube-secret"),
        description="This service's credential for auth's lease endpoint.",
    )
    auth_url: str = Field(default="http://127.0.0.1:8103", description="The auth service.")
    youtube_api_base: str = "https://www.googleapis.com"
    media_dir: Path = Path("./var/media")
    database_url: str = "sqlite+aiosqlite:///./var/publisher-youtube.db"
    auto_migrate: bool = True
    youtube_chunk_bytes: int = Field(
        default=32 * 1024 * 1024,
        ge=CHUNK_GRANULARITY,
        description="Bytes per PUT; a multiple of 256 KiB, as Google requires. Streamed, "
        "so a larger chunk costs no memory, only bytes to resend after a drop.",
    )
    youtube_progress_every_s: float = Field(
        default=1.0, ge=0, description="Least time between two progress results."
    )
    youtube_read_bytes: int = Field(
        default=4 * 1024 * 1024, ge=16 * 1024, description="File read size while streaming a chunk."
    )
    youtube_request_timeout_s: float = Field(default=120.0, gt=0)
    youtube_attempts: int = Field(
        default=6, ge=1, description="Tries per delivery for network errors, 5xx and 429."
    )
    youtube_backoff_initial_s: float = Field(default=1.0, ge=0)
    youtube_backoff_max_s: float = Field(default=30.0, ge=0)
    youtube_max_inline_wait_s: float = Field(
        default=60.0,
        ge=0,
        description="A Retry-After longer than this goes back to the queue instead.",
    )
    kafka_max_poll_interval_s: int = Field(
        default=1800, ge=60, description="Longest upload before the group gives the work away."
    )

    @field_validator("youtube_chunk_bytes")
    @classmethod
    def _chunk_multiple(cls, value: int) -> int:
        if value % CHUNK_GRANULARITY:
            raise ValueError(f"must be a multiple of {CHUNK_GRANULARITY} (256 KiB)")
        return value

    @model_validator(mode="after")
    def _real_secret(self) -> Settings:
        require_real_secret(self.environment, "CACHALOT_SERVICE_SECRET", self.service_secret)
        return self
