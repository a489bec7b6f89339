"""Composition root: settings → database, broker, workers, HTTP app.

``create_app(settings, ...)`` is the only place adapters are chosen; tests
pass their own clock, random source or broker through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from faststream.kafka import KafkaBroker
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from cachalot_common import platforms
from cachalot_common.app import create_service_app, serve
from cachalot_common.asyncapi import Produced
from cachalot_common.broker_acks import ack_check
from cachalot_common.consuming import BrokerWatch, subscribe, subscribe_batch
from cachalot_common.db import (
    create_engine,
    database_check,
    is_sqlite,
    run_migrations,
    run_migrations_async,
)
from cachalot_common.dead_letters import DeadLetterReader
from cachalot_common.events import (
    AccountChanged,
    PostStatusChanged,
    ProposalAnswered,
    ProposalChanged,
    PublishPost,
    PublishResult,
    SessionEnded,
    utcnow,
)
from cachalot_common.guards import SignedIn, session_check
from cachalot_common.health import declared_dependencies
from cachalot_common.kafka import build_broker, consumer_options
from cachalot_common.logging import setup_logging
from cachalot_common.outbox import OutboxRelay
from cachalot_common.platforms import PlatformSpec
from cachalot_common.redaction import register_secret
from cachalot_common.sessions import (
    MemoryRevocations,
    SessionVerifier,
    install_session_verifier,
)
from cachalot_common.settings import load_settings
from cachalot_common.telemetry import instrument_engine, setup_tracing
from cachalot_common.topics import (
    ACCOUNTS,
    NOTIFY,
    PLATFORMS,
    POSTS_RESULT,
    POSTS_STATUS,
    PROPOSALS,
    SESSIONS,
    publish_topic,
)
from cachalot_common.wakeup import Wakeup
from cachalot_queue.api import build_router, on_validation_error, refuse_if_erased, upload_body
from cachalot_queue.deliveries import DeliveryService, build_delivery_routers
from cachalot_queue.dispatch import Granter, Reconciler, Scheduler
from cachalot_queue.live import LiveFeed, live_router
from cachalot_queue.media_library import MediaLibrary
from cachalot_queue.media_links import MediaLinks, links_router
from cachalot_queue.media_quota import MediaQuota
from cachalot_queue.metrics import run_depth_sampler
from cachalot_queue.operator import OperatorConsole, broker_publish, build_operator_router
from cachalot_queue.outbox import build_relay, session_factory
from cachalot_queue.posts import PostService
from cachalot_queue.results import EventHandlers
from cachalot_queue.resumable import RelativeLocation, build_tus_router
from cachalot_queue.retention import MediaRetention, privacy_router
from cachalot_queue.revocations import Revocations
from cachalot_queue.settings import QueueSettings
from cachalot_queue.states import RetryPolicy

SERVICE = "queue"
#: The queue's routes behind the gateway that need a session (every one under /api/v1
#: but the public retention.PRIVACY_PATH).
SIGNED_IN_PREFIXES = ("/api/v1/media", "/api/v1/posts", "/api/v1/events", "/api/v1/operator")
ALEMBIC_DIR = Path(__file__).parent / "alembic"


def build_engine(url: str) -> AsyncEngine:
    """The engine that writes.

    On SQLite (one writer at a time) it holds a single connection and every
    transaction begins with ``BEGIN IMMEDIATE``: writers queue fairly, in
    order, on the pool instead of spinning in SQLite's busy handler (which
    starves some of them for seconds) or failing when a reader upgrades to a
    writer after another commit.
    """
    if not is_sqlite(url):
        return create_engine(url)
    engine = create_engine(url, pool_size=1, max_overflow=0, pool_timeout=120)

    @event.listens_for(engine.sync_engine, "connect")
    def _manual_transactions(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine.sync_engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def build_reader(url: str, writer: AsyncEngine) -> AsyncEngine:
    """The engine for reads: on SQLite a pool of its own (WAL readers never block)."""
    return create_engine(url) if is_sqlite(url) else writer


@dataclass
class Runtime:
    """What the routes and workers share, built once per app."""

    settings: QueueSettings
    engine: AsyncEngine
    factory: async_sessionmaker[AsyncSession]
    reader: async_sessionmaker[AsyncSession]
    broker: KafkaBroker
    clock: Callable[[], datetime]
    rng: random.Random
    revocations: Revocations
    scheduler_wake: Wakeup = field(default_factory=Wakeup)
    relay_wake: Wakeup = field(default_factory=Wakeup)
    relay: OutboxRelay | None = None
    """The outbox relay of this replica while its workers run (set by :func:`start_workers`;
    readiness reads its health)."""
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    registry: Mapping[str, PlatformSpec] = field(default_factory=lambda: platforms.REGISTRY)
    """The platforms posts are checked against (tests give one where a platform takes more)."""
    media_quota: MediaQuota = field(init=False)
    library: MediaLibrary = field(init=False)
    retention: MediaRetention = field(init=False)
    links: MediaLinks | None = field(init=False)
    # seconds the broker and the consumers have been working (the broker watch's)
    listening_for_s: Callable[[], float] | None = None
    live_feed: LiveFeed | None = None
    """The dashboard's live feed (GET /api/v1/events) of this replica."""
    # told when the broker came back and may have lost the commands in it
    commands_lost: list[Callable[[], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        public_url = self.settings.public_url
        self.links = (
            MediaLinks(
                key=self.settings.media_link_key_bytes(),
                public_url=public_url,
                ttl_s=self.settings.media_url_ttl_s,
                cover_ttl_s=self.settings.media_cover_url_ttl_s,
                clock=self.clock,
            )
            if public_url
            else None
        )
        self.media_quota = MediaQuota(
            self.factory,
            media_dir=self.settings.media_dir,
            quota_bytes=self.settings.media_quota_bytes,
            disk_reserve_bytes=self.settings.media_disk_reserve_bytes,
            partial_grace_s=self.settings.media_partial_grace_s,
            lock_rows=self.postgres,
            clock=self.clock,
        )
        self.library = MediaLibrary(
            self.factory,
            reader=self.reader,
            media_dir=self.settings.media_dir,
            quota_bytes=self.settings.media_quota_bytes,
        )
        self.retention = MediaRetention(
            self.factory,
            media_dir=self.settings.media_dir,
            days=self.settings.media_retention_days,
            clock=self.clock,
            audit_days=self.settings.audit_retention_days,
            library=self.library,
            orphan_hours=self.settings.operator_upload_orphan_hours,
        )

    @property
    def postgres(self) -> bool:
        return not is_sqlite(self.settings.database_url)


def create_app(
    settings: QueueSettings,
    *,
    broker: KafkaBroker | None = None,
    clock: Callable[[], datetime] = utcnow,
    rng: random.Random | None = None,
    registry: Mapping[str, PlatformSpec] | None = None,
) -> FastAPI:
    """The queue's app; ``registry`` (default :data:`cachalot_common.platforms.REGISTRY`)
    says which platforms take which kinds of post and checks their limits."""
    tracer = setup_tracing(SERVICE, otlp_endpoint=settings.otlp_endpoint)
    engine = build_engine(settings.database_url)
    reader = build_reader(settings.database_url, engine)
    instrument_engine(engine, tracer)
    if reader is not engine:
        instrument_engine(reader, tracer)
    factory = session_factory(engine)
    reader_factory = session_factory(reader)
    runtime = Runtime(
        settings=settings,
        engine=engine,
        factory=factory,
        reader=reader_factory,
        broker=broker or build_broker(settings, client_id=SERVICE, tracer_provider=tracer),
        clock=clock,
        rng=rng or random.Random(),
        revocations=Revocations(
            factory,
            reader=reader_factory,
            memory=MemoryRevocations(),
            media_dir=settings.media_dir,
            clock=clock,
        ),
        registry=registry if registry is not None else platforms.REGISTRY,
    )
    handlers = EventHandlers(
        runtime.factory,
        policy=RetryPolicy(
            max_attempts=settings.max_attempts,
            base_s=settings.backoff_base_s,
            max_s=settings.backoff_max_s,
            wait_deadline_s=settings.platform_wait_deadline_s,
        ),
        clock=clock,
        rng=runtime.rng,
        relay_wake=runtime.relay_wake,
        scheduler_wake=runtime.scheduler_wake,
        lock_rows=runtime.postgres,
        media_dir=settings.media_dir,
        tracer=tracer.get_tracer("cachalot_queue.results"),
    )
    # One group per topic: two consumers of one group on different topics make
    # every start a double rebalance (seconds on Tansu), for no benefit.
    group = settings.consumer_group
    timeouts = consumer_options(settings)
    subscribe_batch(
        runtime.broker,
        POSTS_RESULT,
        PublishResult,
        handlers.on_results,
        group_id=group,
        trace_contexts=True,  # each result in its post's trace (issue 13 item 4)
        **timeouts,
    )
    subscribe(
        runtime.broker,
        ACCOUNTS,
        AccountChanged,
        handlers.on_account,
        group_id=f"{group}.accounts",
        **timeouts,
    )
    # Every replica keeps the revocations in memory, so each reads the whole feed.
    subscribe(
        runtime.broker,
        SESSIONS,
        SessionEnded,
        runtime.revocations.on_session,
        group_id=None,
        bootstrap=settings.kafka_bootstrap,
        **timeouts,
    )

    # The dashboard's live feed: every replica reads its three topics whole
    # (cachalot_queue.live).
    feed = LiveFeed(
        settings.kafka_bootstrap,
        buffer_events=settings.live_buffer_events,
        backfill_per_partition=settings.live_backfill_per_partition,
        client_id=f"{SERVICE}-live",
    )
    runtime.live_feed = feed

    # A broker that lost everything: topics again, consumers rejoin (DESIGN.md).
    watch = BrokerWatch(runtime.broker, settings)
    runtime.listening_for_s = watch.listening_for_s

    async def commands_lost() -> None:
        for tell in runtime.commands_lost:
            tell()

    watch.after_recovery(commands_lost)

    async def live_reading() -> bool:
        return feed.reading()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.auto_migrate:
            await run_migrations_async(ALEMBIC_DIR, settings.database_url)
        settings.media_dir.mkdir(parents=True, exist_ok=True)
        await runtime.media_quota.sweep()  # what a killed queue left mid-upload
        runtime.tasks.append(
            asyncio.create_task(runtime.media_quota.run_sweeper(), name="queue-media-sweeper")
        )
        runtime.tasks.append(
            asyncio.create_task(runtime.retention.run(), name="queue-media-retention")
        )
        await runtime.revocations.load()  # before the first request is served
        await watch.start()
        await feed.start()
        runtime.tasks.append(
            asyncio.create_task(runtime.revocations.run_pruner(), name="queue-revocations")
        )
        if settings.run_workers:
            start_workers(runtime)
        try:
            yield
        finally:
            for task in runtime.tasks:
                task.cancel()
            for task in runtime.tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await feed.stop()
            await watch.stop()
            await runtime.engine.dispose()
            await reader.dispose()

    app = create_service_app(
        title="cachalot-queue",
        settings=settings,
        lifespan=lifespan,
        readiness={
            "database": database_check(reader),
            **watch.readiness(),
            "live": live_reading,
        },
        # posts are taken into the outbox whatever the broker does; the relay waits it out
        # (and resends what a broker that lost its state acknowledged: issue 11)
        dependencies=declared_dependencies(
            outbox=(lambda: runtime.relay) if settings.run_workers else None
        ),
        tracer_provider=tracer,
        # Every client and operator route needs the session: checked before a body byte
        # is read. Only the privacy facts (retention.PRIVACY_PATH) are public.
        signed_in=[
            SignedIn(SIGNED_IN_PREFIXES, session_check(settings.session_secret.get_secret_value()))
        ],
        description="Post queue: media upload, posts, scheduling, publishing status.",
        produces=[
            *(
                Produced(publish_topic(p), PublishPost, f"Publish one target on {p} (outbox).")
                for p in PLATFORMS
            ),
            Produced(POSTS_STATUS, PostStatusChanged, "A target's status changed (outbox)."),
            Produced(
                NOTIFY,
                ProposalAnswered,
                "Tell the operator that a client approved a proposal or asked for "
                "changes (outbox).",
            ),
            Produced(
                PROPOSALS,
                ProposalChanged,
                "An operator's proposal was made, edited, approved, sent back or superseded "
                "(outbox; read by the live feeds of both pages).",
            ),
        ],
    )
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.state.runtime = runtime
    app.state.broker = runtime.broker
    install_session_verifier(
        app,
        SessionVerifier(
            secret=settings.session_secret.get_secret_value(),
            revocations=runtime.revocations.memory,
        ),
    )
    app.include_router(live_router(feed, heartbeat_s=settings.live_heartbeat_s))
    app.include_router(privacy_router(settings.media_retention_days))
    if runtime.links is not None:
        app.include_router(
            links_router(runtime.links, reader=runtime.reader, media_dir=settings.media_dir)
        )
    posts = PostService(
        runtime.factory,
        reader=runtime.reader,
        schedule_grace_s=settings.schedule_grace_s,
        account_catch_up_s=settings.account_catch_up_s,
        registry=runtime.registry,
    )
    library = runtime.library
    deliveries = DeliveryService(runtime.factory, reader=runtime.reader, posts=posts)

    async def upload_for(request: Request, client_id: UUID, operator_id: UUID) -> Any:
        return await upload_body(runtime, clock, request, client_id, uploaded_by=operator_id)

    def queued() -> None:
        runtime.scheduler_wake.set()
        runtime.relay_wake.set()

    operator_deliveries, proposals = build_delivery_routers(
        deliveries,
        upload=upload_for,
        clock=clock,
        wake=queued,
        refuse_if_erased=partial(refuse_if_erased, runtime.revocations),
    )
    # before the posts' routes: /api/v1/posts/proposals is not /api/v1/posts/{post_id}
    app.include_router(proposals)
    app.include_router(
        build_router(
            posts=posts,
            deliveries=deliveries,
            media=library,
            runtime=runtime,
            clock=clock,
        )
    )
    # tus, its own protocol: left out of the OpenAPI document (see cachalot_queue.resumable)
    app.include_router(build_tus_router(runtime=runtime, clock=clock), include_in_schema=False)
    app.add_middleware(RelativeLocation)
    app.include_router(operator_deliveries)
    app.include_router(
        build_operator_router(
            OperatorConsole(
                runtime.factory,
                reader=runtime.reader,
                dead_letters=DeadLetterReader(
                    settings.kafka_bootstrap, timeout_s=settings.dlq_read_timeout_s
                ),
                publish=broker_publish(runtime.broker),
                clock=clock,
                stuck_after_s=settings.reconcile_after_s,
                trace_url_template=settings.trace_url_template,
            ),
            runtime.registry,
        )
    )
    return app


def start_workers(runtime: Runtime) -> None:
    """Scheduler, reconciler, outbox relay and the depth sampler as tasks of this process."""
    settings = runtime.settings
    lock = runtime.postgres
    relay = build_relay(
        runtime.factory,
        runtime.broker,
        reader=runtime.reader,
        wake=runtime.relay_wake,
        claim_with_lock=lock,
        check=ack_check(settings, broker=runtime.broker),
    )
    runtime.relay = relay
    grants = Granter(
        key=settings.grant_key(),
        lifetime_s=settings.grant_lifetime_s,
        issuer=settings.service_name,
        links=runtime.links,
    )
    scheduler = Scheduler(
        runtime.factory,
        reader=runtime.reader,
        clock=runtime.clock,
        wake=runtime.scheduler_wake,
        relay_wake=runtime.relay_wake,
        claim_with_lock=lock,
        grants=grants,
        batch=settings.dispatch_batch,
        max_sleep_s=settings.scheduler_max_sleep_s,
    )
    reconciler = Reconciler(
        runtime.factory,
        clock=runtime.clock,
        relay_wake=runtime.relay_wake,
        claim_with_lock=lock,
        silent_after_s=settings.reconcile_after_s,
        max_reconciles=settings.max_reconciles,
        grants=grants,
        listening_for_s=runtime.listening_for_s,
    )
    runtime.commands_lost.append(reconciler.commands_lost)
    for name, job in (
        ("relay", relay.run),
        ("scheduler", scheduler.run),
        ("reconciler", reconciler.run),
        (
            "depth",
            partial(
                run_depth_sampler,
                runtime.reader,
                settings.metrics_interval_s,
                stuck_after_s=settings.reconcile_after_s,
                clock=runtime.clock,
            ),
        ),
    ):
        runtime.tasks.append(asyncio.create_task(job(), name=f"queue-{name}"))


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    settings = load_settings(QueueSettings, "cachalot-queue")
    setup_logging(SERVICE, level=settings.log_level, fmt=settings.log_format)
    register_secret(settings.session_secret.get_secret_value())
    register_secret(settings.grant_signing_key.get_secret_value())
    register_secret(settings.grant_signing_key.get_secret_value().partition(":")[2].strip())
    if args[:1] == ["migrate"]:
        run_migrations(ALEMBIC_DIR, settings.database_url)
        return
    if args:
        print(f"cachalot-queue: unknown command {args[0]!r} (try: migrate)", file=sys.stderr)
        raise SystemExit(2)
    serve(create_app(settings), settings)
