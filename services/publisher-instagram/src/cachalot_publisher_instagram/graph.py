"""graph.instagram.com content publishing as a small client that classifies failures.

Calls (Instagram API with Instagram Login; shared/reference/platforms.md §3.3):
create a container (``POST /me/media``), read its ``status_code``, read the
account's ``content_publishing_limit``, ``POST /me/media_publish``, and read
a published media's ``permalink``. The node is ``me``: the token names the
professional account, so no id has to travel with the lease. Parameters go
in a form body, never in the query: the media link is a capability and a
URL's query ends up in span attributes. Errors come back as the exception
classes below, with Graph's ``code``/``error_subcode`` kept for the reasons.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import httpx

from cachalot_common.untrusted import retry_after_seconds

StatusCode = Literal["IN_PROGRESS", "FINISHED", "ERROR", "EXPIRED", "PUBLISHED"]
NODE = "me"
_RATE_CODES = frozenset({4, 17, 32, 613})
_PERMISSION_CODES = frozenset({10, *range(200, 300)})
QUOTA_SUBCODE = 2207042


class GraphError(Exception):
    """A failed Graph call: ``code``/``subcode`` are Graph's, ``message`` its text."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        subcode: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.subcode = subcode
        self.retry_after_s = retry_after_s


class Unauthorized(GraphError):
    """401 / code 190: the token is invalid or expired (one forced refresh, then reauth)."""


class PermissionMissing(GraphError):
    """Code 10 or 200–299: the account did not grant content publishing."""


class Transient(GraphError):
    """No answer, 5xx, a transient error or a rate limit: try again later."""


class QuotaUsed(GraphError):
    """Code 9 / subcode 2207042: the account's rolling publishing quota is used up."""


class NotFound(GraphError):
    """Code 100 with subcode 33 (or 24): the container or media does not exist (any more)."""


class Refused(GraphError):
    """Any other 4xx: the request is wrong for Instagram; retrying will not help."""


@dataclass(frozen=True, slots=True)
class ContainerStatus:
    status_code: StatusCode
    status: str  # Instagram's text; an ERROR's carries its subcode

    @property
    def subcode(self) -> int | None:
        """The error subcode inside ``status`` ("Error: … (2207026)"), if any."""
        found = re.search(r"\b(2207\d{3})\b", self.status)
        return int(found.group(1)) if found else None


@dataclass(frozen=True, slots=True)
class RecentMedia:
    id: str
    caption: str
    permalink: str | None
    published_at: datetime | None


@dataclass(frozen=True, slots=True)
class PublishingLimit:
    used: int
    total: int
    duration_s: int


def _error(answer: httpx.Response) -> GraphError:
    try:
        body: Any = answer.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    message = str(
        error.get("error_user_msg") or error.get("message") or f"HTTP {answer.status_code}"
    )
    code = error.get("code") if isinstance(error.get("code"), int) else None
    subcode = error.get("error_subcode") if isinstance(error.get("error_subcode"), int) else None
    after = retry_after_seconds(answer.headers.get("retry-after"))
    kw: dict[str, Any] = {"status": answer.status_code, "code": code, "subcode": subcode}
    if answer.status_code == 401 or code == 190:
        return Unauthorized(message, **kw)
    if code in _PERMISSION_CODES:
        return PermissionMissing(message, **kw)
    if subcode == QUOTA_SUBCODE:
        return QuotaUsed(message, **kw)
    if (
        answer.status_code >= 500
        or answer.status_code == 429
        or code in _RATE_CODES
        or code in (1, 2)
        or error.get("is_transient") is True
    ):
        return Transient(message, retry_after_s=after, **kw)
    if code == 100 and subcode in (33, 24):
        return NotFound(message, **kw)
    return Refused(message, **kw)


class InstagramGraph:
    """The calls above on one shared ``httpx.AsyncClient`` (``api_base``: the Graph host)."""

    def __init__(self, http: httpx.AsyncClient, *, api_base: str) -> None:
        self._http = http
        self._base = api_base.rstrip("/")

    async def _call(
        self,
        method: str,
        path: str,
        token: str,
        *,
        form: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        try:
            answer = await self._http.request(
                method,
                f"{self._base}/{path}",
                data=form,
                params=params,
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.TransportError as error:
            raise Transient(f"no answer ({type(error).__name__})") from None
        if answer.status_code >= 400:
            raise _error(answer)
        try:
            body = answer.json()
        except ValueError:
            raise Transient("an answer that is not JSON", status=answer.status_code) from None
        if not isinstance(body, dict):
            raise Transient("an answer that is not a JSON object", status=answer.status_code)
        if "error" in body:
            raise _error(answer)
        return body

    async def create_container(self, token: str, fields: dict[str, str]) -> str:
        """``POST /me/media`` with ``fields``; the container id."""
        body = await self._call("POST", f"{NODE}/media", token, form=fields)
        return str(body["id"])

    async def container_status(self, token: str, container_id: str) -> ContainerStatus:
        """``GET /{container}?fields=status_code,status``."""
        body = await self._call("GET", container_id, token, params={"fields": "status_code,status"})
        code = str(body.get("status_code", ""))
        if code not in ("IN_PROGRESS", "FINISHED", "ERROR", "EXPIRED", "PUBLISHED"):
            raise Transient(f"an unknown container status {code!r}")
        return ContainerStatus(code, str(body.get("status") or ""))  # type: ignore[arg-type]

    async def publishing_limit(self, token: str) -> PublishingLimit:
        """``GET /me/content_publishing_limit?fields=quota_usage,config``."""
        body = await self._call(
            "GET",
            f"{NODE}/content_publishing_limit",
            token,
            params={"fields": "quota_usage,config"},
        )
        data = body.get("data") or [{}]
        first = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
        raw = first.get("config")
        config: dict[str, Any] = raw if isinstance(raw, dict) else {}
        return PublishingLimit(
            used=int(first.get("quota_usage") or 0),
            total=int(config.get("quota_total") or 50),
            duration_s=int(config.get("quota_duration") or 86400),
        )

    async def publish(self, token: str, container_id: str) -> str:
        """``POST /me/media_publish`` with ``creation_id``; the IG media id."""
        body = await self._call(
            "POST", f"{NODE}/media_publish", token, form={"creation_id": container_id}
        )
        return str(body["id"])

    async def recent_media(self, token: str) -> list[RecentMedia]:
        """``GET /me/media?fields=id,caption,permalink,timestamp``: the newest posts (25)."""
        body = await self._call(
            "GET",
            f"{NODE}/media",
            token,
            params={"fields": "id,caption,permalink,timestamp", "limit": "25"},
        )
        found: list[RecentMedia] = []
        for item in body.get("data") or []:
            if not isinstance(item, dict) or "id" not in item:
                continue
            try:
                when = datetime.strptime(str(item.get("timestamp")), "%Y-%m-%dT%H:%M:%S%z")
            except ValueError:
                when = None
            link = item.get("permalink")
            found.append(
                RecentMedia(
                    str(item["id"]), str(item.get("caption") or ""), link and str(link), when
                )
            )
        return found

    async def permalink(self, token: str, media_id: str) -> str | None:
        """``GET /{media}?fields=permalink``."""
        body = await self._call("GET", media_id, token, params={"fields": "permalink"})
        link = body.get("permalink")
        return str(link) if link else None
