"""The operator's API at auth: Telegram sign-in, who is signed in, the clients.

Sign-in lives beside the clients' (``/api/v1/auth/operator/login`` and
``…/callback``: public paths of the gateway, like every platform's); the
rest is under ``/api/v1/operator/`` and needs an operator session
(:func:`~cachalot_auth.api.deps.current_operator`: 401 without one, 403 for
a client's).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from cachalot_auth.api.deps import Services, callback_params, current_operator, services
from cachalot_auth.browser_binding import cookie_name, safe_next
from cachalot_auth.notices import PolicyVersionExists, Published
from cachalot_auth.operators import PURPOSE, NotAnOperator, NotSignedIn
from cachalot_auth.signin import SignInFailed
from cachalot_common.problems import Problem, problem_response, problem_responses
from cachalot_common.sessions import COOKIE_NAME, Session
from cachalot_common.untrusted import StrictJsonRoute

logger = logging.getLogger(__name__)


def _https_or_http(value: str) -> str:
    if not value.startswith(("https://", "http://")) or any(c.isspace() for c in value):
        raise ValueError("must be an http(s) address")
    return value


HttpUrlStr = Annotated[str, Field(max_length=500), AfterValidator(_https_or_http)]

OPERATOR_PAGE = "/operator.html"
"""Where an operator lands after sign-in (web/operator.html)."""
CALLBACK_PATH = f"/api/v1/auth/{PURPOSE}/callback"

ServicesDep = Annotated[Services, Depends(services)]


class PolicyVersionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="The version's name as the policy page shows it, e.g. 2026-12-01.",
    )
    url: HttpUrlStr | None = Field(default=None, description="Where the new text is read.")
    summary: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="What changed, in a few words; shown in the e-mail and the operator page.",
    )


OperatorDep = Annotated[Session, Depends(current_operator)]

_WIDGET_QUERY = [
    {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
    for name in (
        "state",
        *("id", "first_name", "last_name", "username", "photo_url", "auth_date", "hash"),
    )
]


def create_router(svc: Services) -> APIRouter:
    """Routes bound to the composition's services; include it before the public router
    (``/auth/operator/…`` must match before ``/auth/{platform}/…``)."""
    router = APIRouter(prefix="/api/v1", route_class=StrictJsonRoute)
    limited = [Depends(svc.rate_limit)]

    @router.get(
        f"/auth/{PURPOSE}/login",
        dependencies=limited,
        tags=["operator"],
        responses={
            302: {"description": "To the Telegram Login Widget's page."},
            **problem_responses(422, 429),
        },
    )
    async def operator_login(svc: ServicesDep, next: str | None = None) -> Response:
        """302 to Telegram's Login Widget; the attempt is bound to this browser for 10 minutes."""
        next_path = safe_next(next) if next else OPERATOR_PAGE
        binding, state = await svc.operators.start(next_path=next_path)
        target = svc.settings.telegram_widget_page()
        return_to = f"{svc.settings.public_url.rstrip('/')}{CALLBACK_PATH}?state={state}"
        query = urlencode({"bot": svc.settings.telegram_bot_username, "return_to": return_to})
        response = RedirectResponse(
            f"{target}{'&' if '?' in target else '?'}{query}", status_code=302
        )
        response.set_cookie(
            cookie_name(PURPOSE),
            binding,
            max_age=svc.settings.oauth_state_ttl_s,
            path=CALLBACK_PATH,
            secure=svc.settings.cookie_secure,
            httponly=True,
            samesite="lax",
        )
        return response

    @router.get(
        CALLBACK_PATH.removeprefix("/api/v1"),
        dependencies=limited,
        tags=["operator"],
        responses={
            302: {"description": "To the operator page, signed in or with `auth_error`."},
            **problem_responses(
                400,
                403,
                429,
                descriptions={
                    400: "A field of the widget's data was sent more than once.",
                    403: "A genuine Telegram user who is not an operator.",
                },
            ),
        },
        openapi_extra={"parameters": _WIDGET_QUERY},
    )
    async def operator_callback(request: Request, svc: ServicesDep) -> Response:
        """Finish an operator's sign-in: an operator session cookie, then 302 to the page.

        A person whose Telegram id is not in ``CACHALOT_OPERATOR_TELEGRAM_IDS``
        gets a 403 problem and nothing is stored.
        """
        params = callback_params(request)  # a field sent twice is a 400
        try:
            done = await svc.operators.finish(
                params, cookie=request.cookies.get(cookie_name(PURPOSE))
            )
        except NotAnOperator:
            logger.info("operator sign-in refused: Telegram user not listed")
            response: Response = problem_response(
                403,
                "This Telegram account is not an operator of this CACHALOT: ask an "
                "administrator to add your Telegram user id to CACHALOT_OPERATOR_TELEGRAM_IDS.",
                title="Not an operator",
                type_="https://cachalot.dev/problems/not-an-operator",
                instance=request.url.path,
            )
        except SignInFailed as failure:
            query = urlencode({"auth_error": failure.code, "platform": PURPOSE})
            response = RedirectResponse(f"{OPERATOR_PAGE}?{query}", status_code=302)
        else:
            response = RedirectResponse(done.next_path, status_code=302)
            response.set_cookie(
                COOKIE_NAME,
                done.token,
                max_age=svc.settings.session_lifetime_s,
                path="/",
                secure=svc.settings.cookie_secure,
                httponly=True,
                samesite="lax",
            )
        response.delete_cookie(cookie_name(PURPOSE), path=CALLBACK_PATH)
        return response

    @router.get("/operator/me", tags=["operator"], responses=problem_responses(401, 403))
    async def operator_me(svc: ServicesDep, session: OperatorDep) -> dict[str, Any]:
        """The signed-in operator: ids and Telegram name."""
        try:
            return await svc.operators.me(session)
        except NotSignedIn:
            raise Problem(401, "Sign in as an operator first (Telegram).") from None

    @router.get("/operator/clients", tags=["operator"], responses=problem_responses(401, 403))
    async def operator_clients(svc: ServicesDep, session: OperatorDep) -> dict[str, Any]:
        """Every client: name, e-mail, consent, accounts with their status. Never a token."""
        return {"items": await svc.operators.clients()}

    @router.post(
        "/operator/policy-versions",
        status_code=201,
        tags=["operator"],
        responses=problem_responses(401, 403, 409, 422),
    )
    async def publish_policy_version(
        body: PolicyVersionIn, svc: ServicesDep, session: OperatorDep
    ) -> dict[str, Any]:
        """Publish a privacy-policy version: every client with an active OAuth account gets
        one e-mail about it (the notifier sends it; clients cannot switch it off).

        409 when the version was published before (it is announced once).
        """
        try:
            done = await svc.notices.publish_policy(
                version=body.version,
                url=body.url,
                summary=body.summary,
                operator_id=session.client_id,
            )
        except PolicyVersionExists:
            raise Problem(
                409,
                f"Version {body.version} was published before; each version is announced once.",
                errors=[
                    {
                        "field": "version",
                        "in": "body",
                        "message": "already published",
                        "type": "already_exists",
                    }
                ],
            ) from None
        logger.info(
            "policy version %s published by operator %s: %d clients to tell",
            done.version,
            session.client_id,
            done.recipients,
        )
        return _policy_version(done)

    @router.get(
        "/operator/policy-versions", tags=["operator"], responses=problem_responses(401, 403)
    )
    async def policy_versions(svc: ServicesDep, session: OperatorDep) -> dict[str, Any]:
        """Every published policy version, newest first: ``{items: [{version, url, summary,
        published_at, recipients}]}``; ``recipients`` is how many clients were sent the
        e-mail (one each, through the notifier)."""
        return {"items": [_policy_version(v) for v in await svc.notices.policy_versions()]}

    return router


def _policy_version(done: Published) -> dict[str, Any]:
    return {
        "version": done.version,
        "url": done.url,
        "summary": done.summary,
        "published_at": done.published_at.isoformat(),
        "recipients": done.recipients,
    }
