"""Lanes keep an account's order; turns go round clients, then their accounts."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cachalot_publishing.scheduler import FairScheduler


def drain(scheduler: FairScheduler[str, str, str], *, release: bool = True) -> list[str]:
    order = []
    while (picked := scheduler.next()) is not None:
        account, job = picked
        order.append(job)
        if release:
            scheduler.release(account)
    return order


def test_a_client_with_many_posts_does_not_starve_another_clients_single_post() -> None:
    scheduler: FairScheduler[str, str, str] = FairScheduler()
    for i in range(50):
        scheduler.push("big", f"big-{i % 5}", f"big-post-{i}")
    scheduler.push("small", "small-1", "small-post")
    started = []
    for _ in range(2):  # two slots
        picked = scheduler.next()
        assert picked is not None
        started.append(picked[1])
    assert "small-post" in started


def test_an_accounts_commands_run_one_at_a_time_in_order() -> None:
    scheduler: FairScheduler[str, str, str] = FairScheduler()
    for i in range(3):
        scheduler.push("c", "a", f"a{i}")
    scheduler.push("c", "b", "b0")
    first = scheduler.next()
    second = scheduler.next()
    assert (first, second) == (("a", "a0"), ("b", "b0"))
    assert scheduler.next() is None, "a's next command waits for a0"
    scheduler.release("a")
    assert scheduler.next() == ("a", "a1")


def test_turns_go_round_clients_then_their_accounts() -> None:
    scheduler: FairScheduler[str, str, str] = FairScheduler()
    for account in ("x1", "x2", "x3"):
        scheduler.push("X", account, f"{account}-job")
    scheduler.push("Y", "y1", "y1-job")
    scheduler.push("Y", "y1", "y1-job2")
    assert drain(scheduler) == ["x1-job", "y1-job", "x2-job", "y1-job2", "x3-job"]


def test_dropping_jobs_removes_only_queued_ones() -> None:
    scheduler: FairScheduler[str, str, str] = FairScheduler()
    scheduler.push("c", "a", "p0-a")
    scheduler.push("c", "a", "p1-a")
    scheduler.push("c", "b", "p0-b")
    assert scheduler.next() == ("a", "p0-a")
    assert scheduler.drop(lambda job: job.startswith("p0")) == ["p0-b"]
    scheduler.release("a")
    assert drain(scheduler) == ["p1-a"]
    assert len(scheduler) == 0


@given(
    st.lists(
        st.tuples(st.sampled_from("ABC"), st.integers(min_value=0, max_value=4)),
        min_size=1,
        max_size=80,
    ),
    st.integers(min_value=1, max_value=6),
)
def test_every_job_runs_once_in_its_accounts_order_and_lanes_never_overlap(pushes, slots) -> None:
    scheduler: FairScheduler[str, str, tuple[str, int]] = FairScheduler()
    for index, (client, account) in enumerate(pushes):
        scheduler.push(client, f"{client}{account}", (f"{client}{account}", index))
    running: list[tuple[str, tuple[str, int]]] = []
    done: list[tuple[str, int]] = []
    while True:
        while len(running) < slots and (picked := scheduler.next()) is not None:
            assert picked[0] not in {a for a, _ in running}, "two jobs of one account at once"
            running.append(picked)
        if not running:
            break
        account, job = running.pop(0)
        done.append(job)
        scheduler.release(account)
    assert sorted(i for _, i in done) == list(range(len(pushes)))
    for lane in {a for a, _ in done}:
        indexes = [i for a, i in done if a == lane]
        assert indexes == sorted(indexes)
