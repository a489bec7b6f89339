"""The one-click link that switches a client's e-mail notices off (RFC 8058).

The link is ``{CACHALOT_PUBLIC_URL}/api/v1/notices/unsubscribe?c=<client id>&s=<signature>``:
the signature is HMAC-SHA256 over the client id with a key derived from
``CACHALOT_SESSION_SECRET`` and a purpose label of its own, so the link does
one thing only (it is no session, and a session is no link), never expires
(RFC 8058 §3: the URI must keep working) and is compared in constant time.

* ``POST`` with the body ``List-Unsubscribe=One-Click`` (what a mail
  provider sends for the ``List-Unsubscribe-Post`` header, and what the page's
  button sends) switches notices off and answers 200; repeating it is harmless.
* ``GET`` only shows a page with that button: link scanners and prefetchers
  follow GETs, and must not unsubscribe anyone (RFC 8058 §3.2).

The policy notice is sent whatever this says (:data:`mail_render.ALWAYS_SENT`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import uuid
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import SecretStr
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_common.db import transaction
from cachalot_common.problems import Problem, problem_responses
from cachalot_notifier.models import NoticeOptOut

PATH = "/api/v1/notices/unsubscribe"
_PURPOSE = b"cachalot notices unsubscribe v1"


class UnsubscribeLinks:
    """Signs and checks unsubscribe links."""

    def __init__(self, *, secret: SecretStr, public_url: str) -> None:
        self._key = hmac.new(secret.get_secret_value().encode(), _PURPOSE, hashlib.sha256).digest()
        self._base = public_url.rstrip("/")

    def signature(self, client_id: uuid.UUID) -> str:
        mac = hmac.new(self._key, client_id.bytes, hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def url(self, client_id: uuid.UUID) -> str:
        """The link for ``client_id``'s mails."""
        query = urlencode({"c": str(client_id), "s": self.signature(client_id)})
        return f"{self._base}{PATH}?{query}"

    def verify(self, client: str, signature: str) -> uuid.UUID | None:
        """The client id when the signature is ours, else None."""
        try:
            client_id = uuid.UUID(client)
        except ValueError:
            return None
        return client_id if hmac.compare_digest(self.signature(client_id), signature) else None


class OptOuts:
    """The ``notice_opt_outs`` table."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def switch_off(self, client_id: uuid.UUID) -> None:
        try:
            async with transaction(self._sessions) as session:
                if await session.get(NoticeOptOut, client_id) is None:
                    session.add(NoticeOptOut(client_id=client_id, opted_out_at=datetime.now(UTC)))
        except IntegrityError:  # a second click raced the first: already off
            pass

    async def is_off(self, client_id: uuid.UUID) -> bool:
        async with self._sessions() as session:
            return await session.get(NoticeOptOut, client_id) is not None


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title></head>
<body><main>
<h1>{title}</h1>
<p>{text}</p>
{form}
<p lang="ru">{text_ru}</p>
</main></body></html>
"""


def _page(title: str, text: str, text_ru: str, form: str = "") -> HTMLResponse:
    return HTMLResponse(
        _PAGE.format(title=html.escape(title), text=text, text_ru=text_ru, form=form),
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


ClientParam = Annotated[str, Query(max_length=64, description="The client id of the link.")]
SignatureParam = Annotated[str, Query(max_length=64, description="The link's signature.")]


def create_router(links: UnsubscribeLinks, opt_outs: OptOuts) -> APIRouter:
    """``GET`` (a page) and ``POST`` (one-click, RFC 8058) of :data:`PATH`."""
    router = APIRouter(tags=["notices"])

    def checked(c: str, s: str) -> uuid.UUID:
        client_id = links.verify(c, s)
        if client_id is None:
            raise Problem(
                404,
                "This unsubscribe link is not valid: copy the whole link from the e-mail.",
                errors=[{"field": "s", "in": "query", "message": "not a signature of ours"}],
            )
        return client_id

    @router.get(PATH, response_class=HTMLResponse, responses=problem_responses(404, 422))
    async def unsubscribe_page(c: ClientParam, s: SignatureParam) -> HTMLResponse:
        """A page with one button that switches notices off (a GET changes nothing)."""
        checked(c, s)
        action = html.escape(f"{PATH}?{urlencode({'c': c, 's': s})}")
        form = (
            f'<form method="post" action="{action}">'
            '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
            '<button type="submit">Switch notices off / Отключить уведомления</button></form>'
        )
        return _page(
            "E-mail notices",
            "Switch off e-mails about failed posts and accounts to reconnect? Privacy-policy "
            "changes are still sent.",
            "Отключить письма о неудачных публикациях и аккаунтах, которые нужно подключить "
            "заново? Об изменениях политики конфиденциальности мы всё равно напишем.",
            form,
        )

    @router.post(
        PATH,
        response_class=HTMLResponse,
        responses=problem_responses(404, 422),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    media: {"schema": {"type": "string"}}
                    for media in ("application/x-www-form-urlencoded", "multipart/form-data")
                },
            },
            "x-max-body-bytes": 4096,
        },
    )
    async def unsubscribe(
        request: Request,
        c: ClientParam,
        s: SignatureParam,
    ) -> HTMLResponse:
        """RFC 8058 one-click: the body ``List-Unsubscribe=One-Click`` switches notices off.

        The body is ``application/x-www-form-urlencoded`` (or ``multipart/form-data``
        with the same field, which RFC 8058 §3.1 also allows; read here as text).
        """
        client_id = checked(c, s)
        body = (await request.body())[:4096].decode("utf-8", "replace")
        fields = parse_qs(body.strip())
        one_click: str | None = (fields.get("List-Unsubscribe") or [""])[0] or None
        if one_click is None and 'name="List-Unsubscribe"' in body and "One-Click" in body:
            one_click = "One-Click"
        if one_click != "One-Click":
            raise Problem(
                422,
                "The body must be List-Unsubscribe=One-Click (RFC 8058).",
                errors=[
                    {"field": "List-Unsubscribe", "in": "body", "message": "must be One-Click"}
                ],
            )
        await opt_outs.switch_off(client_id)
        return _page(
            "Notices switched off",
            "You will get no more e-mails about failed posts or accounts to reconnect.",
            "Больше никаких писем о неудачных публикациях и аккаунтах.",
        )

    return router
