"""Who the Google token belongs to: OIDC discovery, userinfo, YouTube channel."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from cachalot_sandbox.google_auth.server import STATE, user_claims
from cachalot_sandbox.google_auth.users import (
    CHANNEL_SCOPES,
    EMAIL,
    ISSUER,
    PROFILE,
    USERS,
    user_by_id,
)
from cachalot_sandbox.oauthkit.errors import OAuthError
from cachalot_sandbox.oauthkit.http import bearer
from cachalot_sandbox.oauthkit.idtoken import signer
from cachalot_sandbox.settings import SandboxSettings
from cachalot_sandbox.tokens import IssuedToken

_IDENTITY_SCOPES = frozenset({"openid", EMAIL, PROFILE})


def identity_router(settings: SandboxSettings) -> APIRouter:
    router = APIRouter(tags=["sandbox: google identity"])

    @router.get("/google/.well-known/openid-configuration")
    async def discovery(request: Request) -> dict[str, Any]:
        base = str(request.base_url).rstrip("/")
        return {
            "issuer": ISSUER,
            "authorization_endpoint": f"{base}/google/o/oauth2/v2/auth",
            "token_endpoint": f"{base}/google/token",
            "userinfo_endpoint": f"{base}/google/v1/userinfo",
            "revocation_endpoint": f"{base}/google/revoke",
            "jwks_uri": f"{base}/google/oauth2/v3/certs",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "code_challenge_methods_supported": ["plain", "S256"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
        }

    @router.get("/google/oauth2/v3/certs")
    @router.get("/youtube/oauth2/v3/certs")
    async def certs() -> dict[str, Any]:
        return signer.jwks()

    def token_of(request: Request) -> IssuedToken | None:
        value = bearer(request) or request.query_params.get("access_token")
        if value is None:
            return None
        try:
            return STATE.live_access(value)
        except OAuthError:
            return None

    async def userinfo(request: Request, *, v2: bool) -> Response:
        STATE.count("userinfo")
        issued = token_of(request)
        if issued is None:
            return JSONResponse(
                {"error": "invalid_request", "error_description": "Invalid Credentials"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        if not issued.scopes & _IDENTITY_SCOPES:
            return JSONResponse(
                {"error": "insufficient_scope", "error_description": "Insufficient Permission"},
                status_code=403,
            )
        claims = {
            "sub": issued.subject,
            **user_claims(user_by_id(issued.subject), issued.subject, set(issued.scopes)),
        }
        if v2:
            claims["id"] = claims.pop("sub")
            if "email_verified" in claims:
                claims["verified_email"] = claims.pop("email_verified")
        return JSONResponse(claims)

    @router.get("/google/v1/userinfo", response_model=None)
    @router.get("/google/oauth2/v3/userinfo", response_model=None)
    @router.get("/youtube/oauth2/v3/userinfo", response_model=None)
    async def userinfo_v3(request: Request) -> Response:
        return await userinfo(request, v2=False)

    @router.get("/youtube/oauth2/v2/userinfo", response_model=None)
    async def userinfo_v2(request: Request) -> Response:
        return await userinfo(request, v2=True)

    @router.get("/youtube/youtube/v3/channels", response_model=None)
    async def channels(request: Request) -> Response:
        """``channels.list`` for ``mine=true`` (and ``id=`` of sandbox channels)."""
        STATE.count("channels")
        query = request.query_params
        parts = [p for p in query.get("part", "").split(",") if p]
        if not parts:
            return _yt_error(400, "required", "Required parameter: part", "global")
        mine = query.get("mine") == "true"
        if not mine and "id" not in query:
            return _yt_error(
                400,
                "missingRequiredParameter",
                "No filter selected. Expected one of: forUsername, managedByMe, "
                "forHandle, mySubscribers, id, mine, categoryId",
                "youtube.parameter",
            )
        issued = token_of(request)
        if issued is None:
            return _yt_error(
                401,
                "authError",
                "Request had invalid authentication credentials.",
                "global",
                status="UNAUTHENTICATED",
            )
        if not issued.scopes & CHANNEL_SCOPES:
            return _yt_error(
                403,
                "insufficientPermissions",
                "Request had insufficient authentication scopes.",
                "global",
                status="PERMISSION_DENIED",
            )
        if mine:
            user = user_by_id(issued.subject)
            owners = [user] if user is not None and "channel_id" in user.extra else []
        else:
            wanted = set(query["id"].split(","))
            owners = [u for u in USERS if u.extra.get("channel_id") in wanted]
        body: dict[str, Any] = {
            "kind": "youtube#channelListResponse",
            "etag": "sandbox-etag",
            "pageInfo": {"totalResults": len(owners), "resultsPerPage": 5},
        }
        if owners:
            body["items"] = [_channel(u.extra, parts, u.avatar_url) for u in owners]
        return JSONResponse(body)

    return router


def _channel(extra: Any, parts: list[str], avatar: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "kind": "youtube#channel",
        "etag": "sandbox-etag",
        "id": extra["channel_id"],
    }
    title = extra.get("channel_title", "Sandbox channel")
    if "snippet" in parts:
        thumbs = {
            size: {"url": avatar, "width": px, "height": px}
            for size, px in (("default", 88), ("medium", 240), ("high", 800))
        }
        item["snippet"] = {
            "title": title,
            "description": "A sandbox channel.",
            "customUrl": "@" + title.lower().replace(" ", ""),
            "publishedAt": "2020-01-01T00:00:00Z",
            "thumbnails": thumbs,
            "localized": {"title": title, "description": "A sandbox channel."},
        }
    if "contentDetails" in parts:
        item["contentDetails"] = {
            "relatedPlaylists": {"likes": "", "uploads": "UU" + extra["channel_id"][2:]}
        }
    if "status" in parts:
        item["status"] = {
            "privacyStatus": "public",
            "isLinked": True,
            "longUploadsStatus": "allowed",
        }
    return item


def _yt_error(
    code: int, reason: str, message: str, domain: str, *, status: str | None = None
) -> JSONResponse:
    error: dict[str, Any] = {
        "code": code,
        "message": message,
        "errors": [{"message": message, "domain": domain, "reason": reason}],
    }
    if status is not None:
        error["status"] = status
    return JSONResponse({"error": error}, status_code=code)
