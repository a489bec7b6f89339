"""Results consumed in one batch each leave their own SQL in their own post's trace.

The consumer kit applies a batch of ``posts.result.v1`` records in one transaction,
in the trace of the batch's first record. A trace viewer that drops span links
(Phoenix) would then show the other posts' traces without the statements that
recorded their results (issue 13's fresh-user try: 4 of 6 failed posts' traces had
no ``UPDATE targets``). On SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_common.db import is_sqlite, run_migrations_async, transaction
from cachalot_common.events import PublishResult
from cachalot_common.telemetry import instrument_engine
from cachalot_common.wakeup import Wakeup
from cachalot_queue.main import ALEMBIC_DIR, build_engine
from cachalot_queue.outbox import session_factory
from cachalot_queue.results import EventHandlers
from cachalot_queue.states import RetryPolicy
from cachalot_queue.tables import Account, Media, Post, Target

pytestmark = pytest.mark.integration
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'queue.db'}"
    else:
        url = request.getfixturevalue("postgres_database")
    await run_migrations_async(ALEMBIC_DIR, url)
    return url


async def _dispatched_targets(
    factory: async_sessionmaker[AsyncSession], count: int
) -> list[Target]:
    client_id = uuid.uuid4()
    account = Account(
        id=uuid.uuid4(), client_id=client_id, platform="tiktok", status="connected",
        changed_at=START,
    )  # fmt: skip
    media = Media(
        id=uuid.uuid4(), client_id=client_id, path="v.mp4", size=3, sha256="a" * 64,
        content_type="video/mp4", created_at=START,
    )  # fmt: skip
    targets = []
    async with transaction(factory) as session:
        session.add_all([account, media])
        for _ in range(count):
            post = Post(
                id=uuid.uuid4(), client_id=client_id, media_id=media.id, scheduled_at=START,
                created_at=START,
            )  # fmt: skip
            session.add(post)
            await session.flush()
            target = Target(
                id=uuid.uuid4(), post_id=post.id, position=0, client_id=client_id,
                account_id=account.id, platform="tiktok",
                options={"platform": "tiktok", "caption": "c", "privacy_level": "SELF_ONLY"},
                status="dispatched", attempt=1, budget_start=0, reconciles=0,
                last_activity_at=START, updated_at=START,
            )  # fmt: skip
            session.add(target)
            targets.append(target)
    return targets


def _in_trace(spans: tuple[ReadableSpan, ...], trace_id: int) -> list[ReadableSpan]:
    return [s for s in spans if s.context is not None and s.context.trace_id == trace_id]


async def test_each_result_of_a_batch_has_the_update_that_recorded_it_in_its_own_trace(
    database: str, tmp_path: Path
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    engine = build_engine(database)
    instrument_engine(engine, provider)
    factory = session_factory(engine)
    try:
        targets = await _dispatched_targets(factory, 3)
        handlers = EventHandlers(
            factory,
            policy=RetryPolicy(max_attempts=3, base_s=5, max_s=60),
            clock=lambda: START,
            rng=random.Random(1),
            relay_wake=Wakeup(),
            scheduler_wake=Wakeup(),
            lock_rows=not is_sqlite(database),
            media_dir=tmp_path,
            tracer=provider.get_tracer("test"),
        )
        publisher = provider.get_tracer("publisher")
        producers = [publisher.start_span("posts.result.v1 publish") for _ in targets]
        for span in producers:
            span.end()
        # the consumer kit's batch span: the batch runs in its first record's trace
        with publisher.start_as_current_span(
            "posts.result.v1 process", context=trace.set_span_in_context(producers[0])
        ):
            await handlers.on_results(
                [
                    PublishResult(
                        type="failed",
                        post_id=t.post_id,
                        target_id=t.id,
                        account_id=t.account_id,
                        platform="tiktok",
                        attempt=1,
                        code="spam_risk",
                        reason="TikTok: spam risk",
                    )
                    for t in targets
                ],
                [trace.set_span_in_context(span) for span in producers],
            )
        async with factory() as session:
            statuses = set(await session.scalars(select(Target.status)))
        assert statuses == {"failed"}
    finally:
        await engine.dispose()

    spans = exporter.get_finished_spans()
    for producer in producers:
        trail = _in_trace(spans, producer.get_span_context().trace_id)
        (result_span,) = [s for s in trail if s.name == "queue result failed"]
        statements = [
            str((s.attributes or {}).get("db.statement", ""))
            for s in trail
            if s.parent is not None and s.parent.span_id == result_span.context.span_id
        ]
        # its status events (outbox rows, one multi-row INSERT at commit) carry this
        # trace's context: the relay sends each under a PRODUCER span of this trace
        assert any(st.startswith("UPDATE targets") for st in statements), statements
