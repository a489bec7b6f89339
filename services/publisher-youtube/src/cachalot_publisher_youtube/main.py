"""Composition root: the YouTube steps on the shared publishing runtime.

Tests pass their own ``leases`` (a stand-in for the auth service) or
``results`` sink; :func:`main` builds the real ones from settings. ``python -m
cachalot_publisher_youtube`` serves; ``… migrate`` only runs the migrations.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider

from cachalot_common.db import session_factory
from cachalot_common.leases import LeaseSource
from cachalot_publisher_youtube.publisher import RetryPolicy, YouTubePlatform
from cachalot_publisher_youtube.settings import Settings
from cachalot_publisher_youtube.store import UploadStore
from cachalot_publisher_youtube.youtube import YouTubeUploads
from cachalot_publishing.app import PlatformWiring, create_database_publisher, publisher_main
from cachalot_publishing.results import ResultSink

ALEMBIC_DIR = Path(__file__).parent / "alembic"
SERVICE = "publisher-youtube"


def create_app(
    settings: Settings,
    *,
    leases: LeaseSource | None = None,
    results: ResultSink | None = None,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """The publisher: consumes ``posts.publish.youtube.v1`` in group ``publisher-youtube``."""

    def build(wiring: PlatformWiring) -> YouTubePlatform:
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

    return create_database_publisher(
        settings,
        platform="youtube",
        label="YouTube",
        description="Publishes queued videos to YouTube by resumable upload.",
        alembic_dir=ALEMBIC_DIR,
        http_timeout_s=settings.youtube_request_timeout_s,
        build=build,
        leases=leases,
        results=results,
        tracer_provider=tracer_provider,
    )


def main() -> None:
    publisher_main(SERVICE, Settings, create_app, ALEMBIC_DIR)


if __name__ == "__main__":
    main()
