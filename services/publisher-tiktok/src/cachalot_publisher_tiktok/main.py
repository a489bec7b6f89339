"""Composition root: the TikTok steps on the shared publishing runtime.

Tests pass their own ``leases`` (a stand-in for the auth service) or
``results`` sink; :func:`main` builds the real ones from settings.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider

from cachalot_common.leases import LeaseSource
from cachalot_publisher_tiktok.limiter import AccountLimiter
from cachalot_publisher_tiktok.publisher import TikTokPlatform
from cachalot_publisher_tiktok.sessions import SessionStore
from cachalot_publisher_tiktok.settings import PublisherSettings
from cachalot_publisher_tiktok.tiktok import TikTokClient
from cachalot_publishing.app import PlatformWiring, create_database_publisher, publisher_main
from cachalot_publishing.results import ResultSink

SERVICE = "publisher-tiktok"
ALEMBIC_DIR = Path(__file__).parent / "alembic"


def create_app(
    settings: PublisherSettings,
    *,
    leases: LeaseSource | None = None,
    results: ResultSink | None = None,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """The publisher: consumes ``posts.publish.tiktok.v1`` in group ``publisher-tiktok``."""
    limiter = AccountLimiter(
        {
            "creator_info": settings.tiktok_creator_info_per_minute,
            "init": settings.tiktok_init_per_minute,
            "status": settings.tiktok_status_per_minute,
        }
    )

    def build(wiring: PlatformWiring) -> TikTokPlatform:
        return TikTokPlatform(
            settings=settings,
            tiktok=TikTokClient(wiring.http, settings.tiktok_api_base),
            sessions=SessionStore(wiring.engine),
            limiter=limiter,
        )

    return create_database_publisher(
        settings,
        platform="tiktok",
        label="TikTok",
        description="Publishes queued videos to TikTok (Direct Post, chunked upload).",
        alembic_dir=ALEMBIC_DIR,
        http_timeout_s=settings.tiktok_http_timeout_s,
        build=build,
        leases=leases,
        results=results,
        tracer_provider=tracer_provider,
    )


def main() -> None:
    """``python -m cachalot_publisher_tiktok`` serves; ``… migrate`` only migrates."""
    publisher_main(SERVICE, PublisherSettings, create_app, ALEMBIC_DIR)


if __name__ == "__main__":
    main()
