"""A wake-up call between a writer and a background worker in the same process."""

from __future__ import annotations

import asyncio
import contextlib


class Wakeup:
    """Like :class:`asyncio.Event`, but waiting clears it, and waits time out quietly."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    async def wait(self, timeout: float) -> bool:
        """True if woken, False after ``timeout`` seconds."""
        if timeout <= 0:
            woken = self._event.is_set()
        else:
            woken = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), timeout)
                woken = True
        self._event.clear()
        return woken
