"""The operator's notice of a failure is cut between whole characters (issue 11, item 3)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from sqlalchemy.ext.asyncio import create_async_engine

from cachalot_common.events import NotifyRequested
from cachalot_common.text import clusters, length
from cachalot_queue.outbox import session_factory
from cachalot_queue.states import Change
from cachalot_queue.tables import Target
from cachalot_queue.transitions import announce

KEYCAP = "1\ufe0f\u20e3"


async def test_a_long_failure_reason_reaches_the_operator_cut_between_whole_characters(
    tmp_path: Path,
):
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/q.db")
    target = Target(
        id=uuid.uuid4(),
        post_id=uuid.uuid4(),
        client_id=uuid.uuid4(),
        account_id=uuid.uuid4(),
        platform="youtube",
        status="failed",
        attempt=3,
    )
    reason = "x" + KEYCAP * 1500  # a platform's error text, longer than the notice allows
    change = Change(status="failed", reason=reason, code="platform_error", notify_operator=True)
    async with session_factory(engine)() as session:
        announce(session, target, "dispatched", change)
        rows = session.info["cachalot_outbox"]
    await engine.dispose()
    [notice] = [
        NotifyRequested.model_validate(json.loads(r["payload"]))
        for r in rows
        if r["topic"] == "notify.v1"
    ]
    assert length(notice.text, "utf16") <= 3500
    assert notice.text.endswith("…")
    kept = notice.text.split("reason: x", 1)[1].removesuffix("…")
    assert kept == KEYCAP * (len(kept) // 3)
    assert clusters(notice.text)[-2] == KEYCAP
