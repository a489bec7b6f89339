"""VK ID (OAuth 2.1): PKCE mandatory; the callback's ``device_id`` is kept for refresh."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import httpx
from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_uri

from cachalot_auth.providers.base import (
    HttpCaller,
    Identity,
    Pkce,
    PlatformOAuthError,
    PlatformUnavailable,
    StoredGrant,
    TokenSet,
    expires,
    oauth_json,
    split_scopes,
)
from cachalot_common.events import Community
from cachalot_common.text import truncate

SCOPES = ("vkid.personal_info", "wall", "video", "photos", "groups")
"""What publisher-vk calls needs (dev.vk.com, "Access rights"): ``wall`` for wall.post,
``video`` for video.save, ``photos`` for photos.getWallUploadServer / saveWallPhoto and
``groups`` to list the communities the client administers (issue 10 item 4)."""


MAX_COMMUNITY_PAGES = 10
"""groups.get pages read at sign-in (10,000 communities); a larger list is cut there."""


class VK:
    name: str = "vk"
    required_scopes: tuple[str, ...] = ("wall", "video", "photos")
    uses_pkce: bool = True
    pkce_encoding: Literal["hex", "base64url"] = "base64url"
    self_renewing: bool = False

    def __init__(
        self,
        http: HttpCaller,
        *,
        client_id: str,
        auth_base: str,
        api_base: str = "https://api.vk.com",
        api_version: str = "5.199",
    ) -> None:
        self._http = http
        self._id = client_id
        self._auth = auth_base.rstrip("/")
        self._api = api_base.rstrip("/")
        self._version = api_version

    def authorize_url(
        self,
        *,
        state: str,
        pkce: Pkce | None,
        redirect_uri: str,
        reconsent: bool,
        login_hint: str | None = None,
    ) -> str:
        assert pkce is not None
        return str(
            add_params_to_uri(
                f"{self._auth}/authorize",
                [
                    ("response_type", "code"),
                    ("client_id", self._id),
                    ("redirect_uri", redirect_uri),
                    ("state", state),
                    ("code_challenge", pkce.challenge),
                    ("code_challenge_method", "S256"),
                    ("scope", " ".join(SCOPES)),
                ],
            )
        )

    def _tokens(self, device_id: str | None) -> object:
        def parse(response: httpx.Response) -> TokenSet:
            body = oauth_json(response)
            if not body.get("access_token"):
                raise PlatformOAuthError("invalid_response", "no access_token in the answer")
            extra = {"device_id": device_id} if device_id else {}
            return TokenSet(
                access_token=str(body["access_token"]),
                refresh_token=str(body["refresh_token"]) if body.get("refresh_token") else None,
                expires_in=expires(body),
                scopes=split_scopes(body.get("scope"), " "),
                user_id=str(body["user_id"]) if body.get("user_id") is not None else None,
                extra=extra,
            )

        return parse

    async def _token_call(self, form: dict[str, str], device_id: str | None) -> TokenSet:
        url = f"{self._auth}/oauth2/auth"
        parse = self._tokens(device_id)
        return await self._http.call(lambda c: c.post(url, data=form), parse)  # type: ignore[arg-type]

    async def exchange(
        self, *, code: str, pkce: Pkce | None, redirect_uri: str, params: Mapping[str, str]
    ) -> TokenSet:
        assert pkce is not None
        device_id = params.get("device_id")
        if not device_id:
            raise PlatformOAuthError("invalid_request", "VK did not return a device_id")
        return await self._token_call(
            {
                "grant_type": "authorization_code",
                "code": code,
                "code_verifier": pkce.verifier,
                "client_id": self._id,
                "device_id": device_id,
                "redirect_uri": redirect_uri,
                "state": params.get("state", ""),
            },
            device_id,
        )

    async def identity(self, tokens: TokenSet) -> Identity:
        url = f"{self._auth}/oauth2/user_info"
        form = {"access_token": tokens.access_token, "client_id": self._id}

        def parse(response: httpx.Response) -> Identity:
            user: dict[str, Any] = {}
            if response.status_code == 200:
                user = oauth_json(response).get("user") or {}
            uid = user.get("user_id") or tokens.user_id
            if not uid:
                raise PlatformOAuthError("invalid_response", "VK did not say who signed in")
            name = " ".join(p for p in (user.get("first_name"), user.get("last_name")) if p)
            return Identity(platform_user_id=str(uid), display_name=name or None)

        person = await self._http.call(lambda c: c.post(url, data=form), parse)
        communities = None
        if tokens.scopes is None or "groups" in tokens.scopes:
            try:
                communities = await self.communities(tokens.access_token)
            except PlatformUnavailable:  # the sign-in stands; the list stays unknown
                communities = None
        return Identity(
            platform_user_id=person.platform_user_id,
            display_name=person.display_name,
            communities=communities,
        )

    async def communities(self, access_token: str) -> tuple[Community, ...] | None:
        """The communities the token's person administers, by id, or ``None``.

        ``POST <api>/method/groups.get`` with ``filter=admin`` (administrators, editors and
        moderators are listed: dev.vk.com/method/groups.get) and ``extended=1`` (group
        objects, so each comes with its ``name`` and ``screen_name``), 1,000 a page (VK's
        maximum), at most :data:`MAX_COMMUNITY_PAGES` pages. ``None`` when VK answers an
        error (with HTTP 200, e.g. 15 without the ``groups`` right) or an unreadable body:
        unknown, so the queue checks nothing and the publisher's refusal (214 / 15) still
        says it. Raises :class:`PlatformUnavailable` after the caller's retries.
        """
        found: dict[int, Community] = {}
        url = f"{self._api}/method/groups.get"

        def parse(response: httpx.Response) -> tuple[int, list[Community]] | None:
            try:
                answer = response.json()["response"]
                return int(answer["count"]), [_community(item) for item in answer["items"]]
            except (ValueError, KeyError, TypeError):
                return None

        for page in range(MAX_COMMUNITY_PAGES):
            form = {
                "access_token": access_token,
                "v": self._version,
                "filter": "admin",
                "extended": "1",
                "count": "1000",
                "offset": str(page * 1000),
            }

            async def send(
                client: httpx.AsyncClient, form: dict[str, str] = form
            ) -> httpx.Response:
                return await client.post(url, data=form)

            read = await self._http.call(send, parse)
            if read is None:
                return None
            total, items = read
            found |= {c.id: c for c in items}
            if not items or len(found) >= total:
                break
        return tuple(found[i] for i in sorted(found))

    async def refresh(self, grant: StoredGrant) -> TokenSet:
        if not grant.refresh_token or not grant.device_id:
            raise PlatformOAuthError("invalid_grant", "no refresh token or device_id held")
        return await self._token_call(
            {
                "grant_type": "refresh_token",
                "refresh_token": grant.refresh_token,
                "client_id": self._id,
                "device_id": grant.device_id,
                "state": generate_token(32),
            },
            grant.device_id,
        )

    async def revoke(self, grant: StoredGrant) -> None:
        if not grant.access_token:
            return
        url = f"{self._auth}/oauth2/revoke"
        form = {"access_token": grant.access_token, "client_id": self._id}
        await self._http.call(lambda c: c.post(url, data=form), lambda r: None)


def _community(item: Any) -> Community:
    """One group object of ``groups.get`` ``extended=1``; its name and screen name cut to
    the event's limits (VK's own are far shorter). Raises ``KeyError``/``TypeError``/
    ``ValueError`` for an item that is not one."""
    name, screen = item.get("name"), item.get("screen_name")
    return Community(
        id=int(item["id"]),
        name=truncate(name, 256) if isinstance(name, str) and name else None,
        screen_name=truncate(screen, 64) if isinstance(screen, str) and screen else None,
    )
