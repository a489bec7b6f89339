"""OAuth clients for the platforms, built once in the composition root."""

from __future__ import annotations

from cachalot_auth.providers.base import HttpCaller, Provider
from cachalot_auth.providers.google import Google
from cachalot_auth.providers.instagram import Instagram
from cachalot_auth.providers.tiktok import TikTok
from cachalot_auth.providers.vk import VK
from cachalot_auth.settings import AuthSettings


def build_providers(settings: AuthSettings, http: HttpCaller) -> dict[str, Provider]:
    """Every OAuth platform (registry ``sign_in == "oauth"``) keyed by its platform name."""
    s = settings
    built: tuple[Provider, ...] = (
        TikTok(
            http,
            client_key=s.tiktok_client_key,
            client_secret=s.tiktok_client_secret.get_secret_value(),
            auth_base=s.tiktok_auth_base,
            api_base=s.tiktok_api_base,
            pkce_encoding=s.tiktok_pkce_encoding,
        ),
        Google(
            http,
            client_id=s.google_client_id,
            client_secret=s.google_client_secret.get_secret_value(),
            auth_base=s.google_auth_base,
            token_base=s.google_token_base,
            api_base=s.youtube_api_base,
        ),
        Instagram(
            http,
            client_id=s.instagram_client_id,
            client_secret=s.instagram_client_secret.get_secret_value(),
            auth_base=s.instagram_auth_base,
            token_base=s.instagram_token_url_base(),
            api_base=s.instagram_api_base,
        ),
        VK(http, client_id=s.vk_client_id, auth_base=s.vk_auth_base, api_base=s.vk_api_base),
    )
    return {provider.name: provider for provider in built}
