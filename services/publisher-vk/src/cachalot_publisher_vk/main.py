"""Composition root: VK's steps on the shared publishing runtime.

Tests pass their own ``leases`` (a stand-in for the auth service) or
``results`` sink; :func:`main` builds the real ones from settings. ``python -m
cachalot_publisher_vk`` serves; ``… migrate`` only runs the migrations.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider

from cachalot_common.db import session_factory
from cachalot_common.leases import LeaseSource
from cachalot_publisher_vk.publisher import VKPlatform
from cachalot_publisher_vk.settings import Settings
from cachalot_publisher_vk.store import WallPostStore
from cachalot_publisher_vk.vk import VKApi
from cachalot_publishing.app import PlatformWiring, create_database_publisher, publisher_main
from cachalot_publishing.results import ResultSink

ALEMBIC_DIR = Path(__file__).parent / "alembic"
SERVICE = "publisher-vk"


def create_app(
    settings: Settings,
    *,
    leases: LeaseSource | None = None,
    results: ResultSink | None = None,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """The publisher: consumes ``posts.publish.vk.v1`` in group ``publisher-vk``."""

    def build(wiring: PlatformWiring) -> VKPlatform:
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

    return create_database_publisher(
        settings,
        platform="vk",
        label="VK",
        description="Publishes queued videos, photo posts and articles to VK walls.",
        alembic_dir=ALEMBIC_DIR,
        http_timeout_s=settings.vk_request_timeout_s,
        build=build,
        leases=leases,
        results=results,
        tracer_provider=tracer_provider,
    )


def main() -> None:
    publisher_main(SERVICE, Settings, create_app, ALEMBIC_DIR)


if __name__ == "__main__":
    main()
