"""The operator's console at the queue: posts by status, trouble across clients, dead letters.

Every route needs an operator's session (:data:`~cachalot_common.sessions.CurrentOperator`:
401 without one, 403 for a client's); an operator watches and re-drives, it
never queues, retries or cancels a client's post (DESIGN.md "Roles").

* ``GET /api/v1/operator/posts/summary``: per client, its posts and its
  targets by status (the operator's clients table joins it with auth's list).
* ``GET /api/v1/operator/posts?status=failed|paused|unconfirmed|stuck``: targets of
  every client in trouble, with the reason and a link to their trace. *Unconfirmed*:
  the post may have gone out and nobody could look it up; the client checks (issue 10). *Stuck*: in
  flight (dispatched, publishing) and silent, or scheduled and not dispatched,
  for longer than ``CACHALOT_RECONCILE_AFTER_S``. The trace is the one of the
  target's latest dispatch (``targets.trace_id``, recorded by
  :func:`cachalot_queue.dispatch.send_command`), linked as
  ``CACHALOT_TRACE_URL_TEMPLATE`` with the trace id in it, when that is set.
* ``GET /api/v1/operator/dlq?topic=…``: the newest records of ``<topic>.dlq``;
  ``POST /api/v1/operator/dlq/redrive``: one of them back to its topic, with
  its key and the ``x-redriven-*`` headers, once (``dlq_redrives`` is the audit,
  written before the publish and removed again if the broker refuses it). A record is
  its position *and* its digest (timestamp, key, value, headers): after a broker
  restarted empty, new dead letters at old offsets are new records.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_common import platforms
from cachalot_common.dead_letters import (
    DeadLetterReader,
    Publish,
    record_digest,
    redrive,
    source_topics,
)
from cachalot_common.platforms import PlatformSpec
from cachalot_common.problems import Problem, problem_responses
from cachalot_common.sessions import CurrentOperator
from cachalot_common.telemetry import trace_link
from cachalot_common.text import prefix
from cachalot_common.untrusted import StrictJsonRoute
from cachalot_queue.schemas import PlatformList
from cachalot_queue.states import IN_FLIGHT
from cachalot_queue.tables import DlqRedrive, Post, Target

logger = logging.getLogger(__name__)

Trouble = Literal["failed", "paused", "unconfirmed", "stuck"]
DLQ_SOURCES = source_topics()


class RedriveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic: str = Field(
        max_length=200,
        description="The source topic; the record is read from <topic>.dlq.",
        json_schema_extra={"enum": list(DLQ_SOURCES)},
    )
    partition: int = Field(ge=0, le=100_000, description="The record's partition in the DLQ.")
    offset: int = Field(ge=0, description="The record's offset in the DLQ.")


def _topic(value: str, where: str) -> str:
    if value not in DLQ_SOURCES:
        raise Problem(
            422,
            f"Unknown topic {value!r}; one of {', '.join(DLQ_SOURCES)}.",
            errors=[{"field": "topic", "in": where, "message": "not a known topic"}],
        )
    return value


class OperatorConsole:
    """Reads for the console (the reader engine) and the re-drive (writer + broker)."""

    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        *,
        reader: async_sessionmaker[AsyncSession],
        dead_letters: DeadLetterReader,
        publish: Publish,
        clock: Callable[[], datetime],
        stuck_after_s: float,
        trace_url_template: str | None,
        publish_timeout_s: float = 10.0,
    ) -> None:
        self._factory = factory
        self._reader = reader
        self._letters = dead_letters
        self._publish = publish
        self._clock = clock
        self._stuck = timedelta(seconds=stuck_after_s)
        self._trace_template = trace_url_template
        self._publish_timeout_s = publish_timeout_s

    async def summary(self) -> list[dict[str, Any]]:
        """Per client: ``{client_id, posts, targets: {status: count}}``."""
        async with self._reader() as db:
            posts = (
                await db.execute(select(Post.client_id, func.count()).group_by(Post.client_id))
            ).all()
            targets = (
                await db.execute(
                    select(Target.client_id, Target.status, func.count()).group_by(
                        Target.client_id, Target.status
                    )
                )
            ).all()
        out: dict[UUID, dict[str, Any]] = {
            cid: {"client_id": str(cid), "posts": n, "targets": {}} for cid, n in posts
        }
        for cid, status, n in targets:
            out.setdefault(cid, {"client_id": str(cid), "posts": 0, "targets": {}})
            out[cid]["targets"][status] = n
        return list(out.values())

    async def troubled(self, status: Trouble, *, limit: int) -> list[dict[str, Any]]:
        """Targets of every client that are ``status`` (see the module doc), oldest change
        first, each with its post, reason, code and trace link."""
        now = self._clock()
        if status == "stuck":
            since = now - self._stuck
            where = or_(
                and_(Target.status.in_(IN_FLIGHT), Target.last_activity_at < since),
                and_(Target.status == "scheduled", Target.due_at < since),
            )
        else:
            where = Target.status == status
        async with self._reader() as db:
            rows = (
                await db.execute(
                    select(Target, Post.kind, Post.scheduled_at)
                    .join(Post, Post.id == Target.post_id)
                    .where(where)
                    .order_by(Target.updated_at, Target.id)
                    .limit(limit)
                )
            ).all()
        return [self._public(t, kind, at, stuck=status == "stuck") for t, kind, at in rows]

    def _public(
        self, target: Target, kind: str, scheduled_at: datetime, *, stuck: bool
    ) -> dict[str, Any]:
        reason = target.last_error
        if stuck and not reason:
            if target.status == "scheduled":
                reason = f"due since {target.due_at:%Y-%m-%d %H:%M} UTC and not dispatched"
            else:
                reason = f"{target.status} and silent since {target.last_activity_at} (UTC)"
        return {
            "post_id": str(target.post_id),
            "target_id": str(target.id),
            "client_id": str(target.client_id),
            "account_id": str(target.account_id),
            "platform": target.platform,
            "kind": kind,
            "status": target.status,
            "stuck": stuck,
            "reason": reason,
            "code": target.last_code,
            "attempt": target.attempt,
            "scheduled_at": scheduled_at.isoformat(),
            "updated_at": target.updated_at.isoformat(),
            "trace_id": target.trace_id,
            "trace_url": trace_link(self._trace_template, target.trace_id),
        }

    async def dead_letters(self, topic: str, *, limit: int) -> list[dict[str, Any]]:
        """The newest records of ``<topic>.dlq`` (newest first), each marked if re-driven."""
        letters = await self._letters.latest(topic, limit=limit)
        async with self._reader() as db:
            done = {
                (p, o, d): (str(by), at)
                for p, o, d, by, at in (
                    await db.execute(
                        select(
                            DlqRedrive.dlq_partition,
                            DlqRedrive.dlq_offset,
                            DlqRedrive.record_digest,
                            DlqRedrive.operator_id,
                            DlqRedrive.redriven_at,
                        ).where(DlqRedrive.dlq_topic == f"{topic}.dlq")
                    )
                ).all()
            }
        out = []
        for letter in letters:
            item = letter.public()
            by_at = done.get((letter.partition, letter.offset, record_digest(letter)))
            item["redriven_by"] = by_at[0] if by_at else None
            item["redriven_at"] = by_at[1].isoformat() if by_at else None
            out.append(item)
        return out

    async def redrive(self, body: RedriveIn, *, operator_id: UUID) -> dict[str, Any]:
        """Send one dead letter back to its topic, once, recording who and when.

        The audit row is committed first (its unique key makes a second re-drive a
        409), then the message is published, within ``publish_timeout_s``; if the
        broker does not take it the row is deleted again (503, try again). No
        database transaction waits on the broker. Raises :class:`Problem` 404 (no
        such record), 409 (already re-driven) or 503.
        """
        letter = await self._letters.one(body.topic, partition=body.partition, offset=body.offset)
        if letter is None:
            raise Problem(
                404,
                f"{body.topic}.dlq has no record at partition {body.partition}, "
                f"offset {body.offset}.",
            )
        # the audit row keeps the key and reason as the console shows them (redacted: a
        # parked record may carry a token); the record re-driven to Kafka is unaltered
        public = letter.public()
        row = DlqRedrive(
            dlq_topic=letter.dlq_topic,
            dlq_partition=letter.partition,
            dlq_offset=letter.offset,
            record_digest=record_digest(letter),
            source_topic=letter.source_topic or body.topic,
            key=prefix(public["key"], 200) if public["key"] else None,
            reason=public["reason"],
            operator_id=operator_id,
            redriven_at=self._clock(),
        )
        try:
            async with self._factory() as db, db.begin():
                db.add(row)
        except IntegrityError:
            raise Problem(
                409,
                "This message was already re-driven; a new failure parks a new record.",
                title="Already re-driven",
            ) from None
        try:
            target = await asyncio.wait_for(
                redrive(letter, self._publish, by=str(operator_id)), self._publish_timeout_s
            )
        except Exception:
            async with self._factory() as db, db.begin():
                await db.execute(delete(DlqRedrive).where(DlqRedrive.id == row.id))
            raise
        logger.warning(
            "operator %s re-drove %s/%s/%s to %s",
            operator_id,
            letter.dlq_topic,
            letter.partition,
            letter.offset,
            target,
        )
        return {"topic": target, **letter.public()}


TopicQuery = Annotated[
    str,
    Query(
        max_length=200,
        description="The source topic; its <topic>.dlq is read.",
        json_schema_extra={"enum": list(DLQ_SOURCES)},
    ),
]


def build_operator_router(
    console: OperatorConsole, registry: Mapping[str, PlatformSpec] | None = None
) -> APIRouter:
    """The console's routes; every one needs an operator session. ``registry``: the
    platforms ``GET /platforms`` describes (default :data:`cachalot_common.platforms.REGISTRY`)."""
    router = APIRouter(
        prefix="/api/v1/operator",
        route_class=StrictJsonRoute,
        tags=["operator"],
        responses=problem_responses(401, 403, 422),
    )

    @router.get("/platforms", response_model=PlatformList)
    async def operator_platforms(operator: CurrentOperator) -> PlatformList:
        """The platform catalogue the client's dashboard reads (``GET /api/v1/posts/platforms``),
        so the operator's page words every option of a proposal as the client's does."""
        return PlatformList.of(registry if registry is not None else platforms.REGISTRY)

    @router.get("/posts/summary")
    async def posts_summary(operator: CurrentOperator) -> dict[str, Any]:
        """Per client: how many posts, and its targets by status."""
        return {"items": await console.summary()}

    @router.get("/posts")
    async def troubled_posts(
        operator: CurrentOperator,
        status: Trouble,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> dict[str, Any]:
        """Targets of all clients that failed, are paused, unconfirmed or stuck: reason and
        trace link."""
        return {"items": await console.troubled(status, limit=limit)}

    @router.get("/dlq", responses=problem_responses(503))
    async def dead_letters(
        operator: CurrentOperator,
        topic: TopicQuery,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> dict[str, Any]:
        """The newest records of ``<topic>.dlq``: key, reason, source, value."""
        topic = _topic(topic, "query")
        try:
            return {"topic": topic, "items": await console.dead_letters(topic, limit=limit)}
        except Exception as error:  # the broker: the operator can only try again
            if isinstance(error, Problem):
                raise
            logger.warning("dead letters of %s not read: %s", topic, type(error).__name__)
            raise Problem(
                503, "The broker could not be read right now.", headers={"Retry-After": "5"}
            ) from None

    @router.post("/dlq/redrive", responses=problem_responses(404, 409, 503))
    async def redrive_dead_letter(operator: CurrentOperator, body: RedriveIn) -> dict[str, Any]:
        """Send one dead letter back to its topic (same key and value, once; audited)."""
        _topic(body.topic, "body")
        try:
            return await console.redrive(body, operator_id=operator.client_id)
        except Problem:
            raise
        except Exception as error:
            logger.warning("re-drive failed: %s", type(error).__name__)
            raise Problem(
                503, "The broker did not take the message; try again.", headers={"Retry-After": "5"}
            ) from None

    return router


def broker_publish(broker: Any) -> Publish:
    """A :data:`Publish` over a FastStream ``KafkaBroker`` (acks as the broker is set up)."""

    async def publish(
        value: bytes, topic: str, key: bytes | None, headers: Mapping[str, str]
    ) -> None:
        await broker.publish(value, topic=topic, key=key, headers=dict(headers))

    return publish
