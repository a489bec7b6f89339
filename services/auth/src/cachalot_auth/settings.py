"""Auth settings: one typed class, the only reader of the environment."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from cachalot_common.crypto import KeyRing, KeyRingError
from cachalot_common.settings import (
    GrantVerifierSettings,
    KafkaSettings,
    OperatorSettings,
    ServiceSettings,
    require_real_secret,
)


class AuthSettings(ServiceSettings, GrantVerifierSettings, KafkaSettings, OperatorSettings):
    """Everything the auth service reads from ``CACHALOT_*`` variables."""

    http_port: int = Field(default=8103, ge=0, le=65535)
    service_name: str = "auth"
    database_url: str = "sqlite+aiosqlite:///./var/auth.db"
    auto_migrate: bool = True

    # custody and credentials
    token_keys: SecretStr = Field(description="Key ring 'v2:<b64>,v1:<b64>', newest first.")
    session_secret: SecretStr
    session_lifetime_s: int = Field(default=14 * 86400, ge=60)
    cookie_secure: bool = True
    service_credentials: SecretStr = Field(
        default=SecretStr("{}"), description='JSON {"publisher-tiktok": "<secret>", ...}'
    )
    # where the browser comes back to
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Origin the browser sees (gateway); callback URLs are built on it.",
    )
    dashboard_path: str = "/"
    queue_url: str = Field(
        default="http://127.0.0.1:8104",
        description="The queue, whose part of a client's data export auth gathers.",
    )
    oauth_state_ttl_s: int = 600
    grant_lifetime_s: float = Field(
        default=6 * 3600.0,
        ge=60,
        description="Seconds a publish grant lives (the queue's CACHALOT_GRANT_LIFETIME_S, same "
        "variable): how long auth remembers that a target's attempt is over.",
    )
    auth_rate_limit: str = Field(default="30/minute", description="Per client IP, login+callback.")

    # refresh
    refresh_margin_s: int = Field(default=300, ge=0)
    long_lived_refresh_before_s: int = Field(
        default=30 * 86400, description="Refresh Instagram's 60-day tokens when less remains."
    )
    background_refresh_interval_s: float = 3600.0
    outbox_poll_interval_s: float = 1.0
    refresh_attempts: int = Field(default=4, ge=1)
    refresh_backoff_s: float = 0.2
    http_timeout_s: float = 15.0

    # platforms (hosts are settings; paths are the platform's own)
    tiktok_client_key: str = ""
    tiktok_client_secret: SecretStr = SecretStr("")
    tiktok_pkce_encoding: Literal["hex", "base64url"] = "hex"
    tiktok_auth_base: str = "https://www.tiktok.com"
    tiktok_api_base: str = "https://open.tiktokapis.com"
    google_client_id: str = ""
    google_client_secret: SecretStr = SecretStr("")
    google_auth_base: str = "https://accounts.google.com"
    google_token_base: str = "https://oauth2.googleapis.com"
    youtube_api_base: str = "https://www.googleapis.com"
    instagram_client_id: str = ""
    instagram_client_secret: SecretStr = SecretStr("")
    instagram_auth_base: str = "https://www.instagram.com"
    instagram_token_base: str | None = Field(
        default=None,
        description="api.instagram.com (code exchange); unset = the auth base's host stand-in.",
    )
    instagram_api_base: str = "https://graph.instagram.com"
    vk_client_id: str = ""
    vk_client_secret: SecretStr = SecretStr("")
    vk_auth_base: str = "https://id.vk.com"
    vk_api_base: str = Field(
        default="https://api.vk.com",
        description="VK API base (publisher-vk's setting of the same name): groups.get at "
        "sign-in lists the communities the person administers.",
    )
    telegram_bot_token: SecretStr = SecretStr("")
    telegram_bot_username: str = ""
    telegram_api_base: str = "https://api.telegram.org"
    telegram_login_url: str = Field(
        default="",
        description=(
            "Page hosting the Login Widget (it sends the browser to return_to with the "
            "signed widget fields). Empty: the sandbox's page when the Bot API is the "
            "sandbox's, else the dashboard's own widget page."
        ),
    )
    telegram_auth_max_age_s: int = 600

    @field_validator("token_keys")
    @classmethod
    def _keys_parse(cls, value: SecretStr) -> SecretStr:
        try:
            KeyRing.from_setting(value.get_secret_value())
        except KeyRingError as error:
            raise ValueError(str(error)) from None
        return value

    @field_validator("service_credentials")
    @classmethod
    def _credentials_parse(cls, value: SecretStr) -> SecretStr:
        try:
            parsed = json.loads(value.get_secret_value() or "{}")
        except json.JSONDecodeError:
            raise ValueError('must be a JSON object {"<service>": "<secret>"}') from None
        if not isinstance(parsed, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in parsed.items()
        ):
            raise ValueError('must be a JSON object {"<service>": "<secret>"}')
        return value

    @model_validator(mode="after")
    def _real_secrets(self) -> AuthSettings:
        require_real_secret(self.environment, "CACHALOT_SESSION_SECRET", self.session_secret)
        return self

    def key_ring(self) -> KeyRing:
        return KeyRing.from_setting(self.token_keys.get_secret_value())

    def service_secrets(self) -> dict[str, str]:
        parsed: dict[str, str] = json.loads(self.service_credentials.get_secret_value() or "{}")
        return parsed

    def instagram_token_url_base(self) -> str:
        """Where the code is exchanged: api.instagram.com, or the sandbox's prefix."""
        if self.instagram_token_base:
            return self.instagram_token_base
        if self.instagram_auth_base.rstrip("/") == "https://www.instagram.com":
            return "https://api.instagram.com"
        return self.instagram_auth_base

    def telegram_widget_page(self) -> str:
        if self.telegram_login_url:
            return self.telegram_login_url
        base = self.telegram_api_base.rstrip("/")
        if base != "https://api.telegram.org" and base.endswith("/telegram"):
            return base.removesuffix("/telegram") + "/sandbox/telegram/login"
        return self.dashboard_path

    def callback_url(self, platform: str) -> str:
        """One callback path per platform (mix-up defence, RFC 9700 §4.4)."""
        return f"{self.public_url.rstrip('/')}/api/v1/auth/{platform}/callback"
