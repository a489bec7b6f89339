"""The sandbox app: every fake platform mounted under one server.

Platform modules each expose ``create_router(settings) -> APIRouter`` and
``reset() -> None``; they are listed once, here.
"""

from __future__ import annotations

from types import ModuleType

from fastapi import FastAPI

from cachalot_common.app import create_service_app, serve
from cachalot_common.logging import setup_logging
from cachalot_common.redaction import register_secret
from cachalot_common.settings import load_settings
from cachalot_sandbox import (
    google_auth,
    instagram_auth,
    instagram_graph,
    telegram,
    telegram_login,
    tiktok_auth,
    tiktok_content,
    tokens,
    vk_api,
    vk_auth,
    youtube_upload,
)
from cachalot_sandbox.settings import SandboxSettings

PLATFORM_MODULES: tuple[ModuleType, ...] = (
    telegram,
    telegram_login,
    tiktok_auth,
    tiktok_content,
    google_auth,
    youtube_upload,
    instagram_auth,
    instagram_graph,
    vk_auth,
    vk_api,
)


def create_app(settings: SandboxSettings) -> FastAPI:
    app = create_service_app(
        title="cachalot-sandbox",
        settings=settings,
        # A fake of the platforms keeps their rules (form posts, raw uploads), not ours.
        guarded=False,
        description="Local fakes of Telegram, TikTok, Google/YouTube, Instagram and VK.",
    )
    app.include_router(tokens.create_router())
    for module in PLATFORM_MODULES:
        app.include_router(module.create_router(settings))

    @app.get("/sandbox/issued-secrets", tags=["sandbox"])
    async def issued_secrets() -> dict[str, list[str]]:
        """Every token the fakes handed out, so a test can prove none of them leaked.

        Sandbox only: these are fake credentials that exist only in this process.
        """
        refresh = [
            token
            for module in (tiktok_auth, google_auth, instagram_auth, vk_auth)
            for token in module.STATE.refresh_tokens
        ]
        return {"access_tokens": tokens.registry.values(), "refresh_tokens": refresh}

    @app.post("/sandbox/reset", tags=["sandbox"])
    async def reset_all() -> dict[str, str]:
        """Forget everything every fake platform recorded (between tests)."""
        tokens.registry.reset()
        for module in PLATFORM_MODULES:
            module.reset()
        return {"status": "reset"}

    return app


def main() -> None:
    settings = load_settings(SandboxSettings, "cachalot-sandbox")
    setup_logging("sandbox", level=settings.log_level, fmt=settings.log_format)
    register_secret(settings.telegram_bot_token.get_secret_value())
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
