"""Settings of publisher-youtube (environment prefix ``CACHALOT_``), validated at start.

The runtime's own knobs (concurrency, in-process waits, buffering, commits,
progress, the media store, the lease endpoint, ``max.poll.interval``) come
from :class:`cachalot_publishing.settings.PublisherSettings`.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from cachalot_publishing.settings import PublisherSettings

CHUNK_GRANULARITY = 256 * 1024


class Settings(PublisherSettings):
    http_port: int = Field(default=8106, ge=0, le=65535)
    service_name: str = "publisher-youtube"
    service_secret: SecretStr = Field(
        default=SecretStr("dev-publisher-youtube-secret"),
        description="This service's credential for auth's lease endpoint.",
    )
    youtube_api_base: str = "https://www.googleapis.com"
    youtube_chunk_bytes: int = Field(
        default=32 * 1024 * 1024,
        ge=CHUNK_GRANULARITY,
        description="Bytes per PUT; a multiple of 256 KiB, as Google requires. Streamed, "
        "so a larger chunk costs no memory, only bytes to resend after a drop.",
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

    @field_validator("youtube_chunk_bytes")
    @classmethod
    def _chunk_multiple(cls, value: int) -> int:
        if value % CHUNK_GRANULARITY:
            raise ValueError(f"must be a multiple of {CHUNK_GRANULARITY} (256 KiB)")
        return value
