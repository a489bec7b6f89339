"""Sandbox settings: the credentials the fake platforms accept.

They are read from the same ``CACHALOT_*`` variables the services use, so in
embedded mode both sides agree without extra wiring.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

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
    telegram_local_bot_api: bool = Field(
        default=False,
        description="Act as a local Bot API server (telegram-bot-api --local): uploads up to "
        "2000 MB instead of 50 MB. The same variable tells the queue and publisher-telegram.",
    )
    telegram_bot_domain: str | None = Field(
        default=None,
        description="The domain linked to the bot (BotFather /setdomain); the login page "
        "returns only there. Default: the host of CACHALOT_PUBLIC_URL.",
    )
    # TikTok
    tiktok_client_key: str = "sandbox-tiktok-client-key"
    tiktok_client_secret: SecretStr = SecretStr("sandbox-tiktok-client-secret")
    tiktok_pkce_encoding: str = Field(default="hex", pattern="^(hex|base64url)$")
    tiktok_verified_url_prefixes: list[str] = Field(
        default_factory=list,
        description="JSON list: URL prefixes verified for PULL_FROM_URL (photo posts). "
        "Empty = CACHALOT_PUBLIC_URL, where the gateway serves signed media URLs.",
    )
    # Google / YouTube
    google_client_id: str = "sandbox-google-client-id.apps.googleusercontent.com"
    google_client_secret: SecretStr = SecretStr("sandbox-google-client-secret")
    # Instagram
    instagram_client_id: str = "sandbox-instagram-app-id"
    instagram_client_secret: SecretStr = SecretStr("sandbox-instagram-app-secret")
    # VK
    vk_client_id: str = "sandbox-vk-app-id"
    vk_client_secret: SecretStr = SecretStr("sandbox-vk-app-secret")
    # Redirect URIs registered for our app at each platform (its developer console).
    # Empty = the one callback per platform auth builds on CACHALOT_PUBLIC_URL.
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Origin auth builds its callbacks on (the same CACHALOT_PUBLIC_URL).",
    )
    tiktok_redirect_uris: list[str] = Field(
        default_factory=list, description="JSON list; exact match, as TikTok's Login Kit."
    )
    google_redirect_uris: list[str] = Field(
        default_factory=list, description="JSON list; exact match, as Google OAuth."
    )
    instagram_redirect_uris: list[str] = Field(
        default_factory=list, description="JSON list; exact match, as Instagram Login."
    )
    vk_redirect_uris: list[str] = Field(
        default_factory=list, description="JSON list; exact match, as VK ID."
    )
    # Token lifetimes (seconds), so tests can make tokens expire quickly
    access_token_lifetime_s: int = 86400
    refresh_token_lifetime_s: int = 31536000

    def redirect_uris(self, platform: Literal["tiktok", "youtube", "instagram", "vk"]) -> list[str]:
        """The redirect URIs registered for our app at ``platform`` (auth's platform name).

        The explicit list when set, else auth's own callback for that platform,
        ``<CACHALOT_PUBLIC_URL>/api/v1/auth/<platform>/callback``, so embedded mode
        and compose agree with auth without more wiring.
        """
        explicit = {
            "tiktok": self.tiktok_redirect_uris,
            "youtube": self.google_redirect_uris,
            "instagram": self.instagram_redirect_uris,
            "vk": self.vk_redirect_uris,
        }[platform]
        return list(explicit) or [f"{self.public_url.rstrip('/')}/api/v1/auth/{platform}/callback"]

    def bot_domain(self) -> str:
        """The one host the Telegram login page sends people back to."""
        return self.telegram_bot_domain or (urlsplit(self.public_url).hostname or "")

    def tiktok_url_prefixes(self) -> list[str]:
        """The URL prefixes our app verified at TikTok (the explicit list, else
        ``<CACHALOT_PUBLIC_URL>/``: a trailing slash, so another host never matches)."""
        return list(self.tiktok_verified_url_prefixes) or [self.public_url.rstrip("/") + "/"]

    def base_url(self) -> str:
        """Where clients reach the sandbox itself (upload and avatar URLs are built on it)."""
        return (self.sandbox_public_url or f"http://127.0.0.1:{self.http_port}").rstrip("/")
