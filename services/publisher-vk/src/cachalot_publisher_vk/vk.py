"""The VK API as publisher-vk uses it: form-encoded method calls and multipart uploads.

Facts (shared/reference/platforms.md §4.2–4.3, dev.vk.com):

* ``POST <base>/method/<name>`` with ``application/x-www-form-urlencoded``
  parameters (JSON bodies are refused), the token in
  ``Authorization: Bearer`` and ``v`` on every call;
* success is ``{"response": …}``; an error is ``{"error": {"error_code",
  "error_msg", …}}`` **with HTTP 200**, raised here as :class:`VKApiError`;
* a user token may make at most 3 calls a second: :class:`VKApi` spaces the
  calls of one account (``requests_per_second``) so error 6 stays the
  exception;
* uploads go to the one-shot ``upload_url`` a method returned, as
  ``multipart/form-data`` (``video_file`` for ``video.save``, ``photo`` for a
  wall photo), streamed from the file; their answers have no envelope.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import anyio
import httpx

from cachalot_publishing.multipart import MultipartBody, ProgressHook, UploadFile

RATE_LIMITED = 6
"""Too many requests per second."""


class VKApiError(Exception):
    """An ``error`` object VK answered (HTTP 200), or an upload server's refusal.

    ``code`` is VK's ``error_code`` (dev.vk.com "Errors"); ``method`` the call;
    the message is VK's ``error_msg`` (never a token: VK echoes parameters in
    ``request_params``, which are not kept).
    """

    def __init__(self, method: str, code: int, message: str) -> None:
        super().__init__(f"VK {method}: error {code}: {message}")
        self.method = method
        self.code = code
        self.message = message


class VKApi:
    """Calls VK for one process; spaces each account's calls to its per-token rate."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_base: str,
        version: str,
        requests_per_second: float,
        upload_timeout_s: float,
    ) -> None:
        self._http = http
        self._base = api_base.rstrip("/")
        self._version = version
        self._interval = 1.0 / requests_per_second
        self._upload_timeout = upload_timeout_s
        self._last: dict[str, float] = {}

    async def _space(self, account: str) -> None:
        """Wait until this account may call again (at most one interval, well under a second)."""
        now = time.monotonic()
        due = self._last.get(account, 0.0) + self._interval
        self._last[account] = max(now, due)
        if due > now:
            await asyncio.sleep(due - now)

    async def call(self, method: str, token: str, *, account: str, **params: object) -> Any:
        """``response`` of ``method``; raises :class:`VKApiError` (VK's error object),
        ``httpx.HTTPStatusError`` (a 5xx from VK's front) or ``httpx.TransportError``."""
        await self._space(account)
        form = {k: str(v) for k, v in params.items() if v is not None}
        form["v"] = self._version
        response = await self._http.post(
            f"{self._base}/method/{method}",
            data=form,
            headers={"Authorization": f"Bearer {token}"},
        )
        response.raise_for_status()
        body = response.json()
        error = body.get("error") if isinstance(body, dict) else None
        if error is not None:
            raise VKApiError(
                method, int(error.get("error_code", 0)), str(error.get("error_msg", ""))
            )
        return body["response"]

    async def upload(
        self,
        upload_url: str,
        *,
        field: str,
        path: Path,
        content_type: str,
        progress: ProgressHook | None = None,
    ) -> dict[str, Any]:
        """POST the file at ``path`` to ``upload_url`` as multipart ``field`` (streamed from
        disk in 1 MiB reads off the event loop, :mod:`cachalot_publishing.multipart`) and
        return the upload server's JSON; raises :class:`VKApiError` when it refuses,
        ``OSError`` if the file is shorter than it was."""
        size = (await anyio.Path(path).stat()).st_size
        body = MultipartBody({}, [UploadFile(field, path, size, content_type, path.name)])
        response = await self._http.post(
            upload_url,
            content=body.stream(progress),
            headers={"Content-Type": body.content_type, "Content-Length": str(body.length)},
            timeout=self._upload_timeout,
        )
        response.raise_for_status()
        body = response.json()
        if not isinstance(body, dict) or "error" in body:
            detail = (
                body.get("error_descr") or body.get("error") if isinstance(body, dict) else body
            )
            raise VKApiError("upload", int(body.get("error_code", 0) or 0), str(detail))
        return body
