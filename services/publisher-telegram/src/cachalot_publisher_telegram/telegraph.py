"""Telegraph (telegra.ph/api): the project's account and the pages of long articles.

``createAccount`` once for the project: its ``access_token`` is the setting
``CACHALOT_TELEGRAPH_ACCESS_TOKEN`` (``python -m cachalot_publisher_telegram
telegraph-account`` prints a new one, once); without it, one account is made
per process and kept in memory only (pages then belong to accounts nobody can
edit, which is harmless; the token is never logged nor stored in clear).
``createPage`` takes the article's Telegraph nodes as they are
(:func:`cachalot_common.articles.parse` makes exactly Telegraph's ``Node``).

Answers are ``{"ok": true, "result": ...}`` or ``{"ok": false, "error":
"..."}`` (e.g. ``CONTENT_TOO_BIG``, ``FLOOD_WAIT_5``).
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from typing import Any

import httpx

from cachalot_common.articles import Node
from cachalot_common.redaction import register_secret
from cachalot_common.text import truncate

_FLOOD = re.compile(r"^FLOOD_WAIT_(\d+)$")


# not frozen: Python sets __traceback__ on an exception passing a @contextmanager
@dataclass(eq=False)
class TelegraphError(Exception):
    """Telegraph refused (``error``) or could not be reached (``reachable`` false)."""

    error: str
    reachable: bool = True

    @property
    def flood_wait_s(self) -> float | None:
        match = _FLOOD.match(self.error)
        return float(match.group(1)) if match else None

    def __str__(self) -> str:
        return f"Telegraph: {self.error}"


@dataclass(frozen=True, slots=True)
class Page:
    path: str
    url: str


class Telegraph:
    """``createAccount`` and ``createPage`` at ``api_base`` (``CACHALOT_TELEGRAPH_API_BASE``)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_base: str,
        access_token: str = "",
        short_name: str = "Cachalot",
        author_name: str = "",
    ) -> None:
        self._http = http
        self._base = api_base.rstrip("/")
        self._token = access_token
        self._short_name = short_name
        self._author = author_name
        self._lock = asyncio.Lock()
        register_secret(access_token)

    async def _call(self, method: str, data: dict[str, str]) -> Any:
        try:
            response = await self._http.post(f"{self._base}/{method}", data=data)
        except httpx.HTTPError as error:
            raise TelegraphError(type(error).__name__, reachable=False) from None
        try:
            body = response.json()
        except ValueError:
            raise TelegraphError(f"HTTP {response.status_code}", reachable=False) from None
        if not isinstance(body, dict) or body.get("ok") is not True:
            refusal = body.get("error") if isinstance(body, dict) else None
            raise TelegraphError(truncate(str(refusal or f"HTTP {response.status_code}"), 200))
        return body.get("result")

    async def create_account(self) -> str:
        """A new Telegraph account for the project; its access token (a secret)."""
        data = {"short_name": self._short_name}
        if self._author:
            data["author_name"] = self._author
        result = await self._call("createAccount", data)
        token = result.get("access_token") if isinstance(result, dict) else None
        if not isinstance(token, str) or not token:
            raise TelegraphError("createAccount gave no access_token")
        register_secret(token)
        return token

    async def _access_token(self) -> str:
        async with self._lock:
            if not self._token:
                self._token = await self.create_account()
            return self._token

    async def create_page(self, title: str, content: list[Node]) -> Page:
        """``createPage``; the page's path and URL."""
        data = {
            "access_token": await self._access_token(),
            "title": truncate(title, 256),
            "content": json.dumps(content, ensure_ascii=False),
            "return_content": "false",
        }
        if self._author:
            data["author_name"] = self._author
        result = await self._call("createPage", data)
        if not isinstance(result, dict) or not result.get("path") or not result.get("url"):
            raise TelegraphError("createPage gave no path")
        return Page(path=str(result["path"]), url=str(result["url"]))
