"""Settings of publisher-tiktok (``CACHALOT_*``), validated at start.

The runtime's own knobs (concurrency, in-process waits, buffering, commits,
progress, the media store, the lease endpoint) come from
:class:`cachalot_publishing.settings.PublisherSettings`.
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from cachalot_publishing.settings import PublisherSettings

MIN_CHUNK = 5 * 1024 * 1024
MAX_CHUNK = 64_000_000


class Settings(PublisherSettings):
    http_port: int = Field(default=8105, ge=0, le=65535)

    service_name: str = "publisher-tiktok"
    service_secret: SecretStr = SecretStr("dev-publisher-tiktok-secret")

    tiktok_api_base: str = "https://open.tiktokapis.com"
    tiktok_chunk_size: int = Field(
        default=32_000_000,
        ge=MIN_CHUNK,
        le=MAX_CHUNK,
        description=(
            "Bytes per chunk; 5 MiB..64,000,000 satisfies both readings of 'MB'. Larger "
            "chunks mean fewer requests; a failed chunk is sent again whole."
        ),
    )
    tiktok_read_bytes: int = Field(default=1024 * 1024, ge=16 * 1024, description="Bytes per read.")
    tiktok_chunk_retries: int = Field(default=3, ge=0, le=10)
    tiktok_status_poll_s: float = Field(default=2.0, gt=0)
    tiktok_status_timeout_s: float = Field(default=600.0, gt=0)
    tiktok_request_timeout_s: float = Field(default=60.0, gt=0)
    # TikTok's per-token, per-minute limits; kept client-side too.
    tiktok_creator_info_per_minute: int = Field(default=20, ge=1)
    tiktok_init_per_minute: int = Field(default=6, ge=1)
    tiktok_status_per_minute: int = Field(default=30, ge=1)
    tiktok_creator_info_ttl_s: float = Field(
        default=30.0,
        ge=0,
        description=(
            "Seconds a creator_info answer is kept per account (0: ask before every post); "
            "a kept answer that refuses a post, or an init failing after one, is asked again."
        ),
    )
