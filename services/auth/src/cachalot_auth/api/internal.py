"""Internal API for publishers: token leases and their confirmation in batches (contract:
``cachalot_common.leases``) and
publisher-telegram's reports on a linked channel (``…/telegram-channel``), a token the
platform refused even after a refresh (``…/token-rejected``); for the
notifier: a client's contact (``/internal/v1/clients/{id}/contact``).

Every refusal is logged with the calling service, the account and a ``code``,
never with a token, a service JWT or a grant.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from cachalot_auth.api.deps import Services, services
from cachalot_auth.leasing import (
    LEASE_FAILURES,
    AccountNotFound,
    ChannelReport,
    LeasedToken,
    LeaseFailure,
    LeaseForbidden,
    LeaseRefused,
    LeaseRequest,
)
from cachalot_auth.service_tokens import SpentTokens, TokenReplayed
from cachalot_common.crypto import TokenDecryptionError
from cachalot_common.leases import MAX_CONFIRM_BATCH
from cachalot_common.problems import Problem, problem_responses
from cachalot_common.service_auth import ServiceAuthError, ServiceIdentity, verify_service_token
from cachalot_common.text import CheckedText
from cachalot_common.untrusted import StrictJsonRoute

logger = logging.getLogger(__name__)

ServicesDep = Annotated[Services, Depends(services)]
NOTIFIER = "notifier"
"""The one service that may read a client's e-mail address (to write to it)."""


class LeaseIn(CheckedText):
    model_config = ConfigDict(extra="forbid")

    post_id: uuid.UUID = Field(description="The post this token is for (must match the grant).")
    target_id: uuid.UUID | None = Field(default=None, description="Must match the grant if given.")
    grant: str | None = Field(
        default=None,
        max_length=4096,
        description="The queue's publish grant from the PublishPost command (required).",
    )
    force_refresh: bool = Field(
        default=False, description="Refresh first even if unexpired (after a platform 401)."
    )


class ChannelReportIn(CheckedText):
    model_config = ConfigDict(extra="forbid")

    event: Literal["migrated", "broken"]
    chat_id: str = Field(pattern=r"^-?\d{1,20}$", description="The chat id the post went to.")
    migrate_to_chat_id: str | None = Field(default=None, pattern=r"^-?\d{1,20}$")
    title: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="migrated: the new chat's title as getChat gave it (stored as the "
        "account's channel title).",
    )
    reason: str | None = Field(default=None, max_length=500, description="For people: the fix.")
    post_id: uuid.UUID
    target_id: uuid.UUID | None = None
    grant: str | None = Field(default=None, max_length=4096)


class TokenRejectedIn(CheckedText):
    model_config = ConfigDict(extra="forbid")

    post_id: uuid.UUID
    target_id: uuid.UUID | None = None
    grant: str | None = Field(default=None, max_length=4096)
    token_version: int = Field(
        ge=0,
        description="The refused lease's token_version: a report on tokens stored before "
        "the account's current ones (the client reconnected since) is ignored.",
    )


class ConfirmItemIn(CheckedText):
    model_config = ConfigDict(extra="forbid")

    account_id: uuid.UUID = Field(description="The account whose lease is confirmed.")
    post_id: uuid.UUID = Field(description="The post (must match the grant).")
    target_id: uuid.UUID | None = Field(default=None, description="Must match the grant if given.")
    grant: str | None = Field(
        default=None, max_length=4096, description="The command's publish grant (required)."
    )


class ConfirmIn(CheckedText):
    model_config = ConfigDict(extra="forbid")

    leases: list[ConfirmItemIn] = Field(
        min_length=1,
        max_length=MAX_CONFIRM_BATCH,
        description="The leases to confirm; the answer has one entry per item, in order.",
    )


def _lease_body(leased: LeasedToken) -> dict[str, Any]:
    """The 200 body of a lease (``cachalot_common.leases``)."""
    return {
        "account_id": leased.account_id,
        "platform": leased.platform,
        "access_token": leased.access_token,
        "expires_at": leased.expires_at.isoformat(),
        "scopes": leased.scopes,
        "platform_user_id": leased.platform_user_id,
        "destination": leased.destination,
        "token_version": leased.token_version,
        "language": leased.language,
    }


def _problem(error: LeaseFailure, service: str, account_id: str) -> Problem:
    """The problem a lease of ``account_id`` ends in instead of a token, logged as such."""
    if isinstance(error, AccountNotFound):
        logger.warning(
            "lease refused: service=%s account=%s refusal=not_found", service, account_id
        )
        return Problem(404, "No such account.")
    if isinstance(error, LeaseForbidden):
        logger.warning(
            "lease refused: service=%s account=%s refusal=%s", service, account_id, error.code
        )
        return Problem(403, error.detail, code=error.code)
    if isinstance(error, LeaseRefused):
        return Problem(409, error.detail, code=error.code)
    if isinstance(error, TokenDecryptionError):
        logger.error("lease refused: %s", error)
        return Problem(500, f"{error}; the operator must look at this account.")
    return Problem(
        503,
        f"The platform's token endpoint is unavailable: {error}",
        headers={"Retry-After": "30"},
    )


async def verified_caller(request: Request, svc: ServicesDep) -> ServiceIdentity:
    """The calling service, proven by a short-lived service JWT (not yet spent); else 401.
    A route that takes it spends the token itself (:func:`_replayed` for its refusal)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "Service credentials required.", headers={"WWW-Authenticate": "Bearer"})
    try:
        return verify_service_token(token.strip(), secrets=svc.service_secrets)
    except ServiceAuthError as error:
        logger.warning("lease refused: refusal=service_token_invalid (%s)", error)
        raise Problem(
            401, str(error), code="service_token_invalid", headers={"WWW-Authenticate": "Bearer"}
        ) from None


VerifiedCallerDep = Annotated[ServiceIdentity, Depends(verified_caller)]


class OneUse:
    """A verified caller whose service JWT the route spends in its own transaction
    (:meth:`spend_in`); if that transaction did not commit (a refused body, an error),
    the JWT is spent alone before the answer goes out, so a JWT never serves a second
    request, answered or not."""

    def __init__(self, identity: ServiceIdentity, ledger: SpentTokens) -> None:
        self.identity = identity
        self._ledger = ledger
        self.spent = False

    async def spend_in(self, db: AsyncSession) -> None:
        """Spend the JWT in ``db``'s open transaction; raises the 401 of a replay."""
        try:
            await self._ledger.spend(self.identity, db)
        except TokenReplayed:
            self.spent = True  # by another request: nothing left to spend
            raise _replayed(self.identity) from None
        self.spent = True  # counts once the route's transaction commits (the route returns)

    async def spend_alone(self) -> None:
        with contextlib.suppress(TokenReplayed):
            await self._ledger.spend(self.identity)


async def one_use_caller(identity: VerifiedCallerDep, svc: ServicesDep) -> AsyncIterator[OneUse]:
    """:class:`OneUse` of the calling service (see there); 401 as :func:`caller`."""
    caller = OneUse(identity, svc.spent_tokens)
    returned = False
    try:
        yield caller
        returned = True
    finally:
        if not (returned and caller.spent):
            await caller.spend_alone()


OneUseDep = Annotated[OneUse, Depends(one_use_caller, scope="function")]


async def caller(identity: VerifiedCallerDep, svc: ServicesDep) -> ServiceIdentity:
    """The calling service, proven by a short-lived, single-use service JWT; else 401."""
    try:
        await svc.spent_tokens.spend(identity)
    except TokenReplayed:
        raise _replayed(identity) from None
    return identity


def _replayed(identity: ServiceIdentity) -> Problem:
    """The 401 for a service JWT used before (logged with the service, never the token)."""
    logger.warning("lease refused: service=%s refusal=token_replayed", identity.service)
    return Problem(
        401,
        "This service token was already used; sign a fresh one for each request.",
        code="token_replayed",
        headers={"WWW-Authenticate": "Bearer"},
    )


CallerDep = Annotated[ServiceIdentity, Depends(caller)]


def _bound(who: ServiceIdentity, body: LeaseIn | ChannelReportIn | TokenRejectedIn) -> LeaseRequest:
    """The lease-like binding of a publisher's request: its service, the command's grant,
    post and target."""
    return LeaseRequest(
        service=who.service,
        grant=body.grant,
        post_id=str(body.post_id),
        target_id=str(body.target_id) if body.target_id else None,
    )


@contextlib.contextmanager
def _report_refusals(what: str, who: ServiceIdentity, account_id: str) -> Iterator[None]:
    """A publisher's report bound like a lease: 404 for an unknown account, 403 (logged with
    its ``code``, never the grant) when the caller or grant is not this account's."""
    try:
        yield
    except AccountNotFound:
        raise Problem(404, "No such account.") from None
    except LeaseForbidden as forbidden:
        logger.warning(
            "%s refused: service=%s account=%s refusal=%s",
            what,
            who.service,
            account_id,
            forbidden.code,
        )
        raise Problem(403, forbidden.detail, code=forbidden.code) from None


def create_router() -> APIRouter:
    router = APIRouter(prefix="/internal/v1", tags=["internal"], route_class=StrictJsonRoute)

    @router.post(
        "/accounts/{account_id}/lease",
        responses=problem_responses(401, 404, 409, 422, 500, 503),
    )
    async def lease(
        account_id: str, body: LeaseIn, who: CallerDep, svc: ServicesDep
    ) -> dict[str, Any]:
        """A valid access token for one post, refreshed first when needed; never refresh tokens."""
        request = _bound(who, body)
        try:
            leased = await svc.keeper.lease(account_id, request, force_refresh=body.force_refresh)
        except LEASE_FAILURES as error:
            raise _problem(error, who.service, account_id) from None
        return _lease_body(leased)

    @router.post("/leases/confirm", responses=problem_responses(401, 422))
    async def confirm(body: ConfirmIn, caller: OneUseDep, svc: ServicesDep) -> dict[str, Any]:
        """Many leases confirmed at once, each answered as ``…/lease`` would answer it alone
        (never a forced refresh): a publisher's checks right before posts' visible steps.
        The service JWT is spent first in the confirmation's own transaction (one
        transaction a request, not two: issue 9), so a replayed one reads nothing."""
        who = caller.identity
        asks = [
            (
                str(item.account_id),
                LeaseRequest(
                    service=who.service,
                    grant=item.grant,
                    post_id=str(item.post_id),
                    target_id=str(item.target_id) if item.target_id else None,
                ),
            )
            for item in body.leases
        ]
        answers = await svc.keeper.confirm_many(asks, first=caller.spend_in)
        out: list[dict[str, Any]] = []
        for (account_id, _), answer in zip(asks, answers, strict=True):
            if isinstance(answer, LeasedToken):
                out.append({"status": 200, "lease": _lease_body(answer)})
            else:
                problem = _problem(answer, who.service, account_id)
                code = problem.extra.get("code")
                out.append({"status": problem.status, "code": code, "detail": problem.detail})
        return {"leases": out}

    @router.post(
        "/accounts/{account_id}/telegram-channel",
        status_code=204,
        responses=problem_responses(401, 403, 404, 422),
    )
    async def channel_report(
        account_id: str, body: ChannelReportIn, who: CallerDep, svc: ServicesDep
    ) -> Response:
        """The publisher's word on the linked channel: moved (``migrated``) or unusable
        (``broken``), bound like a lease: the caller is the account's publisher and the
        grant is for this account, for an attempt not over."""
        request = _bound(who, body)
        report = ChannelReport(
            event=body.event,
            chat_id=body.chat_id,
            migrate_to_chat_id=body.migrate_to_chat_id,
            title=body.title,
            reason=body.reason,
        )
        with _report_refusals("channel report", who, account_id):
            await svc.keeper.channel_report(account_id, request, report)
        return Response(status_code=204)

    @router.post(
        "/accounts/{account_id}/token-rejected",
        status_code=204,
        responses=problem_responses(401, 403, 404, 422),
    )
    async def token_rejected(
        account_id: str, body: TokenRejectedIn, who: CallerDep, svc: ServicesDep
    ) -> Response:
        """The platform refused the account's token even after a forced refresh: the account
        must be reconnected (``reauth_required``), bound like a lease (caller + grant); a
        report on tokens stored before the current ones is ignored (still 204)."""
        request = _bound(who, body)
        with _report_refusals("token rejection", who, account_id):
            await svc.keeper.token_rejected(account_id, request, token_version=body.token_version)
        return Response(status_code=204)

    @router.get(
        "/clients/{client_id}/contact",
        responses=problem_responses(401, 403, 404),
    )
    async def client_contact(client_id: str, who: CallerDep, svc: ServicesDep) -> dict[str, Any]:
        """The client's e-mail address, language and ``label`` (how the operator's messages
        name it), for the notifier alone (403 for others).

        The address is in this answer's body only: the path names the client
        id, so access logs and spans never hold an address. 404: no such
        client (erased): the notifier writes to nobody.
        """
        if who.service != NOTIFIER:
            logger.warning("contact refused: service=%s refusal=not_the_notifier", who.service)
            raise Problem(403, "Only the notifier reads a client's contact.", code="forbidden")
        contact = await svc.notices.contact(client_id)
        if contact is None:
            raise Problem(404, "No such client.")
        return {"email": contact.email, "language": contact.language, "label": contact.label}

    return router
