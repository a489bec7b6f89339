"""Composition root: VK's steps on the shared publishing runtime.

``python -m cachalot_publisher_vk`` serves; ``… migrate`` only runs the migrations.
"""

from __future__ import annotations

from pathlib import Path

from cachalot_common.db import session_factory
from cachalot_publisher_vk.publisher import VKPlatform
from cachalot_publisher_vk.settings import Settings
from cachalot_publisher_vk.store import WallPostStore
from cachalot_publisher_vk.vk import VKApi
from cachalot_publishing.app import PlatformWiring, PublisherService

ALEMBIC_DIR = Path(__file__).parent / "alembic"


def build(settings: Settings, wiring: PlatformWiring) -> VKPlatform:
    """VK's steps over the service's database and HTTP client."""
    return VKPlatform(
        store=WallPostStore(session_factory(wiring.engine)),
        api=VKApi(
            wiring.http,
            api_base=settings.vk_api_base,
            version=settings.vk_api_version,
            requests_per_second=settings.vk_requests_per_second,
            upload_timeout_s=settings.vk_upload_timeout_s,
        ),
    )


PUBLISHER = PublisherService(
    platform="vk",
    settings=Settings,
    description="Publishes queued videos, photo posts and articles to VK walls.",
    alembic_dir=ALEMBIC_DIR,
    request_timeout_s=lambda settings: settings.vk_request_timeout_s,
    build=build,
)
create_app = PUBLISHER.create_app
main = PUBLISHER.main

if __name__ == "__main__":
    main()
