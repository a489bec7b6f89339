"""Composition root: the Instagram steps on the shared publishing runtime.

``python -m cachalot_publisher_instagram`` serves; ``… migrate`` only runs the migrations.
"""

from __future__ import annotations

from pathlib import Path

from cachalot_common.db import session_factory
from cachalot_publisher_instagram.graph import InstagramGraph
from cachalot_publisher_instagram.publisher import InstagramPlatform, Polling
from cachalot_publisher_instagram.settings import Settings
from cachalot_publisher_instagram.store import ContainerStore
from cachalot_publishing.app import PlatformWiring, PublisherService

ALEMBIC_DIR = Path(__file__).parent / "alembic"


def build(settings: Settings, wiring: PlatformWiring) -> InstagramPlatform:
    """Instagram's steps over the service's database and HTTP client."""
    return InstagramPlatform(
        store=ContainerStore(session_factory(wiring.engine)),
        graph=InstagramGraph(wiring.http, api_base=settings.instagram_api_base),
        polling=Polling(
            interval_s=settings.instagram_poll_interval_s,
            max_s=settings.instagram_poll_max_s,
        ),
        quota_retry_s=settings.instagram_quota_retry_s,
    )


PUBLISHER = PublisherService(
    platform="instagram",
    settings=Settings,
    description="Publishes queued Reels, images and carousels to Instagram.",
    alembic_dir=ALEMBIC_DIR,
    request_timeout_s=lambda settings: settings.instagram_request_timeout_s,
    build=build,
)
create_app = PUBLISHER.create_app
main = PUBLISHER.main

if __name__ == "__main__":
    main()
