"""Settings of publisher-telegram (environment prefix ``CACHALOT_``), validated at start.

The runtime's own knobs come from
:class:`cachalot_publishing.settings.PublisherSettings`. The bot is ours:
``CACHALOT_TELEGRAM_BOT_TOKEN`` is the same setting auth (the Login Widget,
channel linking) and the notifier read.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from cachalot_publishing.settings import PublisherSettings


class Settings(PublisherSettings):
    http_port: int = Field(default=8108, ge=0, le=65535)
    service_name: str = "publisher-telegram"
    service_secret: SecretStr = Field(
        default=SecretStr("dev-publisher-telegram-secret"),
        description="This service's credential for auth's internal endpoints.",
    )
    telegram_bot_token: SecretStr = Field(description="Our bot's Bot API token (secret).")
    telegram_bot_username: str = Field(
        default="", description="Our bot's @username (without @), named in reasons people read."
    )
    telegram_api_base: str = "https://api.telegram.org"
    telegram_local_bot_api: bool = Field(
        default=False,
        description="TELEGRAM_API_BASE is a local Bot API server (files up to 2000 MB, not 50); "
        "the queue reads the same variable for its checks.",
    )
    telegraph_api_base: str = "https://api.telegra.ph"
    telegraph_access_token: SecretStr = Field(
        default=SecretStr(""),
        description="The project's Telegraph account (createAccount once: `python -m "
        "cachalot_publisher_telegram telegraph-account`); empty: one is made per process.",
    )
    telegraph_author_name: str = Field(default="", max_length=128)
    telegram_read_bytes: int = Field(
        default=1024 * 1024, ge=16 * 1024, description="File read size while streaming an upload."
    )
    telegram_request_timeout_s: float = Field(default=300.0, gt=0)
    telegram_attempts: int = Field(
        default=5, ge=1, description="Calls per delivery: 429 waits and chat migrations."
    )
    telegram_person_check_s: float = Field(
        default=60.0,
        ge=0,
        description="Seconds a getChatMember 'the person who linked the channel may post "
        "there' is kept per channel and person (0: asked before every post).",
    )

    @field_validator("telegram_bot_token")
    @classmethod
    def _token_given(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("CACHALOT_TELEGRAM_BOT_TOKEN is required (our bot posts)")
        return value
