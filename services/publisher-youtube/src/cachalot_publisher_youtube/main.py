"""Composition root: the YouTube steps on the shared publishing runtime.

``python -m cachalot_publisher_youtube`` serves; ``… migrate`` only runs the migrations.
"""

from __future__ import annotations

from pathlib import Path

from cachalot_common.db import session_factory
from cachalot_publisher_youtube.publisher import RetryPolicy, YouTubePlatform
from cachalot_publisher_youtube.settings import Settings
from cachalot_publisher_youtube.store import UploadStore
from cachalot_publisher_youtube.youtube import YouTubeUploads
from cachalot_publishing.app import PlatformWiring, PublisherService

ALEMBIC_DIR = Path(__file__).parent / "alembic"


def build(settings: Settings, wiring: PlatformWiring) -> YouTubePlatform:
    """YouTube's steps over the service's database and HTTP client."""
    return YouTubePlatform(
        store=UploadStore(session_factory(wiring.engine)),
        uploads=YouTubeUploads(
            wiring.http,
            api_base=settings.youtube_api_base,
            read_bytes=settings.youtube_read_bytes,
        ),
        chunk_bytes=settings.youtube_chunk_bytes,
        retry=RetryPolicy(
            attempts=settings.youtube_attempts,
            initial_s=settings.youtube_backoff_initial_s,
            max_s=settings.youtube_backoff_max_s,
        ),
        record_progress_every_s=settings.publish_progress_interval_s,
    )


PUBLISHER = PublisherService(
    platform="youtube",
    settings=Settings,
    description="Publishes queued videos to YouTube by resumable upload.",
    alembic_dir=ALEMBIC_DIR,
    request_timeout_s=lambda settings: settings.youtube_request_timeout_s,
    build=build,
)
create_app = PUBLISHER.create_app
main = PUBLISHER.main

if __name__ == "__main__":
    main()
