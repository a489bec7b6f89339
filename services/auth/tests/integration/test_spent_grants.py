"""A publish grant leases nothing once its attempt is over (issue 8 item 3).

The queue's ``posts.status.v1`` tells auth when a target's attempt ends; a
publisher holding that attempt's grant (and its own service credentials) is
then refused with 403 ``grant_spent``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker, TestKafkaBroker
from sqlalchemy import event as sa_event
from sqlalchemy import func, select, update

from cachalot_auth.models import SpentAttempt
from cachalot_common.events import PostStatusChanged, TargetStatus
from cachalot_common.kafka import encode
from cachalot_common.leases import LeaseRefused
from cachalot_common.topics import POSTS_STATUS


async def connected_tiktok(auth: Any, sign_in: Any, consent: Any) -> str:
    async with auth.browser() as browser:
        await sign_in(browser, "tiktok")
        await consent(browser)
        return str((await browser.get("/api/v1/accounts")).json()[0]["id"])


def status_event(
    account: Any,
    *,
    post_id: uuid.UUID,
    target_id: uuid.UUID,
    status: TargetStatus,
    attempt: int,
) -> PostStatusChanged:
    return PostStatusChanged(
        post_id=post_id,
        target_id=target_id,
        client_id=uuid.UUID(account.client_id),
        account_id=uuid.UUID(account.id),
        platform=account.platform,
        status=status,
        attempt=attempt,
    )


async def through_test_broker(auth: Any, *events: PostStatusChanged) -> None:
    """Deliver ``events`` to the subscriber auth registers, in FastStream's test broker."""
    broker = KafkaBroker()
    auth.app.state.attempts.subscribe(broker)
    async with TestKafkaBroker(broker) as test_broker:
        for event in events:
            await test_broker.publish(encode(event), topic=POSTS_STATUS, key=str(event.post_id))


async def lease_with(
    auth: Any, lease_client: Any, account_id: str, post_id: uuid.UUID, grant: str
) -> Any:
    async with httpx.AsyncClient() as http:
        return await (
            lease_client(auth, http)
            .client("publisher-tiktok")
            .lease(uuid.UUID(account_id), post_id=post_id, grant=grant)
        )


async def refusal(
    auth: Any, lease_client: Any, account_id: str, post_id: uuid.UUID, grant: str
) -> tuple[int, str, bool]:
    with pytest.raises(LeaseRefused) as refused:
        await lease_with(auth, lease_client, account_id, post_id, grant)
    return refused.value.status, refused.value.code, refused.value.retryable


@pytest.mark.parametrize("ending", ["published", "cancelled", "failed", "paused", "scheduled"])
async def test_a_grant_of_an_attempt_that_is_over_is_refused_as_grant_spent(
    auth, sign_in, consent, lease_client, grant, account_row, ending, caplog
):
    account_id = await connected_tiktok(auth, sign_in, consent)
    account = await account_row(auth, account_id)
    post_id, target_id = uuid.uuid4(), uuid.uuid4()
    signed = grant(account, post_id=post_id, target_id=target_id, attempt=1)
    ids = {"post_id": post_id, "target_id": target_id}
    await through_test_broker(
        auth,
        status_event(account, **ids, status="dispatched", attempt=1),
        status_event(account, **ids, status="publishing", attempt=1),
    )
    assert (await lease_with(auth, lease_client, account_id, post_id, signed)).access_token
    await through_test_broker(auth, status_event(account, **ids, status=ending, attempt=1))
    assert await refusal(auth, lease_client, account_id, post_id, signed) == (
        403,
        "grant_spent",
        False,
    )
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"target={target_id} attempt=1 refusal=grant_spent" in logged
    assert signed not in logged


async def test_a_re_dispatched_target_refuses_the_old_attempts_grant_and_takes_the_new_one(
    auth, sign_in, consent, lease_client, grant, account_row
):
    account_id = await connected_tiktok(auth, sign_in, consent)
    account = await account_row(auth, account_id)
    post_id, target_id = uuid.uuid4(), uuid.uuid4()
    ids = {"post_id": post_id, "target_id": target_id}
    first = grant(account, **ids, attempt=1)
    second = grant(account, **ids, attempt=2)
    # only the newer dispatch is seen (the retryable "scheduled" lost or late): it is enough
    await through_test_broker(auth, status_event(account, **ids, status="dispatched", attempt=2))
    assert await refusal(auth, lease_client, account_id, post_id, first) == (
        403,
        "grant_spent",
        False,
    )
    assert (await lease_with(auth, lease_client, account_id, post_id, second)).access_token
    # an old event delivered again revives nothing
    await through_test_broker(auth, status_event(account, **ids, status="dispatched", attempt=1))
    assert await refusal(auth, lease_client, account_id, post_id, first) == (
        403,
        "grant_spent",
        False,
    )
    assert (await lease_with(auth, lease_client, account_id, post_id, second)).access_token


async def test_a_new_post_and_events_without_an_attempt_spend_nothing(
    auth, sign_in, consent, lease_client, grant, account_row
):
    account_id = await connected_tiktok(auth, sign_in, consent)
    account = await account_row(auth, account_id)
    post_id, target_id = uuid.uuid4(), uuid.uuid4()
    ids = {"post_id": post_id, "target_id": target_id}
    legacy = status_event(account, **ids, status="published", attempt=1).model_copy(
        update={"attempt": None}
    )
    await through_test_broker(
        auth, status_event(account, **ids, status="scheduled", attempt=0), legacy
    )
    signed = grant(account, **ids, attempt=1)
    assert (await lease_with(auth, lease_client, account_id, post_id, signed)).access_token
    async with auth.app.state.factory() as db:
        assert await db.scalar(select(func.count()).select_from(SpentAttempt)) == 0


async def test_a_batch_of_status_events_is_written_in_one_transaction_keeping_each_highest(
    auth, sign_in, consent, lease_client, grant, account_row
):
    account_id = await connected_tiktok(auth, sign_in, consent)
    account = await account_row(auth, account_id)
    post_id = uuid.uuid4()
    one, two, three = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    batch = [
        status_event(account, post_id=post_id, target_id=one, status="dispatched", attempt=1),
        status_event(account, post_id=post_id, target_id=two, status="scheduled", attempt=2),
        status_event(account, post_id=post_id, target_id=one, status="published", attempt=1),
        status_event(account, post_id=post_id, target_id=two, status="dispatched", attempt=1),
        status_event(account, post_id=post_id, target_id=three, status="dispatched", attempt=1),
    ]
    engine = auth.app.state.factory.kw["bind"].sync_engine
    commits: list[object] = []
    listener = commits.append
    sa_event.listen(engine, "commit", listener)
    try:
        broker = KafkaBroker()
        auth.app.state.attempts.subscribe(broker)
        async with TestKafkaBroker(broker) as test_broker:
            await test_broker.publish_batch(*(encode(e) for e in batch), topic=POSTS_STATUS)
    finally:
        sa_event.remove(engine, "commit", listener)
    assert len(commits) == 1, "one transaction for the whole batch"
    async with auth.app.state.factory() as db:
        rows = dict(
            (await db.execute(select(SpentAttempt.target_id, SpentAttempt.over_through)))
            .tuples()
            .all()
        )
    assert rows == {str(one): 1, str(two): 2}, "a dispatch of attempt 1 ends nothing"
    assert await refusal(
        auth,
        lease_client,
        account_id,
        post_id,
        grant(account, post_id=post_id, target_id=two, attempt=2),
    ) == (403, "grant_spent", False)
    third = grant(account, post_id=post_id, target_id=three, attempt=1)
    assert (await lease_with(auth, lease_client, account_id, post_id, third)).access_token


async def test_the_memory_survives_a_restart_and_is_pruned_once_grants_expired(
    fresh_sandbox, tmp_path, start_auth, sign_in, consent, lease_client, grant, account_row
):
    url = f"sqlite+aiosqlite:///{tmp_path}/auth.db"
    post_id, target_id = uuid.uuid4(), uuid.uuid4()
    ids = {"post_id": post_id, "target_id": target_id}
    async with start_auth(url) as before:
        account_id = await connected_tiktok(before, sign_in, consent)
        account = await account_row(before, account_id)
        signed = grant(account, **ids, attempt=1)
        await through_test_broker(
            before, status_event(account, **ids, status="published", attempt=1)
        )
    async with start_auth(url) as after:
        assert await refusal(after, lease_client, account_id, post_id, signed) == (
            403,
            "grant_spent",
            False,
        )
        async with after.app.state.factory() as db, db.begin():
            await db.execute(
                update(SpentAttempt).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        other = uuid.uuid4()
        await through_test_broker(
            after,
            status_event(account, post_id=post_id, target_id=other, status="failed", attempt=3),
        )
        async with after.app.state.factory() as db:
            kept = (await db.scalars(select(SpentAttempt.target_id))).all()
    assert kept == [str(other)], "the expired row is pruned, the fresh one kept"


async def test_a_status_event_on_the_real_broker_spends_the_grant_within_seconds(
    start_auth, tmp_path, kafka_bootstrap, sign_in, consent, lease_client, grant, account_row
):
    async with start_auth(
        f"sqlite+aiosqlite:///{tmp_path}/auth.db",
        kafka_bootstrap=kafka_bootstrap,
        kafka_idempotence=False,
        kafka_session_timeout_ms=3000,
        app_options={"use_kafka": True},
    ) as auth:
        account_id = await connected_tiktok(auth, sign_in, consent)
        account = await account_row(auth, account_id)
        post_id, target_id = uuid.uuid4(), uuid.uuid4()
        ids = {"post_id": post_id, "target_id": target_id}
        signed = grant(account, **ids, attempt=1)
        assert (await lease_with(auth, lease_client, account_id, post_id, signed)).access_token
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            event = status_event(account, **ids, status="cancelled", attempt=1)
            await producer.send_and_wait(POSTS_STATUS, encode(event), key=str(post_id).encode())
        finally:
            await producer.stop()
        sent = time.monotonic()
        code = None
        async with asyncio.timeout(60):  # the first group join on Tansu takes seconds
            while code != "grant_spent":
                try:
                    await lease_with(auth, lease_client, account_id, post_id, signed)
                except LeaseRefused as refused:
                    code = refused.code
                else:
                    await asyncio.sleep(0.2)
        waited = time.monotonic() - sent
    assert code == "grant_spent"
    assert waited < 60


async def test_on_postgresql_concurrent_events_of_one_target_keep_the_highest_attempt(
    auth_pg, sign_in, consent, lease_client, grant, account_row
):
    account_id = await connected_tiktok(auth_pg, sign_in, consent)
    account = await account_row(auth_pg, account_id)
    post_id, target_id = uuid.uuid4(), uuid.uuid4()
    ids = {"post_id": post_id, "target_id": target_id}
    ledger = auth_pg.app.state.attempts
    await asyncio.gather(
        *(
            ledger.on_status(status_event(account, **ids, status="scheduled", attempt=n))
            for n in (1, 4, 2, 3)
        )
    )
    async with auth_pg.app.state.factory() as db:
        assert await db.scalar(select(SpentAttempt.over_through)) == 4
    assert await refusal(
        auth_pg, lease_client, account_id, post_id, grant(account, **ids, attempt=4)
    ) == (403, "grant_spent", False)
    fifth = grant(account, **ids, attempt=5)
    assert (await lease_with(auth_pg, lease_client, account_id, post_id, fifth)).access_token
