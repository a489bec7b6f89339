"""Running a coroutine from synchronous test code, whatever loop the thread already runs."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coroutine)`` in a thread of its own; its result, or its exception.

    A test session may already run an event loop in the calling thread (Playwright's
    sync API leaves one after the browser tests), where ``asyncio.run()`` is refused.
    """
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
