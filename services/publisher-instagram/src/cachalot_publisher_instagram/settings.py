"""Settings of publisher-instagram (environment prefix ``CACHALOT_``), validated at start.

The runtime's own knobs (concurrency, in-process waits, buffering, commits,
progress, the media store, the lease endpoint, ``max.poll.interval``) come
from :class:`cachalot_publishing.settings.PublisherSettings`.
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from cachalot_publishing.settings import PublisherSettings


class Settings(PublisherSettings):
    http_port: int = Field(default=8107, ge=0, le=65535)
    service_name: str = "publisher-instagram"
    service_secret: SecretStr = Field(
        default=SecretStr("dev-publisher-instagram-secret"),
        description="This service's credential for auth's lease endpoint.",
    )
    instagram_api_base: str = "https://graph.instagram.com"
    instagram_request_timeout_s: float = Field(default=60.0, gt=0)
    instagram_poll_interval_s: float = Field(
        default=5.0,
        gt=0,
        description="Seconds between reads of a container's status_code (the slot is freed "
        "while waiting); Meta suggests about once a minute for up to five minutes.",
    )
    instagram_poll_max_s: float = Field(
        default=120.0,
        gt=0,
        description="Polling in one delivery before the command goes back to the queue as "
        "retryable (the container id is kept, so the next delivery polls it again).",
    )
    instagram_quota_retry_s: float = Field(
        default=3600.0,
        gt=0,
        description="The wait when the publishing quota is used up by posts this service did "
        "not make (it cannot know when those leave the rolling window).",
    )
