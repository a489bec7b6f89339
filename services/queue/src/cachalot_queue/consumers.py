"""Batch consumption with the shared decode-or-DLQ rule.

Results arrive by the thousand when a backlog drains; handling a batch in one
transaction (one read of all its targets, one commit) is what keeps the queue
ahead. The subscriber itself is :func:`cachalot_common.kafka.subscribe_batch`
(auth's status consumer uses it too): each record is decoded alone, an
undecodable one goes to ``<topic>.dlq`` and the rest of the batch goes on; the
offsets are committed after the handler succeeds, and on an error the whole
batch is delivered again, which the idempotent handlers absorb.
"""

from __future__ import annotations

from cachalot_common.kafka import subscribe_batch

__all__ = ["subscribe_batch"]
