"""Free a consumer group whose coordinator names a leader that has left (Tansu).

Tansu 0.6.0 (``tansu-broker/src/coordinator/group/administrator.rs``,
``Inner<O, Forming>::leave``; the project is now ``nisshi-io/nisshi``) removes a
member that leaves a group *while the group is re-forming* but keeps it as the
group's leader. Every member that joins afterwards is told to follow that
leader, sends its SyncGroup, is answered ``REBALANCE_IN_PROGRESS`` and joins
again, without end: no partitions are ever assigned, and the consumer's start
never returns (issue 11: a notifier stopped right after a second replica left
the ``notifier`` group was never given a partition again). The stale leader is
never evicted either, since eviction (its missed heartbeats) only looks at
members, and it is no longer one. Kafka's own coordinator elects a new leader
on a leave; only this path is missing it.

Two replicas stopped together (a deploy, ``docker compose stop``) hit it.

The repair uses what the coordinator does right: a member whose heartbeats
stopped is evicted after its session, and when that member is the leader the
leader is cleared, so the next member to join is elected. So the leader that
left is made a member again (a JoinGroup with its member id, which the
coordinator accepts) and then left silent; one session later it is evicted as
leader and the waiting consumers form the group. On a coordinator without the
fault nothing is done: the leader is found among the group's members.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaClient
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.client import CoordinationType
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from aiokafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor
from aiokafka.protocol.group import JoinGroupRequest, LeaveGroupRequest

logger = logging.getLogger(__name__)

_PROTOCOL_TYPE = "consumer"
_ASSIGNORS = (RangePartitionAssignor, RoundRobinPartitionAssignor, StickyPartitionAssignor)


def _protocols(topics: Iterable[str]) -> list[tuple[str, bytes]]:
    """The group protocols a consumer of ``topics`` offers (one matches the group's)."""
    names = set(topics)
    protocols: list[tuple[str, bytes]] = []
    for assignor in _ASSIGNORS:
        metadata = assignor.metadata(names)
        encoded = metadata if isinstance(metadata, bytes) else metadata.encode()
        protocols.append((assignor.name, encoded))
    return protocols


async def group_members(bootstrap: str, group_id: str) -> set[str]:
    """Member ids the coordinator lists for ``group_id`` now (DescribeGroups)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="cachalot-group-repair", request_timeout_ms=5000
    )
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([group_id])
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
    return {str(member[0]) for group in response.groups for member in group[5]}


async def release_departed_leader(
    bootstrap: str, group_id: str, topics: Iterable[str], *, session_timeout_ms: int
) -> str | None:
    """If ``group_id``'s coordinator names a leader that is not a member, bring it back
    as a silent member so the coordinator evicts it, as leader, one session later.

    ``topics``: what the group's consumers read (the protocols offered must match the
    group's). ``session_timeout_ms``: the group's session, milliseconds; a JoinGroup is
    held by Tansu for half of it, so this takes about one session. Returns the
    departed leader's member id, or None when the leader is a member (nothing to do).
    Raises what the client raises when the broker does not answer (``KafkaError``,
    ``OSError``, ``TimeoutError``); the caller tries again later.

    The probe join this needs (to learn the leader's id) adds a member of its own; it
    leaves again at once, unless the coordinator made it the leader (leaving then
    would be the fault itself): then it is left silent and evicted after a session.
    """
    protocols = _protocols(topics)
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap,
        client_id="cachalot-group-repair",
        request_timeout_ms=session_timeout_ms + 10_000,
    )
    await client.bootstrap()
    try:
        node = await client.coordinator_lookup(CoordinationType.GROUP, group_id)

        async def join(member_id: str) -> object:
            request = JoinGroupRequest(
                group_id,
                session_timeout_ms,
                session_timeout_ms,
                member_id,
                None,  # type: ignore[arg-type]  # no static membership
                _PROTOCOL_TYPE,
                protocols,
            )
            return await client.send(node, request)

        first = await join(JoinGroupRequest.UNKNOWN_MEMBER_ID)  # MEMBER_ID_REQUIRED
        probe = str(getattr(first, "member_id", ""))
        if not probe:
            return None
        answer = await join(probe)
        leader = str(getattr(answer, "leader_id", ""))
        if leader == probe:
            return None  # the probe leads: it is evicted as leader like the repaired one
        # a member the group's leader would hand partitions to: it goes at once
        await client.send(node, LeaveGroupRequest(group_id, probe))
        if not leader or leader in await group_members(bootstrap, group_id):
            return None  # a live leader: the group forms by itself
        logger.warning(
            "consumer group %s: its coordinator names %s leader, which left the group; "
            "making it a member again so it is evicted as leader after its session",
            group_id,
            leader,
        )
        await join(leader)
        return leader
    finally:
        with contextlib.suppress(Exception):
            await client.close()
