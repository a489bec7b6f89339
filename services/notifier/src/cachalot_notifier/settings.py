"""Settings of the notifier (only this class reads the environment).

``CACHALOT_TELEGRAM_BOT_TOKEN`` (required, secret)
    The bot that writes to the operator. It travels in the Bot API's URL
    path, so it is registered for redaction at start.
``CACHALOT_OPERATOR_CHAT_ID`` (required)
    Where operator messages go: a numeric chat id or a ``@channelusername``.
``CACHALOT_TELEGRAM_API_BASE`` (default ``https://api.telegram.org``)
    The Bot API host; the sandbox is ``http://127.0.0.1:8090/telegram``.
``CACHALOT_TELEGRAM_PARSE_MODE`` (default ``HTML``)
    ``HTML`` or ``MarkdownV2``; submitters' text is escaped for either.
``CACHALOT_TELEGRAM_MAX_ATTEMPTS`` / ``_BACKOFF_INITIAL_S`` / ``_BACKOFF_MAX_S``
    Retries of one send (network errors, 5xx, 429) inside one delivery of
    the event; when they run out the event is redelivered by Kafka.
``CACHALOT_TELEGRAM_MAX_RETRY_AFTER_S`` (default 300)
    The longest 429 ``retry_after`` waited for in-process.
``CACHALOT_DATABASE_URL`` (default ``sqlite+aiosqlite:///./var/notifier.db``)
    The dedupe table (ids of notifications already sent).
``CACHALOT_SMTP_HOST`` (default unset)
    Email is not wired yet: ``notify.v1`` email requests are logged as
    "not configured" and acknowledged.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from cachalot_common.settings import KafkaSettings, ServiceSettings, require_real_secret

DEFAULT_TELEGRAM_API_BASE = "https://api.telegram.org"
_BOT_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_CHAT_ID = re.compile(r"^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31})$")


class NotifierSettings(ServiceSettings, KafkaSettings):
    """Configuration of ``cachalot-notifier``."""

    http_port: int = Field(default=8102, ge=0, le=65535)
    database_url: str = "sqlite+aiosqlite:///./var/notifier.db"
    auto_migrate: bool = Field(default=True, description="Run migrations at start-up.")
    telegram_bot_token: SecretStr = Field(description="Bot API token (secret).")
    operator_chat_id: str = Field(description="Operator's chat: numeric id or @channel.")
    telegram_api_base: str = DEFAULT_TELEGRAM_API_BASE
    telegram_parse_mode: Literal["HTML", "MarkdownV2"] = "HTML"
    telegram_timeout_s: float = Field(default=10.0, gt=0)
    telegram_max_attempts: int = Field(default=6, ge=1, le=100)
    telegram_backoff_initial_s: float = Field(default=0.5, ge=0)
    telegram_backoff_max_s: float = Field(default=30.0, ge=0)
    telegram_max_retry_after_s: float = Field(default=300.0, ge=0)
    smtp_host: str | None = None

    @field_validator("operator_chat_id")
    @classmethod
    def _chat_id(cls, value: str) -> str:
        value = value.strip()
        if not _CHAT_ID.match(value):
            raise ValueError("must be a numeric chat id or a @channelusername")
        return value

    @field_validator("telegram_api_base")
    @classmethod
    def _base(cls, value: str) -> str:
        if not value.strip():  # compose passes an unset variable as ""
            return DEFAULT_TELEGRAM_API_BASE
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("telegram_bot_token")
    @classmethod
    def _token(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        if not _BOT_TOKEN.match(value.get_secret_value()):
            raise ValueError("must look like <bot id>:<secret> (as BotFather gives it)")
        environment = info.data.get("environment", "development")
        secret = value.get_secret_value().split(":", 1)[1]
        require_real_secret(environment, "CACHALOT_TELEGRAM_BOT_TOKEN", SecretStr(secret))
        if environment == "production" and "sandbox" in secret.lower():
            raise ValueError("the sandbox's bot token cannot be used in production")
        return value
