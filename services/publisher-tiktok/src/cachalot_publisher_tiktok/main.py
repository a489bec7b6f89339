"""Composition root: the TikTok steps on the shared publishing runtime.

``python -m cachalot_publisher_tiktok`` serves; ``… migrate`` only runs the migrations.
"""

from __future__ import annotations

from pathlib import Path

from cachalot_publisher_tiktok.limiter import AccountLimiter
from cachalot_publisher_tiktok.publisher import TikTokPlatform
from cachalot_publisher_tiktok.sessions import SessionStore
from cachalot_publisher_tiktok.settings import Settings
from cachalot_publisher_tiktok.tiktok import TikTokClient
from cachalot_publishing.app import PlatformWiring, PublisherService

ALEMBIC_DIR = Path(__file__).parent / "alembic"


def build(settings: Settings, wiring: PlatformWiring) -> TikTokPlatform:
    """TikTok's steps over the service's database and HTTP client, with TikTok's
    per-token, per-minute limits kept on this side too."""
    return TikTokPlatform(
        settings=settings,
        tiktok=TikTokClient(wiring.http, settings.tiktok_api_base),
        sessions=SessionStore(wiring.engine),
        limiter=AccountLimiter(
            {
                "creator_info": settings.tiktok_creator_info_per_minute,
                "init": settings.tiktok_init_per_minute,
                "status": settings.tiktok_status_per_minute,
            }
        ),
    )


PUBLISHER = PublisherService(
    platform="tiktok",
    settings=Settings,
    description="Publishes queued videos and photo posts to TikTok (Direct Post).",
    alembic_dir=ALEMBIC_DIR,
    request_timeout_s=lambda settings: settings.tiktok_request_timeout_s,
    build=build,
)
create_app = PUBLISHER.create_app
main = PUBLISHER.main

if __name__ == "__main__":
    main()
