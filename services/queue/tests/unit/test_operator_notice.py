"""A failure reaches the operator once: from posts.status.v1 through the notifier (issue 10)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from sqlalchemy.ext.asyncio import create_async_engine

from cachalot_common.events import PostStatusChanged
from cachalot_queue.outbox import session_factory
from cachalot_queue.states import Change
from cachalot_queue.tables import Target
from cachalot_queue.transitions import announce

KEYCAP = "1\ufe0f\u20e3"


async def test_a_failure_is_announced_once_on_posts_status_and_not_again_as_a_notify(
    tmp_path: Path,
):
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/q.db")
    target = Target(
        id=uuid.uuid4(),
        post_id=uuid.uuid4(),
        client_id=uuid.uuid4(),
        account_id=uuid.uuid4(),
        platform="vk",
        status="failed",
        attempt=3,
    )
    reason = "x" + KEYCAP * 1500
    change = Change(status="failed", reason=reason, code="platform_error", notify_operator=True)
    async with session_factory(engine)() as session:
        announce(session, target, "dispatched", change)
        rows = session.info["cachalot_outbox"]
    await engine.dispose()
    assert [r["topic"] for r in rows] == ["posts.status.v1"]  # the notifier tells the operator
    [event] = [PostStatusChanged.model_validate(json.loads(r["payload"])) for r in rows]
    assert (event.status, event.reason, event.attempt) == ("failed", reason, 3)
    # the code goes too: the notifier words it in the client's language (issue 12 item 5)
    assert event.code == "platform_error"
