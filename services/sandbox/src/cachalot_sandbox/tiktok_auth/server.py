"""TikTok's OAuth v2 endpoints as documented (flat errors with ``log_id``)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from cachalot_common.untrusted import same_secret
from cachalot_sandbox.oauthkit import pkce
from cachalot_sandbox.oauthkit.consent import (
    AuthorizeRequest,
    ConsentFlow,
    FakeUser,
    PageError,
    RedirectError,
    authorize,
    registered_redirect_uri,
)
from cachalot_sandbox.oauthkit.errors import (
    OAuthError,
    invalid_client,
    invalid_grant,
    invalid_request,
)
from cachalot_sandbox.oauthkit.http import (
    bearer,
    flat_error,
    log_id,
    read_form,
    require,
    token_call,
)
from cachalot_sandbox.oauthkit.state import Grant, PlatformState
from cachalot_sandbox.settings import SandboxSettings

STATE = PlatformState(
    "tiktok",
    {
        "access_token_lifetime_s": 86400,
        "refresh_token_lifetime_s": 31536000,
        "code_lifetime_s": 600,
        "pkce_required": 1,
        "pkce_hex": 1,
    },
)

SCOPES = {
    "user.info.basic": "Read your profile info (avatar, display name)",
    "user.info.profile": "Read your profile details (bio, verified status)",
    "user.info.stats": "Read your follower and like counts",
    "video.list": "Read your public videos",
    "video.upload": "Share content to your drafts (inbox)",
    "video.publish": "Post content directly to your profile",
}
USERS = (
    FakeUser(
        id="-000sandboxAliceOpenId",
        display_name="Alice Sandbox",
        username="alice.sandbox",
        avatar_url="https://sandbox.invalid/tiktok/alice.jpg",
        extra={"union_id": "sandbox-union-alice", "follower_count": "1200"},
    ),
    FakeUser(
        id="-000sandboxBobOpenId",
        display_name="Bob Sandbox",
        username="bob.sandbox",
        avatar_url="https://sandbox.invalid/tiktok/bob.jpg",
        extra={"union_id": "sandbox-union-bob", "follower_count": "7"},
    ),
)
_FIELD_SCOPES = {
    "open_id": "user.info.basic",
    "union_id": "user.info.basic",
    "avatar_url": "user.info.basic",
    "avatar_url_100": "user.info.basic",
    "avatar_large_url": "user.info.basic",
    "display_name": "user.info.basic",
    "bio_description": "user.info.profile",
    "profile_deep_link": "user.info.profile",
    "is_verified": "user.info.profile",
    "username": "user.info.profile",
    "follower_count": "user.info.stats",
    "following_count": "user.info.stats",
    "likes_count": "user.info.stats",
    "video_count": "user.info.stats",
}
_HEX = re.compile(r"^[0-9a-f]{64}$")
_B64URL = re.compile(r"^[A-Za-z0-9_-]{43}$")


def render_error(exc: OAuthError) -> Response:
    return flat_error(exc, log_id=log_id())


def api_router(settings: SandboxSettings) -> APIRouter:

    def current_encoding() -> pkce.Encoding:
        return "hex" if STATE.setting("pkce_hex") else "base64url"

    secret = settings.tiktok_client_secret.get_secret_value()
    router = APIRouter(prefix="/tiktok", tags=["sandbox: tiktok oauth"])

    def parse(params: dict[str, str]) -> AuthorizeRequest:
        if params.get("client_key") != settings.tiktok_client_key:
            raise PageError("invalid_client", "client_key is missing or unknown.")
        redirect_uri = registered_redirect_uri(
            params,
            STATE,
            malformed=PageError("invalid_request", "redirect_uri must be an absolute http(s) URL."),
            # TikTok's own page for a URI not registered in the developer portal
            unregistered=PageError(
                "redirect_uri",
                "We couldn't log in with TikTok. This may be due to specific app settings. "
                "If you're a developer, correct the following and try again: redirect_uri",
            ),
        )
        raw_scope = params.get("scope", "")
        req = AuthorizeRequest(
            client_id=params["client_key"],
            redirect_uri=redirect_uri,
            state=params.get("state"),
            scopes=tuple(raw_scope.split(",")) if raw_scope else (),
            params=params,
        )
        if params.get("response_type") != "code":
            raise RedirectError(req, "unsupported_response_type", "response_type must be code.")
        if not req.scopes:
            raise RedirectError(req, "invalid_request", "scope is required.")
        unknown = [s for s in req.scopes if s not in SCOPES]
        if unknown:
            raise RedirectError(req, "invalid_scope", f"Unknown scope: {','.join(unknown)}.")
        challenge = params.get("code_challenge")
        if challenge is None and STATE.setting("pkce_required"):
            raise RedirectError(req, "invalid_request", "code_challenge is required.")
        if challenge is not None:
            if params.get("code_challenge_method") != "S256":
                raise RedirectError(req, "invalid_request", "code_challenge_method must be S256.")
            encoding = current_encoding()
            shape = _HEX if encoding == "hex" else _B64URL
            if not shape.fullmatch(challenge):
                raise RedirectError(
                    req,
                    "invalid_request",
                    f"Code verifier or code challenge is invalid (expected {encoding}).",
                )
        return req

    def approve(req: AuthorizeRequest, user: FakeUser, granted: tuple[str, ...]) -> dict[str, str]:
        code = STATE.issue_code(
            client_id=req.client_id,
            redirect_uri=req.redirect_uri,
            subject=user.id,
            scopes=granted,
            challenge=req.params.get("code_challenge"),
            challenge_method=req.params.get("code_challenge_method"),
            extras={"pkce_encoding": current_encoding()},
            prefix="sbx*0!",  # real codes carry characters that must be URL-decoded
        )
        return {"code": code.code, "scopes": ",".join(granted), "state": req.state or ""}

    flow = ConsentFlow(
        platform_label="TikTok",
        users=USERS,
        scope_labels=SCOPES,
        parse=parse,
        approve=approve,
        state=STATE,
    )

    @router.api_route("/v2/auth/authorize/", methods=["GET", "POST"], response_model=None)
    async def authorize_page(request: Request) -> Response:
        return await authorize(request, flow)

    def check_client(form: dict[str, str]) -> None:
        if form.get("client_key") != settings.tiktok_client_key or not same_secret(
            form.get("client_secret"), secret
        ):
            raise invalid_client("client_key or client_secret is invalid.")

    def tokens(grant: Grant) -> JSONResponse:
        access = STATE.issue_access(
            grant, lifetime_s=STATE.setting("access_token_lifetime_s"), prefix="act."
        )
        refresh_lifetime = STATE.setting("refresh_token_lifetime_s")
        refresh = STATE.issue_refresh(grant, lifetime_s=refresh_lifetime, prefix="rft.")
        body = {
            "access_token": access.token,
            "expires_in": int(STATE.setting("access_token_lifetime_s")),
            "open_id": grant.subject,
            "refresh_expires_in": int(refresh_lifetime),
            "refresh_token": refresh.token,
            "scope": ",".join(grant.scopes),
            "token_type": "Bearer",
        }
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    async def exchange(form: dict[str, str]) -> Response:
        check_client(form)
        require(form, "code", "redirect_uri")
        code = STATE.redeem_code(form["code"], client_id=form["client_key"], revoke_on_replay=False)
        if form["redirect_uri"] != code.redirect_uri:
            raise invalid_grant("redirect_uri does not match the authorization request.")
        if code.challenge is not None:
            verifier = form.get("code_verifier", "")
            method = code.challenge_method or "S256"
            encoding: pkce.Encoding = (
                "hex" if code.extras.get("pkce_encoding") == "hex" else "base64url"
            )
            if not pkce.verify(verifier, code.challenge, method=method, encoding=encoding):
                raise invalid_request("Code verifier or code challenge is invalid.")
        return tokens(STATE.open_grant(code))

    async def refresh(form: dict[str, str]) -> Response:
        check_client(form)
        require(form, "refresh_token")
        grant = STATE.use_refresh(form["refresh_token"], client_id=form["client_key"], rotate=True)
        return tokens(grant)

    @router.post("/v2/oauth/token/", response_model=None)
    async def token(request: Request) -> Response:
        try:
            form = await read_form(request)
        except OAuthError as exc:
            STATE.count("token:-")
            return render_error(exc)
        grant_type = form.get("grant_type", "")

        async def handle() -> Response:
            if grant_type == "authorization_code":
                return await exchange(form)
            if grant_type == "refresh_token":
                return await refresh(form)
            require(form, "grant_type")
            raise OAuthError("unsupported_grant_type", f"grant_type {grant_type} not supported.")

        return await token_call(STATE, grant_type, render_error, handle)

    @router.post("/v2/oauth/revoke/", response_model=None)
    async def revoke(request: Request) -> Response:
        STATE.count("revoke")
        try:
            form = await read_form(request)
            check_client(form)
            require(form, "token")
        except OAuthError as exc:
            return render_error(exc)
        grant = STATE.grant_of_access(form["token"])
        if grant is not None and grant.client_id == settings.tiktok_client_key:
            STATE.revoke_grant(grant.grant_id)
        return JSONResponse({})

    @router.get("/v2/user/info/", response_model=None)
    async def user_info(request: Request, fields: str = "") -> Response:
        STATE.count("userinfo")
        token = bearer(request)
        issued = None
        if token is not None:
            try:
                issued = STATE.live_access(token)
            except OAuthError:
                issued = None
        if issued is None:
            return _api_error(
                401,
                "access_token_invalid",
                "The access token is invalid or not found in the request.",
            )
        wanted = [f for f in fields.split(",") if f]
        unknown = [f for f in wanted if f not in _FIELD_SCOPES]
        if not wanted or unknown:
            return _api_error(400, "invalid_params", f"Invalid fields: {','.join(unknown)}.")
        missing = sorted({_FIELD_SCOPES[f] for f in wanted} - issued.scopes)
        if missing:
            return _api_error(
                401, "scope_not_authorized", f"The user did not authorize {','.join(missing)}."
            )
        user = next((u for u in USERS if u.id == issued.subject), None)
        profile = _profile(user, issued.subject)
        return JSONResponse(
            {
                "data": {"user": {f: profile[f] for f in wanted}},
                "error": {"code": "ok", "message": "", "log_id": log_id()},
            }
        )

    return router


def _profile(user: FakeUser | None, subject: str) -> dict[str, Any]:
    name = user.display_name if user else f"Sandbox {subject}"
    handle = user.username if user else subject.lower()
    avatar = user.avatar_url if user else "https://sandbox.invalid/tiktok/anon.jpg"
    extra = user.extra if user else {}
    return {
        "open_id": subject,
        "union_id": extra.get("union_id", f"union-{subject}"),
        "avatar_url": avatar,
        "avatar_url_100": avatar,
        "avatar_large_url": avatar,
        "display_name": name,
        "bio_description": "A sandbox creator.",
        "profile_deep_link": f"https://www.tiktok.com/@{handle}",
        "is_verified": False,
        "username": handle,
        "follower_count": int(extra.get("follower_count", "0")),
        "following_count": 3,
        "likes_count": 42,
        "video_count": 5,
    }


def _api_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"data": {}, "error": {"code": code, "message": message, "log_id": log_id()}},
        status_code=status,
    )
