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
``CACHALOT_SMTP_HOST`` (default unset: no e-mail to clients)
    The SMTP server that carries e-mail to clients (failed posts, accounts
    to reconnect, privacy-policy versions). Unset: those notices are not
    recorded, and ``notify.v1`` e-mail requests are logged as "not configured".
``CACHALOT_SMTP_PORT`` (default 587), ``CACHALOT_SMTP_STARTTLS`` (default true)
    Submission port with STARTTLS (RFC 6409, RFC 3207); ``false`` for a local
    relay or the embedded sink.
``CACHALOT_SMTP_USERNAME`` / ``CACHALOT_SMTP_PASSWORD`` (secret)
    SMTP AUTH, when the relay asks for it (both or neither).
``CACHALOT_SMTP_FROM`` (required with a host)
    The ``From`` of every mail, e.g. ``CACHALOT <notices@example.com>``.
``CACHALOT_SMTP_TIMEOUT_S``, ``..._BACKOFF_INITIAL_S``, ``..._BACKOFF_MAX_S``
    A 4xx reply, a dropped connection or a timeout is retried with
    exponential backoff (RFC 5321 §4.2.1: 4yz is transient); a 5xx is
    recorded as failed for good.
``CACHALOT_AUTH_URL``, ``CACHALOT_SERVICE_NAME``, ``CACHALOT_SERVICE_SECRET`` (secret)
    Where the notifier looks up a client's address and language at send
    time (auth's internal API, with a service JWT). Required with a host.
``CACHALOT_PUBLIC_URL``
    The base of the one-click unsubscribe link (RFC 8058).
``CACHALOT_SESSION_SECRET`` (secret; required with a host)
    The unsubscribe links are signed with a key derived from it (HMAC-SHA256
    with its own purpose label, so a link is never a session).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator

from cachalot_common.settings import KafkaSettings, ServiceSettings, require_real_secret

DEFAULT_TELEGRAM_API_BASE = "https://api.telegram.org"
_BOT_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_CHAT_ID = re.compile(r"^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31})$")


class NotifierSettings(ServiceSettings, KafkaSettings):
    """Configuration of ``cachalot-notifier``."""

    http_port: int = Field(default=8102, ge=0, le=65535)
    database_url: str = "sqlite+aiosqlite:///./var/notifier.db"
    auto_migrate: bool = Field(default=True, description="Run migrations at start-up.")
    consumer_group: str = Field(default="notifier", description="Kafka consumer group id.")
    telegram_bot_token: SecretStr = Field(description="Bot API token (secret).")
    operator_chat_id: str = Field(description="Operator's chat: numeric id or @channel.")
    trace_url_template: str | None = Field(
        default=None,
        description="A trace's page in the tracing UI, {trace_id} standing for its W3C id "
        "(the queue's setting of the same name): the operator's message about a failed post "
        "links the post's trace there; unset: no link.",
        pattern=r"^$|\{trace_id\}",  # empty: no link
    )
    telegram_api_base: str = DEFAULT_TELEGRAM_API_BASE
    telegram_parse_mode: Literal["HTML", "MarkdownV2"] = "HTML"
    telegram_timeout_s: float = Field(default=10.0, gt=0)
    telegram_backoff_initial_s: float = Field(default=0.5, ge=0)
    telegram_backoff_max_s: float = Field(default=30.0, ge=0)
    telegram_misconfigured_pause_s: float = Field(default=30.0, ge=0)
    telegram_retry_after_scale: float = Field(default=1.0, gt=0, le=1)
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = True
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str | None = None
    smtp_timeout_s: float = Field(default=30.0, gt=0)
    smtp_backoff_initial_s: float = Field(default=5.0, ge=0)
    smtp_backoff_max_s: float = Field(default=900.0, ge=0)
    auth_url: str = "http://127.0.0.1:8103"
    service_name: str = "notifier"
    service_secret: SecretStr | None = None
    session_secret: SecretStr | None = None

    @field_validator(
        "smtp_host",
        "smtp_username",
        "smtp_from",
        "smtp_password",
        "service_secret",
        "session_secret",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # compose passes an unset variable as ""
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _email_complete(self) -> NotifierSettings:
        if self.smtp_host is None:
            return self
        missing = [
            name
            for name, value in (
                ("CACHALOT_SMTP_FROM", self.smtp_from),
                ("CACHALOT_SERVICE_SECRET", self.service_secret),
                ("CACHALOT_SESSION_SECRET", self.session_secret),
            )
            if not value
        ]
        if missing:
            raise ValueError(f"e-mail (CACHALOT_SMTP_HOST) also needs {', '.join(missing)}")
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError("CACHALOT_SMTP_USERNAME and CACHALOT_SMTP_PASSWORD go together")
        return self

    @property
    def email_enabled(self) -> bool:
        """Whether e-mail to clients is configured (``CACHALOT_SMTP_HOST`` set)."""
        return self.smtp_host is not None

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
