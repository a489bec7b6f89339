"""Sandbox: a strict fake of the Telegram Bot API (``getMe``, ``sendMessage``, ``sendPhoto``,
``sendVideo``, ``sendMediaGroup``, chat methods).

Mounted at ``/telegram`` (standing in for ``https://api.telegram.org``), with
controls under ``/sandbox/telegram``: the messages it accepted, a queue of
faults (429 with ``retry_after``, 400 with ``migrate_to_chat_id``, 5xx, slow answers),
groups upgraded to supergroups, users who blocked the bot, a latency for
every send, opt-in per-chat flood control (``PUT /sandbox/telegram/flood``); a 429
holds its chat as Telegram does (every posting call to it is refused until the wait is
over, and each such call makes it longer; a queued 429's ``hold_s`` sets how long in real
seconds) and ``GET /sandbox/telegram/waits`` counts the calls that ignored a wait,
answers held back after posting (``/sandbox/telegram/delays``), uploaded files
by ``file_unique_id`` (``/sandbox/telegram/files/…``, bytes as received), call
counts and channels
(``/sandbox/telegram/channels``: who administers them, whether our bot may post).
"""

from __future__ import annotations

from cachalot_sandbox.telegram.api import create_router
from cachalot_sandbox.telegram.state import state

__all__ = ["create_router", "reset"]


def reset() -> None:
    """Forget messages, pending faults, call counts and channels."""
    state.reset()
