"""A wake-up call between a writer and a background worker in the same process.

Waiting for an event with a timeout is done here, once, with
:func:`wait_event`, never with ``asyncio.wait_for(event.wait(), timeout)``:
on Python 3.11, ``wait_for`` swallows a cancellation that arrives as the
event is set (CPython gh-86296, fixed in 3.12 where ``wait_for`` is built on
``asyncio.timeout``). A worker loop written ``while True: ... wait_for(...)``
then never ends, and whoever stops it (a lifespan's ``await task``) waits for
ever: the notifier's shutdown hung so in CI.
"""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """Until ``event`` is set (True) or ``timeout`` seconds pass (False).

    A cancellation of the caller always propagates (``asyncio.timeout`` tells
    its own cancellation from anyone else's). ``timeout`` <= 0: no wait, the
    event's state now.
    """
    if timeout <= 0:
        return event.is_set()
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True


class Wakeup:
    """Like :class:`asyncio.Event`, but waiting clears it, and waits time out quietly."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    async def wait(self, timeout: float) -> bool:
        """True if woken, False after ``timeout`` seconds; a cancellation always propagates."""
        woken = await wait_event(self._event, timeout)
        self._event.clear()
        return woken
