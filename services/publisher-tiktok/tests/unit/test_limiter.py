"""TikTok's per-minute limits say how long to wait instead of sleeping."""

from __future__ import annotations

import uuid

from cachalot_publisher_tiktok.limiter import AccountLimiter


def test_calls_within_the_limit_need_no_wait_and_the_next_waits_for_the_oldest() -> None:
    now = [1000.0]
    limiter = AccountLimiter({"init": 6, "creator_info": 20, "status": 30}, clock=lambda: now[0])
    account = uuid.uuid4()
    for second in range(6):
        now[0] = 1000.0 + second
        assert limiter.wait_s(account, "init") == 0.0
    assert limiter.wait_s(account, "init") == 55.0  # the first call leaves the minute at 1060
    assert limiter.wait_s(uuid.uuid4(), "init") == 0.0, "another account has its own budget"
    now[0] = 1060.0
    assert limiter.wait_s(account, "init") == 0.0
