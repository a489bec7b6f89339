"""The login page, its redirect, and the JSON helper for tests."""

from __future__ import annotations

import html
import re
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cachalot_common.problems import Problem
from cachalot_sandbox.settings import SandboxSettings
from cachalot_sandbox.telegram_login.signing import sign


@dataclass(frozen=True)
class TelegramUser:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    photo_url: str | None = None


USERS = (
    TelegramUser(
        700000001, "Alice", "Sandbox", "alice_sandbox", "https://sandbox.invalid/tg/alice.jpg"
    ),
    TelegramUser(700000002, "Bob", None, "bob_sandbox", None),
    TelegramUser(700000003, "Карина", None, None, None),
)
_URL = re.compile(r"^https?://[^\s#]+$")


def find_user(user_id: int) -> TelegramUser:
    known = next((u for u in USERS if u.id == user_id), None)
    return known or TelegramUser(user_id, "Sandbox", str(user_id), f"user{user_id}")


def login_fields(user: TelegramUser, auth_date: int | None = None) -> dict[str, object]:
    return {
        "id": user.id,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "username": user.username,
        "photo_url": user.photo_url,
        "auth_date": int(time.time()) if auth_date is None else auth_date,
    }


def _check_return_to(return_to: str, domain: str) -> str:
    """``return_to`` when it is an absolute URL on the bot's domain, else a 400 problem.

    Telegram sends the login back only to the domain linked to the bot with
    BotFather's /setdomain, answering "Bot domain invalid" otherwise.
    """
    if not _URL.fullmatch(return_to):
        raise Problem(
            400,
            "return_to must be an absolute http(s) URL.",
            errors=[{"field": "return_to", "message": "not an absolute http(s) URL"}],
        )
    if urlsplit(return_to).hostname != domain:
        raise Problem(
            400,
            "Bot domain invalid",
            errors=[{"field": "return_to", "message": "not on the domain linked to the bot"}],
        )
    return return_to


def _redirect(return_to: str, signed: dict[str, object]) -> RedirectResponse:
    parts = urlsplit(return_to)
    extra = urlencode({k: str(v) for k, v in signed.items()})
    query = f"{parts.query}&{extra}" if parts.query else extra
    url = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    return RedirectResponse(url, status_code=302)


def widget_router(settings: SandboxSettings) -> APIRouter:
    router = APIRouter(prefix="/sandbox/telegram", tags=["sandbox: telegram login"])
    bot_token = settings.telegram_bot_token.get_secret_value()

    @router.get("/login", response_model=None)
    async def login_page(
        request: Request,
        return_to: str,
        user: int | None = None,
        sandbox_auto: str | None = None,
    ) -> Response:
        target = _check_return_to(return_to, settings.bot_domain())
        if sandbox_auto and user is not None:
            return _redirect(target, sign(login_fields(find_user(user)), bot_token))
        return _page(settings.telegram_bot_username, target, request.url.path)

    @router.post("/login", response_model=None)
    async def login(request: Request) -> Response:
        form = await request.form()
        target = _check_return_to(str(form.get("return_to", "")), settings.bot_domain())
        raw = str(form.get("user", ""))
        if not raw.isdigit():
            raise Problem(
                422,
                "user must be a Telegram user id.",
                errors=[{"field": "user", "message": "not an id"}],
            )
        return _redirect(target, sign(login_fields(find_user(int(raw))), bot_token))

    @router.get("/login-data")
    async def login_data(
        id: int = Query(gt=0, description="Telegram user id (known fake users or any)."),
        auth_date: int | None = Query(default=None, description="Unix time; default now."),
        first_name: str | None = None,
        username: str | None = None,
        extra: list[str] = Query(
            default=[],
            description="More fields to send and sign, as name=value (a field Telegram "
            "adds one day, e.g. allows_write_to_pm=true).",
        ),
    ) -> dict[str, object]:
        """Signed widget data for one user, as JSON (values typed like the widget's JS)."""
        fields = login_fields(find_user(id), auth_date)
        for item in extra:
            name, sep, value = item.partition("=")
            if not sep or not name or name == "hash":
                raise Problem(
                    422,
                    "extra must be name=value with a name other than hash.",
                    errors=[{"field": "extra", "in": "query", "message": "not name=value"}],
                )
            fields[name] = value
        if first_name is not None:
            fields["first_name"] = first_name
        if username is not None:
            fields["username"] = username
        return sign(fields, bot_token)

    return router


def _page(bot_username: str, return_to: str, action: str) -> HTMLResponse:
    e = html.escape
    buttons = "".join(
        f'<button name="user" value="{u.id}">{e(u.first_name)} {e(u.last_name or "")}'
        f" <small>{'@' + e(u.username) if u.username else 'no username'}</small></button>"
        for u in USERS
    )
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Telegram sandbox: log in</title><style>
body{{font-family:system-ui,sans-serif;background:#e7ebf0;padding:2rem}}
main{{max-width:24rem;margin:auto;background:#fff;border-radius:12px;padding:1.5rem 2rem}}
button{{display:block;width:100%;margin:.5rem 0;padding:.7rem;border:0;border-radius:8px;
background:#54a9eb;color:#fff;font-size:1rem;cursor:pointer}}small{{opacity:.8}}
</style></head><body><main><h1>Log in with Telegram</h1>
<p>@{e(bot_username)} wants to know who you are (sandbox).</p>
<form method="post" action="{e(action)}">
<input type="hidden" name="return_to" value="{e(return_to)}">
{buttons}</form><p><small>Back to <code>{e(return_to)}</code></small></p></main></body></html>"""
    return HTMLResponse(body)
