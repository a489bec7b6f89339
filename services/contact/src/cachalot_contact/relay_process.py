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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys

from cachalot_common.settings import settings_env
from cachalot_contact.relay_command import DRAIN_S
from cachalot_contact.settings import ContactSettings

logger = logging.getLogger(__name__)

FIRST_PAUSE_S = 1.0
MAX_PAUSE_S = 30.0
STEADY_S = 60.0


class RelayProcess:
    """Runs ``python -m cachalot_contact relay --parent <this pid>`` for as long as it lives."""

    def __init__(self, settings: ContactSettings) -> None:
        self.environment = {**os.environ, **settings_env(settings)}
        self._process: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def alive(self) -> bool:
        """Readiness: the child is running."""
        return self._process is not None and self._process.returncode is None

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
