"""Instagram Login's code, token and ``/me`` endpoints with Graph-shaped errors."""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from cachalot_common.untrusted import same_secret
from cachalot_sandbox.oauthkit.consent import (
    AuthorizeRequest,
    ConsentFlow,
    FakeUser,
    PageError,
    RedirectError,
    authorize,
    registered_redirect_uri,
)
from cachalot_sandbox.oauthkit.errors import OAuthError, invalid_client, invalid_grant
from cachalot_sandbox.oauthkit.http import bearer, read_form, require, token_call
from cachalot_sandbox.oauthkit.state import Grant, PlatformState
from cachalot_sandbox.settings import SandboxSettings
from cachalot_sandbox.tokens import IssuedToken

STATE = PlatformState(
    "instagram",
    {
        "access_token_lifetime_s": 5184000,
        "short_lived_lifetime_s": 3600,
        "code_lifetime_s": 3600,
        "min_refresh_age_s": 86400,
    },
)
SCOPES = {
    "instagram_business_basic": "Access your profile and media",
    "instagram_business_content_publish": "Publish content to your account",
    "instagram_business_manage_comments": "Manage comments on your content",
    "instagram_business_manage_messages": "Manage your messages",
    "instagram_business_manage_insights": "Read insights about your account",
}
USERS = (
    FakeUser(
        id="17841400000000001",
        display_name="Alice Sandbox",
        username="alice.sandbox",
        avatar_url="https://sandbox.invalid/instagram/alice.jpg",
        extra={"app_scoped_id": "9100000000000001", "account_type": "BUSINESS"},
    ),
    FakeUser(
        id="17841400000000002",
        display_name="Bob Sandbox",
        username="bob.sandbox",
        avatar_url="https://sandbox.invalid/instagram/bob.jpg",
        extra={"app_scoped_id": "9100000000000002", "account_type": "MEDIA_CREATOR"},
    ),
)
_VERSION = re.compile(r"^v\d+\.\d+$")
_FIELDS = {
    "id",
    "user_id",
    "username",
    "name",
    "account_type",
    "profile_picture_url",
    "followers_count",
    "follows_count",
    "media_count",
}
_GRAPH_CODES = {"invalid_client": 101, "invalid_token": 190, "insufficient_scope": 10}


def graph_error(exc: OAuthError) -> JSONResponse:
    """Graph API error body; transient for 5xx, like Meta's code 2."""
    server_side = exc.status >= 500
    code = 2 if server_side else _GRAPH_CODES.get(exc.error, 100)
    error: dict[str, Any] = {
        "message": exc.description,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": secrets.token_urlsafe(12),
    }
    if server_side:
        error["is_transient"] = True
    return JSONResponse({"error": error}, status_code=exc.status)


def api_router(settings: SandboxSettings) -> APIRouter:
    app_id = settings.instagram_client_id
    secret = settings.instagram_client_secret.get_secret_value()
    router = APIRouter(prefix="/instagram", tags=["sandbox: instagram oauth"])

    def parse(params: dict[str, str]) -> AuthorizeRequest:
        if params.get("client_id") != app_id:
            raise PageError("invalid_client", "Invalid platform app.")
        redirect_uri = registered_redirect_uri(
            params,
            STATE,
            malformed=PageError("invalid_request", "Invalid redirect_uri."),
            # Instagram's page for a URI not in the app's Valid OAuth Redirect URIs
            unregistered=PageError(
                "invalid_request",
                "Invalid Request: Request parameters are invalid: Invalid redirect_uri",
            ),
        )
        scopes = tuple(s for s in re.split(r"[,\s]+", params.get("scope", "")) if s)
        req = AuthorizeRequest(
            client_id=app_id,
            redirect_uri=redirect_uri,
            state=params.get("state"),
            scopes=scopes,
            params=params,
        )
        if params.get("response_type") != "code":
            raise RedirectError(req, "invalid_request", "response_type must be code.")
        unknown = [s for s in scopes if s not in SCOPES]
        if not scopes or unknown:
            raise RedirectError(req, "invalid_scope", f"Invalid scope: {unknown or 'missing'}.")
        return req

    def approve(req: AuthorizeRequest, user: FakeUser, granted: tuple[str, ...]) -> dict[str, str]:
        code = STATE.issue_code(
            client_id=app_id,
            redirect_uri=req.redirect_uri,
            subject=user.id,
            scopes=granted,
            prefix="AQsbx",
        )
        callback = {"code": code.code}
        if req.state is not None:
            callback["state"] = req.state
        return callback

    flow = ConsentFlow(
        platform_label="Instagram",
        users=USERS,
        scope_labels=SCOPES,
        parse=parse,
        approve=approve,
        deny_extra={"error_reason": "user_denied"},
        fragment="_",
        state=STATE,
    )

    @router.api_route("/oauth/authorize", methods=["GET", "POST"], response_model=None)
    async def authorize_page(request: Request) -> Response:
        return await authorize(request, flow)

    def check_secret(given: str | None) -> None:
        if not same_secret(given, secret):
            raise invalid_client("Error validating client secret.")

    def issue(grant: Grant, kind: str) -> IssuedToken:
        key = "short_lived_lifetime_s" if kind == "short" else "access_token_lifetime_s"
        issued = STATE.issue_access(grant, lifetime_s=STATE.setting(key), prefix="IGAAsbx")
        issued.meta.update({"kind": kind, "issued_at": str(time.time())})
        return issued

    async def exchange(form: dict[str, str]) -> Response:
        require(form, "client_id", "client_secret", "code", "redirect_uri")
        if form["client_id"] != app_id:
            raise invalid_client("Invalid platform app.")
        check_secret(form["client_secret"])
        code = STATE.redeem_code(form["code"], client_id=app_id, revoke_on_replay=False)
        if form["redirect_uri"] != code.redirect_uri:
            raise invalid_grant(
                "Error validating verification code. Please make sure your redirect_uri "
                "is identical to the one you used in the OAuth dialog request"
            )
        grant = STATE.open_grant(code)
        token = issue(grant, "short")
        entry = {
            "access_token": token.token,
            "user_id": grant.subject,
            "permissions": ",".join(grant.scopes),
        }
        return JSONResponse({"data": [entry]}, headers={"Cache-Control": "no-store"})

    @router.post("/oauth/access_token", response_model=None)
    async def code_exchange(request: Request) -> Response:
        try:
            form = await read_form(request, allow_multipart=True)
        except OAuthError as exc:
            STATE.count("token:-")
            return graph_error(exc)
        grant_type = form.get("grant_type", "")

        async def handle() -> Response:
            if grant_type != "authorization_code":
                raise OAuthError("unsupported_grant_type", "Unsupported grant_type.")
            return await exchange(form)

        return await token_call(STATE, grant_type, graph_error, handle)

    def live(token: str | None) -> IssuedToken:
        if not token:
            raise OAuthError("invalid_request", "An active access token must be used.")
        try:
            return STATE.live_access(token)
        except OAuthError as exc:
            raise OAuthError(
                "invalid_token", "Error validating access token: Session has expired or is invalid."
            ) from exc

    def long_lived_body(issued: IssuedToken) -> JSONResponse:
        return JSONResponse(
            {
                "access_token": issued.token,
                "token_type": "bearer",
                "expires_in": int(STATE.setting("access_token_lifetime_s")),
            },
            headers={"Cache-Control": "no-store"},
        )

    async def long_lived(request: Request, version: str | None) -> Response:
        query = dict(request.query_params)
        grant_type = query.get("grant_type", "")

        async def handle() -> Response:
            _check_version(version)
            if grant_type != "ig_exchange_token":
                raise OAuthError("unsupported_grant_type", "grant_type must be ig_exchange_token.")
            check_secret(query.get("client_secret"))
            issued = live(query.get("access_token"))
            if issued.meta.get("kind") != "short":
                raise OAuthError("invalid_request", "Only short-lived tokens can be exchanged.")
            grant = STATE.grant_of_access(issued.token)
            assert grant is not None
            return long_lived_body(issue(grant, "long"))

        return await token_call(STATE, grant_type, graph_error, handle)

    async def refresh(request: Request, version: str | None) -> Response:
        query = dict(request.query_params)
        grant_type = query.get("grant_type", "")

        async def handle() -> Response:
            _check_version(version)
            if grant_type != "ig_refresh_token":
                raise OAuthError("unsupported_grant_type", "grant_type must be ig_refresh_token.")
            issued = live(query.get("access_token"))
            if issued.meta.get("kind") != "long":
                raise OAuthError("invalid_request", "Only long-lived tokens can be refreshed.")
            age = time.time() - float(issued.meta["issued_at"])
            if age < STATE.setting("min_refresh_age_s"):
                raise OAuthError(
                    "invalid_request",
                    "The access token must be at least 24 hours old to be refreshed.",
                )
            grant = STATE.grant_of_access(issued.token)
            assert grant is not None
            return long_lived_body(issue(grant, "long"))

        return await token_call(STATE, grant_type, graph_error, handle)

    async def me(request: Request, version: str | None) -> Response:
        STATE.count("userinfo")
        try:
            _check_version(version)
            issued = live(request.query_params.get("access_token") or bearer(request))
            if "instagram_business_basic" not in issued.scopes:
                raise OAuthError(
                    "insufficient_scope", "Application does not have permission for this action"
                )
            wanted = [f for f in request.query_params.get("fields", "id").split(",") if f]
            unknown = [f for f in wanted if f not in _FIELDS]
            if unknown:
                raise OAuthError(
                    "invalid_request",
                    f"(#100) Tried accessing nonexisting field ({unknown[0]}) on node type (User)",
                )
        except OAuthError as exc:
            return graph_error(exc)
        profile = _profile(issued.subject)
        return JSONResponse({"id": profile["id"], **{f: profile[f] for f in wanted}})

    @router.get("/access_token", response_model=None)
    async def exchange_unversioned(request: Request) -> Response:
        return await long_lived(request, None)

    @router.get("/refresh_access_token", response_model=None)
    async def refresh_unversioned(request: Request) -> Response:
        return await refresh(request, None)

    @router.get("/me", response_model=None)
    async def me_unversioned(request: Request) -> Response:
        return await me(request, None)

    @router.get("/{version}/access_token", response_model=None)
    async def exchange_versioned(request: Request, version: str) -> Response:
        return await long_lived(request, version)

    @router.get("/{version}/refresh_access_token", response_model=None)
    async def refresh_versioned(request: Request, version: str) -> Response:
        return await refresh(request, version)

    @router.get("/{version}/me", response_model=None)
    async def me_versioned(request: Request, version: str) -> Response:
        return await me(request, version)

    return router


def _check_version(version: str | None) -> None:
    if version is not None and not _VERSION.fullmatch(version):
        raise OAuthError("invalid_request", f"Unknown path components: /{version}")


def _profile(subject: str) -> dict[str, Any]:
    user = next((u for u in USERS if u.id == subject), None)
    # an on-demand user (``sandbox-extra-<name>``) reads like a person's handle, as the
    # consent page names it ("Extra <name>"), not "usersandbox-extra-<name>" (issue 12)
    short = subject.removeprefix("sandbox-extra-")
    return {
        "id": user.extra["app_scoped_id"] if user else f"91{subject}",
        "user_id": subject,
        "username": user.username if user else f"extra.{short}".lower(),
        "name": user.display_name if user else f"Extra {short}",
        "account_type": user.extra["account_type"] if user else "BUSINESS",
        "profile_picture_url": user.avatar_url if user else "https://sandbox.invalid/ig.jpg",
        "followers_count": 321,
        "follows_count": 12,
        "media_count": 4,
    }
