"""Which command runs next: per-account lanes, fair across clients, then accounts.

* Commands of one account form a lane and run strictly one after another,
  in the order they arrived (the queue dispatches an account's posts in
  scheduled order, and they share a partition because the key is the
  account id).
* A lane is *ready* when it has a command and none of its commands is
  running. Ready lanes are served round-robin over clients, then
  round-robin over that client's accounts: a client with 50 accounts or 500
  posts gets one turn per round like a client with one post, so it cannot
  starve another.

Pure data structure (no I/O, no clock); the runtime decides how many run at
once. ``C`` is a client id, ``A`` an account id, ``J`` a job.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

C = TypeVar("C", bound=Hashable)
A = TypeVar("A", bound=Hashable)
J = TypeVar("J")


@dataclass
class _Lane(Generic[C, J]):
    client: C
    queue: deque[J] = field(default_factory=deque)
    busy: bool = False


class FairScheduler(Generic[C, A, J]):
    """Lanes of jobs per account, handed out fairly (see the module docstring)."""

    def __init__(self) -> None:
        self._lanes: dict[A, _Lane[C, J]] = {}
        # clients with at least one ready lane, in turn order; each with its ready accounts
        self._ready: OrderedDict[C, OrderedDict[A, None]] = OrderedDict()
        self._queued = 0

    def __len__(self) -> int:
        """Jobs waiting (not running)."""
        return self._queued

    def push(self, client: C, account: A, job: J) -> None:
        """Queue ``job`` at the end of ``account``'s lane."""
        lane = self._lanes.get(account)
        if lane is None:
            lane = self._lanes[account] = _Lane(client)
        lane.queue.append(job)
        self._queued += 1
        if not lane.busy and len(lane.queue) == 1:
            self._mark_ready(lane.client, account)

    def next(self) -> tuple[A, J] | None:
        """The next job to run (its lane becomes busy), or None when no lane is ready."""
        if not self._ready:
            return None
        client, accounts = next(iter(self._ready.items()))
        account, _ = accounts.popitem(last=False)
        if accounts:
            self._ready.move_to_end(client)
        else:
            del self._ready[client]
        lane = self._lanes[account]
        job = lane.queue.popleft()
        self._queued -= 1
        lane.busy = True
        return account, job

    def release(self, account: A) -> None:
        """``account``'s running job ended; its next job (if any) becomes ready."""
        lane = self._lanes.get(account)
        if lane is None:
            return
        lane.busy = False
        if lane.queue:
            self._mark_ready(lane.client, account)
        else:
            del self._lanes[account]

    def drop(self, unwanted: Callable[[J], bool]) -> list[J]:
        """Remove and return the queued jobs for which ``unwanted(job)`` holds (in lane order)."""
        dropped: list[J] = []
        for account, lane in list(self._lanes.items()):
            kept = deque(job for job in lane.queue if not unwanted(job))
            gone = [job for job in lane.queue if unwanted(job)]
            if not gone:
                continue
            dropped.extend(gone)
            self._queued -= len(gone)
            lane.queue = kept
            if not kept:
                self._unmark_ready(lane.client, account)
                if not lane.busy:
                    del self._lanes[account]
        return dropped

    def _mark_ready(self, client: C, account: A) -> None:
        accounts = self._ready.get(client)
        if accounts is None:
            accounts = self._ready[client] = OrderedDict()
        accounts[account] = None

    def _unmark_ready(self, client: C, account: A) -> None:
        accounts = self._ready.get(client)
        if accounts is not None:
            accounts.pop(account, None)
            if not accounts:
                del self._ready[client]
