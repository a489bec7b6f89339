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
``CACHALOT_TELEGRAM_BACKOFF_INITIAL_S`` / ``_BACKOFF_MAX_S``
    Backoff between tries of a send after a network error, a timeout or a
    5xx (the background sender tries again forever; the row is durable).
    A 429 waits Telegram's ``retry_after`` in full, whatever its length.
``CACHALOT_TELEGRAM_MISCONFIGURED_PAUSE_S`` (default 30)
    How long a lane waits after Telegram refused the bot or the chat (401,
    403, 404, chat not found) before trying again; the message is kept.
``CACHALOT_TELEGRAM_RETRY_AFTER_SCALE`` (default 1; tests only)
    Multiplies Telegram's ``retry_after`` so a test can use the platform's
    real numbers (330 s) with a short real wait; refused in production
    unless 1.
``CACHALOT_DATABASE_URL`` (default ``sqlite+aiosqlite:///./var/notifier.db``)
    The deliveries table (claimed, pending and sent notifications).
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
    telegram_backoff_initial_s: float = Field(default=0.5, ge=0)
    telegram_backoff_max_s: float = Field(default=30.0, ge=0)
    telegram_misconfigured_pause_s: float = Field(default=30.0, ge=0)
    telegram_retry_after_scale: float = Field(default=1.0, gt=0, le=1)
    smtp_host: str | None = None

    @field_validator("telegram_retry_after_scale")
    @classmethod
    def _scale(cls, value: float, info: ValidationInfo) -> float:
        if value != 1.0 and info.data.get("environment", "development") == "production":
            raise ValueError("must be 1 in production: Telegram's retry_after is honoured in full")
        return value

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
