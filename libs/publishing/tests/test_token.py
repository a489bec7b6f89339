"""The lease cache: reused while valid and granted, renewed near expiry, one refresh per 401."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest
from opentelemetry import trace

from cachalot_common.events import PublishPost
from cachalot_common.grants import generate_signing_key, mint_grant
from cachalot_common.leases import Lease, LeaseAsk, LeaseError, LeaseReauthRequired
from cachalot_publishing.outcome import Outcome
from cachalot_publishing.token import CommandTokens, LeaseCache, LeaseChanged, TokenRejected

from .fakes import GRANT_KEY, FakeLeases, forged_grants, make_command, store_video

KEYS = GRANT_KEY.ring()  # the publisher's ring: the queue's public key


async def token_of(tokens: CommandTokens) -> str:
    async def echo(token: str) -> str:
        return token

    return await tokens.call(echo)


async def test_a_lease_close_to_its_expiry_is_not_served_from_the_cache(tmp_path: Path) -> None:
    video = store_video(tmp_path)
    leases = FakeLeases(lifetime_s=30)  # inside the 60 s renewal margin
    cache = LeaseCache(leases, label="TikTok", grant_keys=KEYS)
    account, client = uuid.uuid4(), uuid.uuid4()
    for _ in range(2):
        command = make_command(video, account_id=account, client_id=client)
        await token_of(CommandTokens(cache, command, "TikTok"))
    assert len(leases.calls) == 2


async def test_one_command_leases_once_however_many_calls_it_makes(tmp_path: Path) -> None:
    video = store_video(tmp_path)
    leases = FakeLeases()
    tokens = CommandTokens(
        LeaseCache(leases, label="TikTok", grant_keys=KEYS), make_command(video), "TikTok"
    )
    first = await token_of(tokens)
    assert [await token_of(tokens) for _ in range(3)] == [first] * 3
    assert len(leases.calls) == 1


async def test_a_second_refusal_in_the_same_command_asks_for_reauth_and_tells_auth(
    tmp_path: Path,
) -> None:
    video = store_video(tmp_path)
    leases = FakeLeases()
    command = make_command(video)
    tokens = CommandTokens(LeaseCache(leases, label="TikTok", grant_keys=KEYS), command, "TikTok")

    async def refused(token: str) -> str:
        raise TokenRejected

    with pytest.raises(Outcome) as ended:
        await tokens.call(refused)
    assert (ended.value.kind, ended.value.code) == ("reauth", "reauth_required")
    assert [c["force_refresh"] for c in leases.calls] == [False, True]
    # the account shows it (issue 10); the report names the refused (refreshed) lease's
    # version, so auth can ignore it if the client reconnected meanwhile
    assert leases.rejections == [(command.account_id, 2)]


async def test_missing_consent_ends_the_command_with_its_own_code_and_what_to_do(
    tmp_path: Path,
) -> None:
    video = store_video(tmp_path)
    command = make_command(video)
    leases = FakeLeases(
        failures={command.account_id: LeaseReauthRequired("consent_required", "no consent yet")}
    )
    tokens = CommandTokens(LeaseCache(leases, label="TikTok", grant_keys=KEYS), command, "TikTok")
    with pytest.raises(Outcome) as ended:
        await token_of(tokens)
    assert (ended.value.kind, ended.value.code) == ("reauth", "consent_required")
    assert ended.value.reason.startswith("TikTok: ")
    assert "18 or over and give an email" in ended.value.reason
    assert "Reconnect" not in ended.value.reason


async def test_another_lease_refusal_pauses_with_auths_own_reason_and_code(tmp_path: Path) -> None:
    video = store_video(tmp_path)
    command = make_command(video)
    leases = FakeLeases(
        failures={
            command.account_id: LeaseReauthRequired("channel_not_linked", "link a channel first")
        }
    )
    tokens = CommandTokens(
        LeaseCache(leases, label="Telegram", grant_keys=KEYS), command, "Telegram"
    )
    with pytest.raises(Outcome) as ended:
        await tokens.lease()
    assert (ended.value.kind, ended.value.code) == ("reauth", "channel_not_linked")
    assert ended.value.reason == "Telegram: not posted yet: link a channel first."


async def test_the_whole_lease_with_its_destination_is_handed_to_the_command(
    tmp_path: Path,
) -> None:
    video = store_video(tmp_path)
    tokens = CommandTokens(
        LeaseCache(FakeLeases(), label="TikTok", grant_keys=KEYS), make_command(video), "TikTok"
    )
    lease = await tokens.lease()
    assert lease.destination is None  # none of TikTok's; Telegram's is the linked channel
    assert await token_of(tokens) == lease.access_token


async def test_a_command_with_a_valid_grant_of_the_same_account_and_client_reuses_the_lease(
    tmp_path: Path,
) -> None:
    video = store_video(tmp_path)
    leases = FakeLeases()
    cache = LeaseCache(leases, label="TikTok", grant_keys=KEYS)
    account, client = uuid.uuid4(), uuid.uuid4()
    first, second = (make_command(video, account_id=account, client_id=client) for _ in range(2))
    tokens = [await token_of(CommandTokens(cache, c, "TikTok")) for c in (first, second)]
    assert tokens[0] == tokens[1]
    assert len(leases.calls) == 1


@pytest.mark.parametrize(
    "forgery",
    [
        "unsigned",
        "another Ed25519 key under the queue's kid",
        "HS256 with a guessed secret",
        "HS256 keyed with the public key",
        "a signature cut off",
    ],
)
async def test_a_forged_command_never_receives_the_accounts_cached_token(
    tmp_path: Path, forgery: str
) -> None:
    """Someone who can write to the publish topic copies a real command's ids into a
    grant the queue did not sign: the cache does not serve it, auth refuses it."""
    video = store_video(tmp_path)
    leases = FakeLeases()
    cache = LeaseCache(leases, label="TikTok", grant_keys=KEYS)
    account, client = uuid.uuid4(), uuid.uuid4()
    cached = await token_of(
        CommandTokens(cache, make_command(video, account_id=account, client_id=client), "TikTok")
    )
    forged = make_command(video, account_id=account, client_id=client)
    forged = forged.model_copy(update={"grant": forged_grants(forged)[forgery]})
    with pytest.raises(Outcome) as ended:
        await token_of(CommandTokens(cache, forged, "TikTok"))
    assert (ended.value.kind, ended.value.code) == ("failed", "lease_refused")
    assert cached not in str(ended.value)
    assert len(leases.calls) == 2, "the forged command went to auth, which refused it"


async def test_a_grant_signed_with_a_key_the_publisher_no_longer_trusts_gets_no_cached_token(
    tmp_path: Path,
) -> None:
    """After a rotation drops the old key from the ring, its grants stop opening the cache."""
    video = store_video(tmp_path)
    leases = FakeLeases()
    retired = generate_signing_key("retired")
    cache = LeaseCache(leases, label="TikTok", grant_keys={**KEYS})
    account, client = uuid.uuid4(), uuid.uuid4()
    await token_of(
        CommandTokens(cache, make_command(video, account_id=account, client_id=client), "TikTok")
    )
    command = make_command(video, account_id=account, client_id=client)
    old = mint_grant(
        post_id=command.post_id,
        target_id=command.target_id,
        client_id=command.client_id,
        account_id=command.account_id,
        platform=command.platform,
        attempt=command.attempt,
        key=retired,
        lifetime_s=3600,
    )
    with pytest.raises(Outcome):
        await token_of(CommandTokens(cache, command.model_copy(update={"grant": old}), "TikTok"))
    assert len(leases.calls) == 2


async def test_a_valid_grant_for_another_target_or_attempt_gets_no_cached_token(
    tmp_path: Path,
) -> None:
    """A real grant replayed from the topic onto another command of the same account."""
    video = store_video(tmp_path)
    leases = FakeLeases()
    cache = LeaseCache(leases, label="TikTok", grant_keys=KEYS)
    account, client = uuid.uuid4(), uuid.uuid4()
    real = make_command(video, account_id=account, client_id=client)
    await token_of(CommandTokens(cache, real, "TikTok"))
    replays = [
        make_command(video, account_id=account, client_id=client).model_copy(
            update={"grant": real.grant}
        ),
        real.model_copy(update={"attempt": real.attempt + 1}),
    ]
    for replay in replays:
        await token_of(CommandTokens(cache, replay, "TikTok"))  # the fake auth binds no ids
    assert len(leases.calls) == 3


async def test_an_expired_grant_gets_no_cached_token(tmp_path: Path) -> None:
    video = store_video(tmp_path)
    leases = FakeLeases()
    later = time.time() + 7200  # past the grants' hour
    cache = LeaseCache(leases, label="TikTok", grant_keys=KEYS, clock=lambda: later)
    leases.lifetime_s = 4 * 3600
    account, client = uuid.uuid4(), uuid.uuid4()
    await token_of(
        CommandTokens(cache, make_command(video, account_id=account, client_id=client), "TikTok")
    )
    await token_of(
        CommandTokens(cache, make_command(video, account_id=account, client_id=client), "TikTok")
    )
    assert len(leases.calls) == 2


async def test_a_lease_confirmed_before_the_last_step_asks_auth_and_stops_a_disconnected_account(
    tmp_path: Path,
) -> None:
    video = store_video(tmp_path)
    command = make_command(video)
    leases = FakeLeases()
    tokens = CommandTokens(LeaseCache(leases, label="Instagram", grant_keys=KEYS), command, "IG")
    await tokens.token()
    await tokens.confirm()  # still connected: auth asked again, not the cache
    assert [c["force_refresh"] for c in leases.calls] == [False, False]
    leases.failures[command.account_id] = LeaseReauthRequired("revoked", "disconnected")
    await tokens.token()  # the cache would still serve the token...
    with pytest.raises(Outcome) as ended:
        await tokens.confirm()  # ...but auth, asked before publishing, refuses it
    assert (ended.value.kind, ended.value.code) == ("reauth", "revoked")
    assert len(leases.calls) == 3


@pytest.mark.parametrize("change", ["destination", "platform_user_id"])
async def test_a_confirmed_lease_whose_terms_changed_since_the_cached_one_stops_the_plan(
    tmp_path: Path, change: str
) -> None:
    """lease10: a cached lease served the old channel to the first post after a relink."""
    video = store_video(tmp_path)
    leases = FakeLeases()
    cache = LeaseCache(leases, label="Telegram", grant_keys=KEYS)
    account, client = uuid.uuid4(), uuid.uuid4()
    leases.destinations[account] = "-1001"
    first = CommandTokens(cache, make_command(video, account_id=account, client_id=client), "T")
    await first.lease()
    await first.confirm()  # nothing changed: no stop
    if change == "destination":
        leases.destinations[account] = "-1002"  # the client linked another channel
    else:
        leases.people[account] = "another-person"  # the client reconnected as someone else
    second = CommandTokens(cache, make_command(video, account_id=account, client_id=client), "T")
    assert (await second.lease()).destination == "-1001"  # the cache's, from before
    with pytest.raises(LeaseChanged):
        await second.confirm()
    assert (await second.lease()).destination == leases.destinations[account]
    await second.confirm()  # planned again by the confirmed terms: goes on
    third = CommandTokens(cache, make_command(video, account_id=account, client_id=client), "T")
    assert (await third.lease()).terms() == (await second.lease()).terms()  # the cache learnt


async def test_a_token_refreshed_since_the_cached_lease_does_not_stop_the_plan(
    tmp_path: Path,
) -> None:
    """fresh11e: auth bumps ``token_version`` on every refresh; counted as a changed term,
    every command whose lease auth refreshed before its confirmation was planned again,
    and with tokens living less than auth's refresh margin none ever got through."""
    video = store_video(tmp_path)
    leases = FakeLeases()
    cache = LeaseCache(leases, label="YouTube", grant_keys=KEYS)
    account, client = uuid.uuid4(), uuid.uuid4()
    first = CommandTokens(cache, make_command(video, account_id=account, client_id=client), "Y")
    before = await first.lease()
    leases.versions[account] += 1  # auth refreshed the token on its own
    await first.confirm()  # same person, scopes and destination: goes on
    assert (await first.lease()).token_version == before.token_version + 1


async def test_confirmations_asked_while_one_is_out_go_together_each_checked_when_auth_gets_it(
    tmp_path: Path,
) -> None:
    """Issue 9's race with batched confirmations: account C is disconnected after its
    command asked for confirmation, while it waits behind the request out; auth's check
    is made when the batch reaches it, so C is refused and B and D go on."""
    video = store_video(tmp_path)
    leases = FakeLeases(hold=True)
    cache = LeaseCache(leases, label="TikTok", grant_keys=KEYS, confirm_batch_max=50)
    a, b, c, d = (make_command(video) for _ in range(4))
    for command in (a, b, c, d):
        await token_of(CommandTokens(cache, command, "TikTok"))  # leased: now in the cache
    first = asyncio.create_task(cache.confirm(a))
    while not leases.batches:  # A's confirmation went at once, alone
        await asyncio.sleep(0)
    waiting = [asyncio.create_task(cache.confirm(x)) for x in (b, c, d)]
    await asyncio.sleep(0)
    assert leases.batches == [[a.account_id]]  # B, C, D wait for the request out
    leases.failures[c.account_id] = LeaseReauthRequired("revoked", "disconnected")
    leases.hold = False
    leases.release.set()
    assert (await first).account_id == a.account_id
    ended = await asyncio.gather(*waiting, return_exceptions=True)
    assert leases.batches == [[a.account_id], [b.account_id, c.account_id, d.account_id]]
    assert cache.confirmations.requests == 2
    assert [getattr(x, "account_id", None) for x in ended] == [b.account_id, None, d.account_id]
    assert isinstance(ended[1], Outcome)
    assert (ended[1].kind, ended[1].code) == ("reauth", "revoked")
    with pytest.raises(Outcome):  # C's cached lease is gone with it: auth is asked again
        await token_of(CommandTokens(cache, c, "TikTok"))


async def test_a_batch_never_carries_more_than_its_limit_and_a_stopped_sender_leaves_no_one_waiting(
    tmp_path: Path,
) -> None:
    video = store_video(tmp_path)
    leases = FakeLeases(hold=True)
    cache = LeaseCache(leases, label="TikTok", grant_keys=KEYS, confirm_batch_max=2)
    commands = [make_command(video) for _ in range(5)]
    asked = [asyncio.create_task(cache.confirm(x)) for x in commands]
    while not leases.batches:
        await asyncio.sleep(0)
    await cache.confirmations.aclose()
    ended = await asyncio.gather(*asked, return_exceptions=True)
    assert all(isinstance(x, Outcome) and x.code == "lease_unavailable" for x in ended)
    leases.hold = False
    leases.release.set()
    done = await asyncio.gather(*(cache.confirm(x) for x in commands))
    assert [x.account_id for x in done] == [x.account_id for x in commands]
    assert [len(batch) for batch in leases.batches] == [2, 2, 2, 1]  # the first one stopped


async def test_confirmations_asked_within_the_gathering_time_go_in_one_request_checked_after(
    tmp_path: Path,
) -> None:
    """With ``confirm_gather_s``, the first ask's request waits for the ones after it;
    auth's check is still made after each asked (C, disconnected while its confirmation
    gathered, is refused)."""
    video = store_video(tmp_path)
    leases = FakeLeases()
    cache = LeaseCache(
        leases, label="TikTok", grant_keys=KEYS, confirm_batch_max=50, confirm_gather_s=0.5
    )
    a, b, c = (make_command(video) for _ in range(3))
    asked = [asyncio.create_task(cache.confirm(a))]
    await asyncio.sleep(0)  # A's request is gathering
    asked += [asyncio.create_task(cache.confirm(x)) for x in (b, c)]
    await asyncio.sleep(0)
    leases.failures[c.account_id] = LeaseReauthRequired("revoked", "disconnected")
    ended = await asyncio.gather(*asked, return_exceptions=True)
    assert leases.batches == [[a.account_id, b.account_id, c.account_id]]
    assert [getattr(x, "account_id", None) for x in ended] == [a.account_id, b.account_id, None]
    assert isinstance(ended[2], Outcome)
    assert ended[2].code == "revoked"


@pytest.mark.parametrize(
    ("kind", "allow"),
    [("video", "posting videos"), ("photo", "posting photos"), ("article", "posting")],
)
async def test_a_token_refused_twice_asks_to_reconnect_in_words_of_the_posts_kind(
    tmp_path: Path, kind: str, allow: str
) -> None:
    """fresh10b: a VK photo post paused on error 5 said "Reconnect VK (and allow posting
    videos)"; the reason is worded for the kind of post that was refused."""
    command = make_command(store_video(tmp_path)).model_copy(update={"kind": kind})
    tokens = CommandTokens(LeaseCache(FakeLeases(), label="VK", grant_keys=KEYS), command, "VK")

    async def refused(token: str) -> str:
        raise TokenRejected

    with pytest.raises(Outcome) as ended:
        await tokens.call(refused)
    assert ended.value.reason.endswith(f"Reconnect VK (and allow {allow}).")


async def test_a_confirmation_goes_to_auth_in_the_trace_of_the_first_command_it_confirms(
    tmp_path: Path,
) -> None:
    """The confirm request carries the first asking command's trace (fresh13e: auth's
    confirm route started a trace of its own, the post's trace never showed the lease);
    a request has one parent, the other commands are linked."""
    video = store_video(tmp_path)
    seen: list[int] = []

    class Traced(FakeLeases):
        async def confirm(self, asks: Sequence[LeaseAsk]) -> list[Lease | LeaseError]:
            seen.append(trace.get_current_span().get_span_context().trace_id)
            return await super().confirm(asks)

    cache = LeaseCache(Traced(), label="TikTok", grant_keys=KEYS, confirm_gather_s=0.2)
    first, second = (make_command(video) for _ in range(2))
    ids = [uuid.uuid4().int, uuid.uuid4().int]

    async def confirm_in_trace(command: PublishPost, trace_id: int) -> None:
        span = trace.NonRecordingSpan(
            trace.SpanContext(trace_id, 0x1234, is_remote=False, trace_flags=trace.TraceFlags(1))
        )
        with trace.use_span(span):
            await cache.confirm(command)

    await asyncio.gather(confirm_in_trace(first, ids[0]), confirm_in_trace(second, ids[1]))
    assert seen == [ids[0]]
