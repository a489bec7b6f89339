"""Google's authorization and token endpoints as documented.

Refresh tokens come only with ``access_type=offline`` and only on a user's
first consent to the client or with ``prompt=consent``; refreshing does not
rotate them. Replaying a used code revokes what it produced (switch
``revoke_on_code_replay``).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from cachalot_common.untrusted import same_secret
from cachalot_sandbox.google_auth.users import (
    EMAIL,
    ISSUER,
    PROFILE,
    SCOPES,
    USERS,
    normalise,
    user_by_id,
)
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
from cachalot_sandbox.oauthkit.errors import OAuthError, invalid_client, invalid_grant
from cachalot_sandbox.oauthkit.http import (
    client_credentials,
    flat_error,
    read_form,
    require,
    token_call,
)
from cachalot_sandbox.oauthkit.idtoken import signer
from cachalot_sandbox.oauthkit.state import Grant, PlatformState
from cachalot_sandbox.settings import SandboxSettings

STATE = PlatformState(
    "google",
    {
        "access_token_lifetime_s": 3599,
        "refresh_token_lifetime_s": 31536000,
        "code_lifetime_s": 600,
        "revoke_on_code_replay": 1,
    },
)
_B64URL = re.compile(r"^[A-Za-z0-9_-]{43}$")
_PROMPTS = {"none", "consent", "select_account"}


def render_error(exc: OAuthError) -> Response:
    return flat_error(exc)


def oauth_router(settings: SandboxSettings) -> APIRouter:
    client_id = settings.google_client_id
    secret = settings.google_client_secret.get_secret_value()
    router = APIRouter(prefix="/google", tags=["sandbox: google oauth"])

    def parse(params: dict[str, str]) -> AuthorizeRequest:
        if params.get("client_id") != client_id:
            raise PageError("invalid_client", "The OAuth client was not found.", status=401)
        redirect_uri = registered_redirect_uri(
            params,
            STATE,
            malformed=PageError("redirect_uri_mismatch", "redirect_uri must be an absolute URL."),
            # Google's "Access blocked" page for a URI not listed on the OAuth client
            unregistered=PageError(
                "redirect_uri_mismatch",
                "Access blocked: This app's request is invalid. You can't sign in because this "
                "app sent an invalid request. Error 400: redirect_uri_mismatch",
            ),
        )
        raw_scope = params.get("scope", "")
        scopes = tuple(dict.fromkeys(normalise(s) for s in raw_scope.split(" ") if s))
        req = AuthorizeRequest(
            client_id=client_id,
            redirect_uri=redirect_uri,
            state=params.get("state"),
            scopes=scopes,
            params=params,
        )
        if params.get("response_type") != "code":
            raise RedirectError(req, "unsupported_response_type", "response_type must be code.")
        if not scopes:
            raise RedirectError(req, "invalid_request", "Missing required parameter: scope")
        unknown = [s for s in scopes if s not in SCOPES]
        if unknown:
            raise RedirectError(
                req, "invalid_scope", f"Some requested scopes were invalid: {unknown}"
            )
        if params.get("access_type", "online") not in ("online", "offline"):
            raise RedirectError(req, "invalid_request", "Invalid access_type.")
        prompts = set(params.get("prompt", "").split())
        if prompts - _PROMPTS or ("none" in prompts and len(prompts) > 1):
            raise RedirectError(req, "invalid_request", "Invalid prompt.")
        challenge = params.get("code_challenge")
        if challenge is not None:
            method = params.get("code_challenge_method", "plain")
            if method not in ("S256", "plain"):
                raise RedirectError(req, "invalid_request", "Invalid code_challenge_method.")
            if method == "S256" and not _B64URL.fullmatch(challenge):
                raise RedirectError(req, "invalid_request", "Invalid code_challenge.")
        # Google's login_hint is the account's email address or its ``sub``
        hint = params.get("login_hint")
        hinted = next((u for u in USERS if hint in (u.email, u.id)), None)
        req.auto_user = hinted.id if hinted else None
        if "none" in prompts:
            user = hinted or USERS[0]
            known = STATE.consented_scopes(client_id, user.id)
            if known is None or not set(scopes) <= known:
                raise RedirectError(req, "consent_required", "The user has not consented.")
            req.auto_decision, req.auto_user = "allow", user.id
        return req

    def approve(req: AuthorizeRequest, user: FakeUser, granted: tuple[str, ...]) -> dict[str, str]:
        params = req.params
        previous = STATE.consented_scopes(client_id, user.id) or set()
        if params.get("include_granted_scopes") == "true":
            granted = tuple(dict.fromkeys([*granted, *sorted(previous)]))
        first = STATE.remember_consent(client_id, user.id, granted)
        prompts = set(params.get("prompt", "").split())
        if "consent" in prompts:  # tests read it in /stats: was the person asked again?
            STATE.count("consent_asked")
        offline = params.get("access_type") == "offline" and (first or "consent" in prompts)
        extras = {"refresh": "1" if offline else ""}
        if "nonce" in params:
            extras["nonce"] = params["nonce"]
        code = STATE.issue_code(
            client_id=client_id,
            redirect_uri=req.redirect_uri,
            subject=user.id,
            scopes=granted,
            challenge=params.get("code_challenge"),
            challenge_method=params.get("code_challenge_method", "plain")
            if "code_challenge" in params
            else None,
            extras=extras,
            prefix="4/0Asbx",
        )
        return {
            "state": req.state or "",
            "code": code.code,
            "scope": " ".join(granted),
            "authuser": "0",
            "prompt": "consent",
        }

    flow = ConsentFlow(
        platform_label="Google",
        users=USERS,
        scope_labels=SCOPES,
        parse=parse,
        approve=approve,
        state=STATE,
    )

    @router.api_route("/o/oauth2/v2/auth", methods=["GET", "POST"], response_model=None)
    async def authorize_v2(request: Request) -> Response:
        return await authorize(request, flow)

    @router.api_route("/o/oauth2/auth", methods=["GET", "POST"], response_model=None)
    async def authorize_v1(request: Request) -> Response:
        return await authorize(request, flow)

    def check_client(request: Request, form: dict[str, str]) -> str:
        given_id, given_secret = client_credentials(request, form)
        if given_id != client_id or not same_secret(given_secret, secret):
            raise invalid_client("Unauthorized")
        return given_id

    def tokens(grant: Grant, *, with_refresh: bool) -> JSONResponse:
        lifetime = STATE.setting("access_token_lifetime_s")
        access = STATE.issue_access(grant, lifetime_s=lifetime, prefix="ya29.sbx")
        body: dict[str, Any] = {
            "access_token": access.token,
            "expires_in": int(lifetime),
            "scope": " ".join(grant.scopes),
            "token_type": "Bearer",
        }
        if with_refresh:
            body["refresh_token"] = STATE.issue_refresh(
                grant, lifetime_s=STATE.setting("refresh_token_lifetime_s"), prefix="1//0sbx"
            ).token
        if "openid" in grant.scopes:
            body["id_token"] = id_token(grant)
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    async def exchange(request: Request, form: dict[str, str]) -> Response:
        check_client(request, form)
        require(form, "code", "redirect_uri")
        code = STATE.redeem_code(
            form["code"],
            client_id=client_id,
            revoke_on_replay=bool(STATE.setting("revoke_on_code_replay")),
        )
        if form["redirect_uri"] != code.redirect_uri:
            raise OAuthError("redirect_uri_mismatch", "Bad Request")
        if code.challenge is not None:
            verifier = form.get("code_verifier")
            if not verifier:
                raise invalid_grant("Missing code verifier.")
            method = code.challenge_method or "plain"
            if not pkce.verify(verifier, code.challenge, method=method, encoding="base64url"):
                raise invalid_grant("Invalid code verifier.")
        grant = STATE.open_grant(code)
        return tokens(grant, with_refresh=code.extras.get("refresh") == "1")

    async def refresh(request: Request, form: dict[str, str]) -> Response:
        check_client(request, form)
        require(form, "refresh_token")
        grant = STATE.use_refresh(form["refresh_token"], client_id=client_id, rotate=False)
        return tokens(grant, with_refresh=False)

    @router.post("/token", response_model=None)
    async def token(request: Request) -> Response:
        try:
            form = await read_form(request)
        except OAuthError as exc:
            STATE.count("token:-")
            return render_error(exc)
        grant_type = form.get("grant_type", "")

        async def handle() -> Response:
            if grant_type == "authorization_code":
                return await exchange(request, form)
            if grant_type == "refresh_token":
                return await refresh(request, form)
            require(form, "grant_type")
            raise OAuthError("unsupported_grant_type", f"Invalid grant_type: {grant_type}")

        return await token_call(STATE, grant_type, render_error, handle)

    @router.post("/revoke", response_model=None)
    async def revoke(request: Request) -> Response:
        STATE.count("revoke")
        value = request.query_params.get("token")
        if value is None:
            try:
                value = (await read_form(request)).get("token")
            except OAuthError as exc:
                return render_error(exc)
        grant = (STATE.grant_of_access(value) or STATE.grant_of_refresh(value)) if value else None
        if grant is None or grant.revoked:
            return render_error(OAuthError("invalid_token", "Token expired or revoked"))
        STATE.revoke_grant(grant.grant_id)
        STATE.forget_consent(grant.client_id, grant.subject)
        return JSONResponse({})

    return router


def id_token(grant: Grant) -> str:
    """An OpenID Connect ID token carrying the claims the scopes allow."""
    user = user_by_id(grant.subject)
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "azp": grant.client_id,
        "aud": grant.client_id,
        "sub": grant.subject,
    }
    if "nonce" in grant.extras:
        claims["nonce"] = grant.extras["nonce"]
    claims.update(user_claims(user, grant.subject, set(grant.scopes)))
    return signer.sign(claims)


def user_claims(user: FakeUser | None, subject: str, scopes: set[str]) -> dict[str, Any]:
    claims: dict[str, Any] = {}
    if EMAIL in scopes:
        claims["email"] = user.email if user else f"{subject}@sandbox.example"
        claims["email_verified"] = True
    if PROFILE in scopes:
        name = user.display_name if user else f"Sandbox {subject}"
        given, _, family = name.partition(" ")
        claims.update(
            {
                "name": name,
                "given_name": given,
                "family_name": family,
                "picture": user.avatar_url if user else "https://sandbox.invalid/google/anon.png",
                "locale": "en",
            }
        )
    return claims
