"""Composition root: the Instagram steps on the shared publishing runtime.

Tests pass their own ``leases`` (a stand-in for the auth service) or
``results`` sink; :func:`main` builds the real ones from settings. ``python -m
cachalot_publisher_instagram`` serves; ``… migrate`` only runs the migrations.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider

from cachalot_common.db import session_factory
from cachalot_common.leases import LeaseSource
from cachalot_publisher_instagram.graph import InstagramGraph
from cachalot_publisher_instagram.publisher import InstagramPlatform, Polling
from cachalot_publisher_instagram.settings import Settings
from cachalot_publisher_instagram.store import ContainerStore
from cachalot_publishing.app import PlatformWiring, create_database_publisher, publisher_main
from cachalot_publishing.results import ResultSink

ALEMBIC_DIR = Path(__file__).parent / "alembic"
SERVICE = "publisher-instagram"


def create_app(
    settings: Settings,
    *,
    leases: LeaseSource | None = None,
    results: ResultSink | None = None,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """The publisher: consumes ``posts.publish.instagram.v1`` in group ``publisher-instagram``."""

    def build(wiring: PlatformWiring) -> InstagramPlatform:
        return InstagramPlatform(
            store=ContainerStore(session_factory(wiring.engine)),
            graph=InstagramGraph(wiring.http, api_base=settings.instagram_api_base),
            polling=Polling(
                interval_s=settings.instagram_poll_interval_s,
                max_s=settings.instagram_poll_max_s,
            ),
            quota_retry_s=settings.instagram_quota_retry_s,
        )

    return create_database_publisher(
        settings,
        platform="instagram",
        label="Instagram",
        description="Publishes queued Reels, images and carousels to Instagram.",
        alembic_dir=ALEMBIC_DIR,
        http_timeout_s=settings.instagram_request_timeout_s,
        build=build,
        leases=leases,
        results=results,
        tracer_provider=tracer_provider,
    )


def main() -> None:
    publisher_main(SERVICE, Settings, create_app, ALEMBIC_DIR)


if __name__ == "__main__":
    main()
