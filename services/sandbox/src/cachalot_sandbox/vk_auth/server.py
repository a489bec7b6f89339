"""VK ID's OAuth 2.1 endpoints: PKCE always, ``device_id`` bound to the grant."""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from cachalot_common.text import prefix
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
)
from cachalot_sandbox.oauthkit.http import flat_error, read_form, require, token_call
from cachalot_sandbox.oauthkit.idtoken import signer
from cachalot_sandbox.oauthkit.state import Grant, PlatformState
from cachalot_sandbox.settings import SandboxSettings
from cachalot_sandbox.tokens import IssuedToken

STATE = PlatformState(
    "vk",
    {"access_token_lifetime_s": 3600, "refresh_token_lifetime_s": 15552000, "code_lifetime_s": 600},
)
DEFAULT_SCOPE = "vkid.personal_info"
SCOPES = {
    "vkid.personal_info": "Your name, photo, sex and birthday",
    "email": "Your email address",
    "phone": "Your phone number",
    "friends": "Your friends",
    "wall": "Posting on your wall",
    "groups": "Your communities",
    "video": "Your videos",
    "photos": "Your photos",
    "docs": "Your documents",
    "stories": "Your stories",
    "status": "Your status",
    "stats": "Statistics of your communities",
    "market": "Your market",
    "notes": "Your notes",
    "ads": "Your advertising cabinet",
}
USERS = (
    FakeUser(
        id="100000001",
        display_name="Alice Sandboxova",
        username="alice_sandbox",
        avatar_url="https://sandbox.invalid/vk/alice.jpg",
        email="alice@sandbox.example",
        extra={"phone": "79000000001", "sex": "1", "birthday": "01.01.1990"},
    ),
    FakeUser(
        id="100000002",
        display_name="Boris Sandboxov",
        username="boris_sandbox",
        avatar_url="https://sandbox.invalid/vk/boris.jpg",
        email="boris@sandbox.example",
        extra={"phone": "79000000002", "sex": "2", "birthday": "02.02.1992"},
    ),
)
_B64URL = re.compile(r"^[A-Za-z0-9_-]{43}$")


def api_router(settings: SandboxSettings) -> APIRouter:
    client_id = settings.vk_client_id
    secret = settings.vk_client_secret.get_secret_value()
    router = APIRouter(prefix="/vk", tags=["sandbox: vk id"])

    def parse(params: dict[str, str]) -> AuthorizeRequest:
        if params.get("client_id") != client_id:
            raise PageError("invalid_client", "Unknown client_id.")
        redirect_uri = registered_redirect_uri(
            params,
            STATE,
            malformed=PageError("invalid_request", "redirect_uri must be an absolute URL."),
            # VK's answer for a URI not among the app's trusted redirect URLs
            unregistered=PageError(
                "invalid_request",
                "redirect_uri is incorrect, check application domain in the settings page",
            ),
        )
        raw_scope = params.get("scope") or DEFAULT_SCOPE
        req = AuthorizeRequest(
            client_id=client_id,
            redirect_uri=redirect_uri,
            state=params.get("state"),
            scopes=tuple(dict.fromkeys(raw_scope.split())),
            params=params,
        )
        if params.get("response_type") != "code":
            raise RedirectError(req, "unsupported_response_type", "response_type must be code.")
        if not req.state:
            raise RedirectError(req, "invalid_request", "state is required.")
        unknown = [s for s in req.scopes if s not in SCOPES]
        if unknown:
            raise RedirectError(req, "invalid_scope", f"Unknown scope: {' '.join(unknown)}.")
        challenge = params.get("code_challenge", "")
        if "code_verifier" in params:
            raise RedirectError(req, "invalid_request", "code_verifier must not be sent here.")
        if not challenge:
            raise RedirectError(req, "invalid_request", "code_challenge is required.")
        if params.get("code_challenge_method", "").lower() != "s256":
            raise RedirectError(req, "invalid_request", "code_challenge_method must be s256.")
        if not _B64URL.fullmatch(challenge):
            raise RedirectError(req, "invalid_request", "code_challenge is not base64url(S256).")
        return req

    def approve(req: AuthorizeRequest, user: FakeUser, granted: tuple[str, ...]) -> dict[str, str]:
        device_id = secrets.token_urlsafe(32)
        code = STATE.issue_code(
            client_id=client_id,
            redirect_uri=req.redirect_uri,
            subject=vk_user_id(user),
            scopes=granted,
            challenge=req.params["code_challenge"],
            challenge_method="S256",
            extras={"device_id": device_id},
            prefix="vk2.c.",
        )
        return {
            "code": code.code,
            "expires_in": str(int(STATE.setting("code_lifetime_s"))),
            "device_id": device_id,
            "state": req.state or "",
            "type": "code_v2",
        }

    flow = ConsentFlow(
        platform_label="VK ID",
        users=USERS,
        scope_labels=SCOPES,
        parse=parse,
        approve=approve,
        state=STATE,
    )

    @router.api_route("/authorize", methods=["GET", "POST"], response_model=None)
    async def authorize_page(request: Request) -> Response:
        return await authorize(request, flow)

    def check_client(form: dict[str, str]) -> None:
        if form.get("client_id") != client_id:
            raise invalid_client("Unknown client_id.")
        if "client_secret" in form and not same_secret(form["client_secret"], secret):
            raise invalid_client("client_secret is invalid.")

    def tokens(grant: Grant, state: str) -> JSONResponse:
        lifetime = STATE.setting("access_token_lifetime_s")
        access = STATE.issue_access(grant, lifetime_s=lifetime, prefix="vk2.a.")
        refresh = STATE.issue_refresh(
            grant, lifetime_s=STATE.setting("refresh_token_lifetime_s"), prefix="vk2.r."
        )
        body = {
            "refresh_token": refresh.token,
            "access_token": access.token,
            "id_token": _id_token(grant),
            "token_type": "Bearer",
            "expires_in": int(lifetime),
            "user_id": int(grant.subject),
            "state": state,
            "scope": " ".join(grant.scopes),
        }
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    async def exchange(form: dict[str, str]) -> Response:
        check_client(form)
        require(form, "code", "code_verifier", "device_id", "redirect_uri", "state")
        code = STATE.redeem_code(form["code"], client_id=client_id, revoke_on_replay=False)
        if form["device_id"] != code.extras["device_id"]:
            raise invalid_grant("device_id does not match the authorization.")
        if form["redirect_uri"] != code.redirect_uri:
            raise invalid_grant("redirect_uri does not match the authorization request.")
        assert code.challenge is not None
        if not pkce.verify(
            form["code_verifier"], code.challenge, method="S256", encoding="base64url"
        ):
            raise invalid_grant("code_verifier is invalid.")
        return tokens(STATE.open_grant(code), form["state"])

    async def refresh(form: dict[str, str]) -> Response:
        check_client(form)
        require(form, "refresh_token", "device_id", "state")
        known = STATE.grant_of_refresh(form["refresh_token"])
        if known is not None and known.extras.get("device_id") != form["device_id"]:
            raise invalid_grant("device_id does not match the grant.")
        grant = STATE.use_refresh(form["refresh_token"], client_id=client_id, rotate=True)
        return tokens(grant, form["state"])

    @router.post("/oauth2/auth", response_model=None)
    async def token(request: Request) -> Response:
        try:
            form = await read_form(request)
        except OAuthError as exc:
            STATE.count("token:-")
            return flat_error(exc)
        grant_type = form.get("grant_type", "")

        def render(exc: OAuthError) -> Response:
            return flat_error(exc, **({"state": form["state"]} if "state" in form else {}))

        async def handle() -> Response:
            if grant_type == "authorization_code":
                return await exchange(form)
            if grant_type == "refresh_token":
                return await refresh(form)
            require(form, "grant_type")
            raise OAuthError("unsupported_grant_type", f"grant_type {grant_type} not supported.")

        return await token_call(STATE, grant_type, render, handle)

    async def session(request: Request, counter: str) -> tuple[IssuedToken, Grant] | Response:
        STATE.count(counter)
        try:
            form = await read_form(request)
            check_client(form)
            require(form, "access_token")
            issued = STATE.live_access(form["access_token"])
        except OAuthError as exc:
            return flat_error(exc)
        grant = STATE.grant_of_access(issued.token)
        assert grant is not None
        return issued, grant

    @router.post("/oauth2/user_info", response_model=None)
    async def user_info(request: Request) -> Response:
        found = await session(request, "userinfo")
        if isinstance(found, Response):
            return found
        issued, _ = found
        return JSONResponse({"user": _user(issued.subject, issued.scopes, masked=False)})

    @router.post("/oauth2/public_info", response_model=None)
    async def public_info(request: Request) -> Response:
        STATE.count("public_info")
        try:
            form = await read_form(request)
            check_client(form)
            require(form, "id_token")
            claims = signer.verify(form["id_token"], audience=client_id)
        except OAuthError as exc:
            return flat_error(exc)
        except Exception:
            return flat_error(OAuthError("invalid_token", "id_token is invalid.", status=401))
        return JSONResponse({"user": _user(str(claims["sub"]), frozenset(SCOPES), masked=True)})

    @router.post("/oauth2/logout", response_model=None)
    async def logout(request: Request) -> Response:
        found = await session(request, "logout")
        if isinstance(found, Response):
            return found
        STATE.revoke_grant(found[1].grant_id)
        return JSONResponse({"response": 1})

    @router.post("/oauth2/revoke", response_model=None)
    async def revoke(request: Request) -> Response:
        found = await session(request, "revoke")
        if isinstance(found, Response):
            return found
        grant = found[1]
        STATE.revoke_grant(grant.grant_id)
        STATE.forget_consent(grant.client_id, grant.subject)
        return JSONResponse({"response": 1})

    return router


def _id_token(grant: Grant) -> str:
    return signer.sign(
        {
            "iss": "VK",
            "sub": grant.subject,
            "app": grant.client_id,
            "aud": grant.client_id,
            "jti": secrets.token_hex(8),
        }
    )


_EXTRA_IDS: dict[str, FakeUser] = {}
"""On-demand users signed in so far, by the VK id :func:`vk_user_id` gave them."""


def vk_user_id(user: FakeUser) -> str:
    """The VK id (digits: VK ids are numbers, read with ``int`` everywhere) of ``user``.

    A listed user's id is its own; an on-demand ``sandbox-extra-<name>`` user (load tests,
    as on the other sandboxes) gets a stable one, 800000000 + sha256(<name>) mod 10**8.
    """
    if user.id.isdigit():
        return user.id
    digest = hashlib.sha256(user.id.encode()).digest()
    number = str(800_000_000 + int.from_bytes(digest[:8], "big") % 100_000_000)
    _EXTRA_IDS[number] = user
    return number


def _user(subject: str, scopes: frozenset[str], *, masked: bool) -> dict[str, Any]:
    user = next((u for u in USERS if u.id == subject), None) or _EXTRA_IDS.get(subject)
    first, _, last = (user.display_name if user else f"Sandbox {subject}").partition(" ")
    extra = user.extra if user else {}
    email = user.email if user and user.email else f"id{subject}@sandbox.example"
    phone = extra.get("phone", "79000000000")
    out: dict[str, Any] = {
        "user_id": subject,
        "first_name": first,
        "last_name": prefix(last, 1, count="graphemes") if masked else last,
        "avatar": user.avatar_url if user else "https://sandbox.invalid/vk/anon.jpg",
        "sex": int(extra.get("sex", "0")),
        "verified": False,
        "birthday": extra.get("birthday", "01.01.2000"),
    }
    if masked:
        out["email"] = f"{prefix(email, 1, count='graphemes')}***@{email.split('@')[1]}"
        out["phone"] = f"{phone[:1]} *** *** ** {phone[-2:]}"
        return out
    if "email" in scopes:
        out["email"] = email
    if "phone" in scopes:
        out["phone"] = phone
    return out
