"""The lease cache: reused while valid and granted, renewed near expiry, one refresh per 401."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from cachalot_publishing.outcome import Outcome
from cachalot_publishing.token import CommandTokens, LeaseCache, TokenRejected

from .fakes import FakeLeases, make_command, store_video


async def token_of(tokens: CommandTokens) -> str:
    async def echo(token: str) -> str:
        return token

    return await tokens.call(echo)


async def test_a_lease_close_to_its_expiry_is_not_served_from_the_cache(tmp_path: Path) -> None:
    video = store_video(tmp_path)
    leases = FakeLeases(lifetime_s=30)  # inside the 60 s renewal margin
    cache = LeaseCache(leases, label="TikTok")
    account, client = uuid.uuid4(), uuid.uuid4()
    for _ in range(2):
        command = make_command(video, account_id=account, client_id=client)
        await token_of(CommandTokens(cache, command, "TikTok"))
    assert len(leases.calls) == 2


async def test_one_command_leases_once_however_many_calls_it_makes(tmp_path: Path) -> None:
    video = store_video(tmp_path)
    leases = FakeLeases()
    tokens = CommandTokens(LeaseCache(leases, label="TikTok"), make_command(video), "TikTok")
    first = await token_of(tokens)
    assert [await token_of(tokens) for _ in range(3)] == [first] * 3
    assert len(leases.calls) == 1


async def test_a_second_refusal_in_the_same_command_asks_for_reauth(tmp_path: Path) -> None:
    video = store_video(tmp_path)
    leases = FakeLeases()
    tokens = CommandTokens(LeaseCache(leases, label="TikTok"), make_command(video), "TikTok")

    async def refused(token: str) -> str:
        raise TokenRejected

    with pytest.raises(Outcome) as ended:
        await tokens.call(refused)
    assert (ended.value.kind, ended.value.code) == ("reauth", "reauth_required")
    assert [c["force_refresh"] for c in leases.calls] == [False, True]
