"""Sandbox settings: the credentials the fake platforms accept.

They are read from the same ``CACHALOT_*`` variables the services use, so in
embedded mode both sides agree without extra wiring.
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from cachalot_common.settings import ServiceSettings


class SandboxSettings(ServiceSettings):
    http_port: int = Field(default=8090, ge=0, le=65535)
    sandbox_public_url: str | None = Field(
        default=None,
        description="Base URL clients reach the sandbox at (upload URLs are built on it).",
    )
    # Telegram
    telegram_bot_token: SecretStr = SecretStr("123456789:AAsandboxsandboxsandboxsandboxsandb")
    telegram_bot_username: str = "cachalot_sandbox_bot"
    # TikTok
    tiktok_client_key: str = "sandbox-tiktok-client-key"
    tiktok_client_secret: SecretStr = SecretStr("sandbox-tiktok-client-secret")
    tiktok_pkce_encoding: str = Field(default="hex", pattern="^(hex|base64url)$")
    # Google / YouTube
    google_client_id: str = "sandbox-google-client-id.apps.googleusercontent.com"
    google_client_secret: SecretStr = SecretStr("sandbox-google-client-secret")
    # Instagram
    instagram_client_id: str = "sandbox-instagram-app-id"
    instagram_client_secret: SecretStr = SecretStr("sandbox-instagram-app-secret")
    # VK
    vk_client_id: str = "sandbox-vk-app-id"
    vk_client_secret: SecretStr = SecretStr("sandbox-vk-app-secret")
    # Token lifetimes (seconds), so tests can make tokens expire quickly
    access_token_lifetime_s: int = 86400
    refresh_token_lifetime_s: int = 31536000

    def base_url(self) -> str:
        """Where clients reach the sandbox (``sandbox_public_url``, else its own port)."""
        return (self.sandbox_public_url or f"http://127.0.0.1:{self.http_port}").rstrip("/")
