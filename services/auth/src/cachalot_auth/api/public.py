"""The dashboard's API: sign-in, the client, their accounts."""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ConfigDict, EmailStr, Field, field_validator

from cachalot_auth.api.deps import (
    Services,
    callback_params,
    current_session,
    refuse_operator,
    services,
    signed_session,
)
from cachalot_auth.browser_binding import cookie_name, safe_next
from cachalot_auth.clients import ChannelRefused, NotFound, NotSignedIn
from cachalot_auth.creator_info import CreatorInfoRefused
from cachalot_auth.leasing import AccountNotFound, LeaseRefused
from cachalot_auth.posts_archive import PostsUnavailable
from cachalot_auth.providers.base import PlatformUnavailable
from cachalot_auth.signin import ConsentAgain, SignInFailed, SignInNotSetUp
from cachalot_common import platforms
from cachalot_common.problems import Problem, problem_responses
from cachalot_common.sessions import COOKIE_NAME, Session
from cachalot_common.text import CheckedText
from cachalot_common.untrusted import StrictJsonRoute

SIGN_IN_PLATFORMS = platforms.names()

logger = logging.getLogger(__name__)

SessionDep = Annotated[Session | None, Depends(current_session)]
ServicesDep = Annotated[Services, Depends(services)]


class ConsentIn(CheckedText):
    model_config = ConfigDict(extra="forbid")

    adult: bool = Field(description="The client confirms being 18 or older.")
    email: EmailStr = Field(description="Where service notices go.")
    language: Literal["en", "ru"] | None = Field(
        default=None,
        description="The language of the e-mails (the dashboard's); left as it was when absent.",
    )


_CHANNEL_LINK = re.compile(r"^(?:https?://)?(?:www\.)?t\.me/([A-Za-z0-9_]{5,32})/?$", re.I)
_CHANNEL_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{4,31}$")
_CHANNEL_PATTERN = r"^(-100\d{5,20}|@[A-Za-z0-9_]{5,32})$"


def channel_ref(value: object) -> object:
    """A channel as people copy it, as the Bot API's ``chat_id``: ``name``, ``t.me/name`` and
    ``https://t.me/name`` become ``@name`` (Telegram's public usernames: 5–32 of letters,
    digits and ``_``); ``@name``, a ``-100…`` id or anything else is left for the pattern to
    judge (issue 10, fresh10b)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    link = _CHANNEL_LINK.match(text)
    if link:
        return f"@{link.group(1)}"
    return f"@{text}" if _CHANNEL_NAME.match(text) else text


class ChannelIn(CheckedText):
    model_config = ConfigDict(extra="forbid")

    channel_id: str = Field(
        min_length=2,
        max_length=64,
        pattern=_CHANNEL_PATTERN,
        description="The channel: @channelusername (or channelusername, t.me/channelusername, "
        "https://t.me/channelusername) or its numeric -100… id.",
    )
    account_id: str | None = Field(
        default=None,
        max_length=64,
        description="The Telegram account to link it to; required when the client has more "
        "than one (PUT /api/v1/accounts/{account_id}/telegram-channel names it in the path).",
    )

    _channel_ref = field_validator("channel_id", mode="before")(channel_ref)


class ChannelLinkIn(CheckedText):
    model_config = ConfigDict(extra="forbid")

    channel: str = Field(
        min_length=2,
        max_length=64,
        pattern=_CHANNEL_PATTERN,
        description="The channel: @channelusername (or channelusername, t.me/channelusername, "
        "https://t.me/channelusername) or its numeric -100… id.",
    )

    _channel_ref = field_validator("channel", mode="before")(channel_ref)


def _channel_refused(refused: ChannelRefused, field: str) -> Problem:
    """422 naming ``field``: why in English, ``errors[].type`` ``channel_<code>`` for pages
    to say it in their language."""
    error = {
        "field": field,
        "in": "body",
        "message": refused.detail,
        "type": f"channel_{refused.code}",
    }
    return Problem(422, refused.detail, errors=[error])


def _platform(platform: str) -> str:
    if platform not in SIGN_IN_PLATFORMS:
        raise Problem(
            404,
            f"Unknown platform {platform!r}; one of {', '.join(SIGN_IN_PLATFORMS)}.",
            errors=[{"field": "platform", "in": "path", "message": "unknown platform"}],
        )
    return platform


_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _to_consent(svc: Services, platform: str, url: str, binding: str) -> RedirectResponse:
    """302 to the platform's consent page, the attempt bound to this browser by a cookie
    that only our callback for ``platform`` receives, for ``oauth_state_ttl_s``."""
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(
        cookie_name(platform),
        binding,
        max_age=svc.settings.oauth_state_ttl_s,
        path=f"/api/v1/auth/{platform}/callback",
        secure=svc.settings.cookie_secure,
        httponly=True,
        samesite="lax",
    )
    return response


def _dashboard_error(svc: Services, platform: str, failure: SignInFailed) -> RedirectResponse:
    """302 to the dashboard with codes only: ``auth_error``, ``platform``, and when known
    the platform's own ``reason`` code and the ``missing_scopes`` names.

    No sentence travels in the URL: the dashboard words each code itself, so a
    hand-made link cannot put someone else's text on our page (issue 8, item 9).
    A reason that is not a plain code (it came from the callback's query) is dropped.
    """
    query = {"auth_error": failure.code, "platform": platform}
    if _CODE.fullmatch(failure.detail):
        query["reason"] = failure.detail
    if failure.missing:
        query["missing_scopes"] = ",".join(failure.missing)
    return RedirectResponse(f"{svc.settings.dashboard_path}?{urlencode(query)}", status_code=302)


def _not_signed_in() -> Problem:
    return Problem(401, "Sign in first.", type_="https://cachalot.dev/problems/not-signed-in")


PlatformPath = Annotated[
    str,
    Path(
        description="The platform to sign in with (any other name is a 404).",
        json_schema_extra={"enum": list(SIGN_IN_PLATFORMS)},
    ),
]
# What the platforms send back to the callback (read from the query as a whole,
# since each platform sends its own set): documented so clients and fuzzers see it.
_CALLBACK_QUERY = [
    {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
    for name in (
        "state",
        "code",
        "error",
        "error_description",
        "scopes",
        "device_id",
        *("id", "first_name", "last_name", "username", "photo_url", "auth_date", "hash"),
    )
]
_TO_CONSENT: dict[int | str, dict[str, Any]] = {
    302: {"description": "To the platform's consent page (or Telegram's widget)."}
}
_TO_DASHBOARD: dict[int | str, dict[str, Any]] = {
    302: {
        "description": "To our dashboard, signed in or with `auth_error`; or back to the "
        "platform's consent page when it sent no refresh token for an account without one."
    }
}


def create_router(svc: Services) -> APIRouter:
    router = APIRouter(prefix="/api/v1", route_class=StrictJsonRoute)
    limited = [Depends(svc.rate_limit)]
    # a live operator session on a client endpoint is a 403 (wrong role), never a client
    client_only = [Depends(refuse_operator)]

    @router.get(
        "/auth/{platform}/login",
        dependencies=limited,
        tags=["sign-in"],
        responses={
            **_TO_CONSENT,
            **problem_responses(
                404, 422, 429, 503, descriptions={503: "Sign-in with it is not set up here."}
            ),
        },
    )
    async def login(platform: PlatformPath, svc: ServicesDep, next: str | None = None) -> Response:
        """302 to the platform's consent page, bound to this browser for 10 minutes."""
        platform = _platform(platform)
        try:
            url, binding, state = await svc.signin.start(platform, next_path=safe_next(next))
        except SignInNotSetUp as missing:
            raise Problem(
                503,
                f"Sign-in with {missing.label} is not set up on this server; its operator "
                "needs to configure the platform's OAuth client.",
                errors=[{"field": "platform", "in": "path", "message": "no sign-in set up"}],
            ) from None
        if url is None:  # the registry's widget sign-in (Telegram): the Login Widget page
            target = svc.settings.telegram_widget_page()
            query = urlencode(
                {
                    "bot": svc.settings.telegram_bot_username,
                    "return_to": f"{svc.settings.callback_url('telegram')}?state={state}",
                }
            )
            url = f"{target}{'&' if '?' in target else '?'}{query}"
        return _to_consent(svc, platform, url, binding)

    @router.get(
        "/auth/{platform}/callback",
        dependencies=limited,
        tags=["sign-in"],
        responses={**_TO_DASHBOARD, **problem_responses(400, 404, 429)},
        openapi_extra={"parameters": _CALLBACK_QUERY},
    )
    async def callback(
        platform: PlatformPath, request: Request, svc: ServicesDep, session: SessionDep
    ) -> Response:
        """Finish sign-in: session cookie, then 302 to our own dashboard only."""
        platform = _platform(platform)
        params = callback_params(request)  # a field sent twice is a 400
        try:
            done = await svc.signin.finish(
                platform, params, cookie=request.cookies.get(cookie_name(platform)), current=session
            )
        except ConsentAgain as again:  # no refresh token came: ask again, with consent
            return _to_consent(svc, platform, again.url, again.binding)
        except SignInFailed as failure:
            response: Response = _dashboard_error(svc, platform, failure)
        else:
            if done.missing:
                response = _dashboard_error(
                    svc, platform, SignInFailed("missing_scopes", missing=done.missing)
                )
            else:
                joiner = "&" if "?" in done.next_path else "?"
                target = f"{done.next_path}{joiner}{urlencode({'connected': platform})}"
                response = RedirectResponse(target, status_code=302)
            if done.session_token and done.session:
                response.set_cookie(
                    COOKIE_NAME,
                    done.session_token,
                    max_age=svc.settings.session_lifetime_s,
                    path="/",
                    secure=svc.settings.cookie_secure,
                    httponly=True,
                    samesite="lax",
                )
        response.delete_cookie(cookie_name(platform), path=f"/api/v1/auth/{platform}/callback")
        return response

    @router.post("/auth/logout", status_code=204, tags=["sign-in"])
    async def logout(request: Request, svc: ServicesDep, session: SessionDep) -> Response:
        """End this browser's session, a client's or an operator's, on every service."""
        signed = signed_session(request)
        if signed is not None and signed.role == "operator":
            await svc.operators.logout(signed)
        await svc.clients.logout(session)
        response = Response(status_code=204)
        response.delete_cookie(COOKIE_NAME, path="/")
        return response

    @router.get(
        "/me", tags=["client"], dependencies=client_only, responses=problem_responses(401, 403)
    )
    async def me(svc: ServicesDep, session: SessionDep) -> dict[str, Any]:
        try:
            return await svc.clients.me(session)
        except NotSignedIn:
            raise _not_signed_in() from None

    @router.post(
        "/me/consent",
        tags=["client"],
        dependencies=client_only,
        responses=problem_responses(401, 403, 422),
    )
    async def consent(body: ConsentIn, svc: ServicesDep, session: SessionDep) -> dict[str, Any]:
        """Confirm 18+ and give an email; accounts cannot be used before this."""
        if not body.adult:
            raise Problem(
                422,
                "CACHALOT is for people 18 or older; confirm to continue.",
                errors=[{"field": "adult", "in": "body", "message": "must be true"}],
            )
        try:
            return await svc.clients.consent(session, email=str(body.email), language=body.language)
        except NotSignedIn:
            raise _not_signed_in() from None

    @router.get(
        "/me/export",
        tags=["client"],
        dependencies=client_only,
        responses=problem_responses(401, 403, 503),
    )
    async def export(request: Request, svc: ServicesDep, session: SessionDep) -> dict[str, Any]:
        """Everything CACHALOT holds of the client: this service's part and the queue's."""
        try:
            archive = await svc.clients.export(session)
        except NotSignedIn:
            raise _not_signed_in() from None
        try:
            archive |= await svc.posts_archive.fetch(request.cookies[COOKIE_NAME])
        except PostsUnavailable as error:
            logger.warning("data export failed: %s", error)
            raise Problem(
                503,
                "Your posts could not be gathered for the export right now; please try again.",
                headers={"Retry-After": "30"},
            ) from None
        return archive

    @router.delete(
        "/me",
        status_code=204,
        tags=["client"],
        dependencies=client_only,
        responses=problem_responses(401, 403),
    )
    async def erase(svc: ServicesDep, session: SessionDep) -> Response:
        try:
            await svc.clients.erase(session)
        except NotSignedIn:
            raise _not_signed_in() from None
        response = Response(status_code=204)
        response.delete_cookie(COOKIE_NAME, path="/")
        return response

    @router.get(
        "/accounts",
        tags=["accounts"],
        dependencies=client_only,
        responses=problem_responses(401, 403),
    )
    async def accounts(svc: ServicesDep, session: SessionDep) -> list[dict[str, Any]]:
        try:
            return await svc.clients.accounts(session)
        except NotSignedIn:
            raise _not_signed_in() from None

    @router.delete(
        "/accounts/{account_id}",
        status_code=204,
        tags=["accounts"],
        dependencies=client_only,
        responses=problem_responses(401, 403, 404),
    )
    async def disconnect(account_id: str, svc: ServicesDep, session: SessionDep) -> Response:
        try:
            await svc.clients.disconnect(session, account_id)
        except NotSignedIn:
            raise _not_signed_in() from None
        except NotFound:
            raise Problem(404, "No such account.") from None
        return Response(status_code=204)

    @router.post(
        "/accounts/telegram/channel",
        tags=["accounts"],
        dependencies=client_only,
        responses=problem_responses(401, 403, 422),
    )
    async def link_channel(
        body: ChannelIn, svc: ServicesDep, session: SessionDep
    ) -> dict[str, Any]:
        try:
            return await svc.clients.link_telegram_channel(
                session, channel_id=body.channel_id, account_id=body.account_id
            )
        except NotSignedIn:
            raise _not_signed_in() from None
        except NotFound:
            raise Problem(
                422,
                "No such account.",
                errors=[
                    {
                        "field": "account_id",
                        "in": "body",
                        "message": "no such account of yours",
                        "type": "value_error",
                    }
                ],
            ) from None
        except ChannelRefused as refused:
            raise Problem(
                422,
                refused.detail,
                errors=[refused.error("channel_id")],
            ) from None

    @router.put(
        "/accounts/{account_id}/telegram-channel",
        tags=["accounts"],
        dependencies=client_only,
        responses=problem_responses(401, 403, 404, 422),
    )
    async def put_channel(
        account_id: str, body: ChannelLinkIn, svc: ServicesDep, session: SessionDep
    ) -> dict[str, Any]:
        """Link (or link again) the channel this Telegram account's posts go to.

        Auth asks Telegram (``getChat``, ``getChatMember``) that our bot is an
        administrator allowed to post there and that the signed-in person created
        or administers it, then keeps the channel's numeric id. 422 names
        ``channel`` with what to do (e.g. add @our_bot as an administrator with
        the right to post).
        """
        try:
            return await svc.clients.link_telegram_channel(
                session, channel_id=body.channel, account_id=account_id
            )
        except NotSignedIn:
            raise _not_signed_in() from None
        except NotFound:
            raise Problem(404, "No such account.") from None
        except ChannelRefused as refused:
            raise Problem(
                422,
                refused.detail,
                errors=[refused.error("channel")],
            ) from None

    @router.post(
        "/accounts/{account_id}/details",
        tags=["accounts"],
        dependencies=client_only,
        responses=problem_responses(401, 403, 404, 409, 503),
    )
    async def read_details(
        account_id: str, svc: ServicesDep, session: SessionDep
    ) -> dict[str, Any]:
        """Read again, from the platform, the names of the places this account posts to:
        a VK person's communities (``groups.get``) and a Telegram channel's title
        (``getChat``); the account as ``GET /api/v1/accounts`` lists it. At most once a
        minute per account (a sooner ask answers what is kept); a change is pushed to open
        dashboards. 404: not the client's account; 409: it must be reconnected first;
        503: the platform is not answering.
        """
        try:
            return await svc.clients.read_details(session, account_id)
        except NotSignedIn:
            raise _not_signed_in() from None
        except (NotFound, AccountNotFound):
            raise Problem(404, "No such account.") from None
        except LeaseRefused as refused:
            raise Problem(
                409, f"This account must be reconnected first ({refused.detail})."
            ) from None
        except PlatformUnavailable:
            raise Problem(
                503,
                "The platform is not answering right now; try again in a minute.",
                headers={"Retry-After": "30"},
            ) from None

    @router.get(
        "/accounts/{account_id}/tiktok/creator-info",
        tags=["accounts"],
        dependencies=client_only,
        responses=problem_responses(401, 403, 404, 409, 502, 503),
    )
    async def creator_info(
        account_id: str, svc: ServicesDep, session: SessionDep
    ) -> dict[str, Any]:
        """What TikTok's composer must show for this TikTok account, read live from
        ``creator_info`` (kept 30 s): ``{nickname, username, avatar_url,
        privacy_level_options, comment_disabled, duet_disabled, stitch_disabled,
        max_video_post_duration_sec, can_post, cannot_post_reason}``.

        A token TikTok refuses is refreshed once and the read tried again (as publishers do
        after a 401). 404: not the client's TikTok account; 409: the account must be
        reconnected (its refresh was refused, or TikTok refused the refreshed token too);
        502: TikTok refused the read for another reason (the problem's ``code``: TikTok's
        error code); 503: TikTok is not answering. ``cannot_post_code``: TikTok's code
        behind ``cannot_post_reason`` (None when it can post).
        Source: shared/reference/platforms.md §1.2 (creator_info, Direct Post UX rules).
        """
        if svc.creator_info is None:
            raise Problem(404, "TikTok is not set up on this server.")
        try:
            client_id = await svc.clients.client_id(session)
        except NotSignedIn:
            raise _not_signed_in() from None
        try:
            return await svc.creator_info.read(client_id, account_id)
        except AccountNotFound:
            raise Problem(404, "No such TikTok account.") from None
        except LeaseRefused as refused:
            raise Problem(
                409,
                f"This TikTok account must be reconnected before posting ({refused.detail}).",
            ) from None
        except CreatorInfoRefused as refused:
            raise Problem(  # code: TikTok's, for a page to word (web/composer.js)
                502,
                f"TikTok refused to say what this account may post ({refused.code}).",
                code=refused.code,
            ) from None
        except PlatformUnavailable:
            raise Problem(
                503,
                "TikTok is not answering right now; try again in a minute.",
                headers={"Retry-After": "30"},
            ) from None

    return router
