"""The relay as a child of the HTTP service: started, watched, restarted, stopped.

Publishing to Kafka costs CPU for every submission; in a process of its own
it runs on another core instead of taking turns with the requests on the
HTTP event loop (``bench/contact_intake.py``). The child gets exactly the
parent's settings through its environment (``settings_env``), so settings
given in code reach it too.

If the child dies it is started again after a pause that doubles from 1 s up
to 30 s (reset once a child has run for a minute), and readiness reports
``relay: failing`` meanwhile. Nothing is lost while it is down: the log keeps
every submission and the cursor says where to resume.

Alive is not enough: readiness also fails while the child's own producer gets
no answer from the broker, while its report (``relay.health``, written every
second) is older than ``STALE_S``, and while durable submissions have waited
unpublished for longer than ``LAG_S`` (issue 11: after a broker restart
``/readyz`` said ok while nothing reached the operator).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Mapping
from typing import Any

from cachalot_common.settings import settings_env
from cachalot_contact.relay_command import DRAIN_S, HEALTH_FILE
from cachalot_contact.settings import ContactSettings

logger = logging.getLogger(__name__)

FIRST_PAUSE_S = 1.0
MAX_PAUSE_S = 30.0
STEADY_S = 60.0
STALE_S = 5.0
LAG_S = 5.0


def answering(state: Mapping[str, Any], *, now: float) -> bool:
    """Whether a ``relay.health`` record (see :mod:`cachalot_contact.relay_command`) says the
    relay is alive, its producer got an answer within ``STALE_S`` seconds of ``now``
    (unix time) and its last publish round succeeded (a broker that answers but whose
    acknowledgements cannot be read back is failing too, issue 11). One slow metadata
    answer on a loaded machine is not a broker that went away: what counts is the last
    answer, not the last probe."""
    written = float(state.get("at") or 0)
    answered = float(state.get("answered_at") or 0)
    failing = int(state.get("failures") or 0) > 0  # its last round did not publish
    return now - written <= STALE_S and now - answered <= STALE_S and not failing


class RelayProcess:
    """Runs ``python -m cachalot_contact relay --parent <this pid>`` for as long as it lives."""

    def __init__(self, settings: ContactSettings) -> None:
        self.environment = {**os.environ, **settings_env(settings)}
        self.health_path = settings.contact_log_dir / HEALTH_FILE
        self._behind_since: float | None = None
        self._cursor_seen = -1
        self._process: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def alive(self) -> bool:
        """Readiness: the child is running."""
        return self._process is not None and self._process.returncode is None

    async def publishing(self, durable_offset: int) -> bool:
        """Readiness: alive, its producer answered within ``STALE_S`` seconds, and no
        durable submission (``durable_offset``: the log's) waits longer than ``LAG_S``."""
        if not await self.alive():
            return False
        try:
            state = json.loads(await asyncio.to_thread(self.health_path.read_text))
        except (OSError, ValueError):
            return False
        if not answering(state, now=time.time()):
            return False
        cursor = int(state.get("cursor", 0))
        if cursor >= durable_offset:
            self._behind_since = None
            return True
        now = time.monotonic()
        if self._behind_since is None or cursor != self._cursor_seen:
            self._behind_since = now  # behind, but moving: the clock starts again
        self._cursor_seen = cursor
        return now - self._behind_since <= LAG_S

    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="contact-relay-process")

    async def _supervise(self) -> None:
        loop = asyncio.get_running_loop()
        pause = FIRST_PAUSE_S
        while not self._stopping:
            began = loop.time()
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "cachalot_contact",
                "relay",
                "--parent",
                str(os.getpid()),
                env=self.environment,
            )
            code = await self._process.wait()
            if self._stopping:
                return
            if loop.time() - began >= STEADY_S:
                pause = FIRST_PAUSE_S
            logger.error(
                "the contact relay (pid %d) exited with %s; starting it again in %.0fs",
                self._process.pid,
                code,
                pause,
            )
            await asyncio.sleep(pause)
            pause = min(pause * 2, MAX_PAUSE_S)

    async def stop(self) -> None:
        """Ask the child to drain and exit (SIGTERM); kill it if it takes too long."""
        self._stopping = True
        process = self._process
        if process is not None and process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(DRAIN_S + 5.0):
                    await process.wait()
            except TimeoutError:
                logger.error("the contact relay did not stop in time: killing it")
                process.kill()
                await process.wait()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
