"""Instagram Login: code → short-lived (1 h) → long-lived (60 days) token.

There is no refresh token: the long-lived token refreshes itself
(``ig_refresh_token``) once it is a day old, so the background refresher
renews it well before its 60 days run out. There is no revoke endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import httpx
from authlib.common.urls import add_params_to_uri

from cachalot_auth.providers.base import (
    ConfidentialClient,
    Identity,
    Pkce,
    PlatformOAuthError,
    StoredGrant,
    TokenSet,
    expires,
    oauth_json,
    split_scopes,
)

SCOPES = ("instagram_business_basic", "instagram_business_content_publish")


class Instagram(ConfidentialClient):
    name: str = "instagram"
    required_scopes: tuple[str, ...] = SCOPES
    uses_pkce: bool = False
    pkce_encoding: Literal["hex", "base64url"] = "base64url"
    self_renewing: bool = True

    def authorize_url(
        self,
        *,
        state: str,
        pkce: Pkce | None,
        redirect_uri: str,
        reconsent: bool,
        login_hint: str | None = None,
    ) -> str:
        return str(
            add_params_to_uri(
                f"{self._auth}/oauth/authorize",
                [
                    ("client_id", self._id),
                    ("redirect_uri", redirect_uri),
                    ("response_type", "code"),
                    ("scope", ",".join(SCOPES)),
                    ("state", state),
                ],
            )
        )

    async def exchange(
        self, *, code: str, pkce: Pkce | None, redirect_uri: str, params: Mapping[str, str]
    ) -> TokenSet:
        code = code.removesuffix("#_")
        form = {
            "client_id": self._id,
            "client_secret": self._secret,
            "grant_type": "authorization_code",
            "redirect_uri": redirect_uri,
            "code": code,
        }
        url = f"{self._token}/oauth/access_token"

        def short(response: httpx.Response) -> tuple[str, str | None, tuple[str, ...] | None]:
            body: dict[str, Any] = oauth_json(response)
            data = body.get("data")
            item = data[0] if isinstance(data, list) and data else body
            if not item.get("access_token"):
                raise PlatformOAuthError("invalid_response", "no access_token in the answer")
            user = str(item["user_id"]) if item.get("user_id") is not None else None
            return str(item["access_token"]), user, split_scopes(item.get("permissions"), ",")

        short_token, user_id, scopes = await self._http.call(
            lambda c: c.post(url, data=form), short
        )
        long_url = f"{self._api}/access_token"
        query = {
            "grant_type": "ig_exchange_token",
            "client_secret": self._secret,
            "access_token": short_token,
        }
        long = await self._http.call(lambda c: c.get(long_url, params=query), self._long)
        return TokenSet(
            access_token=long.access_token,
            expires_in=long.expires_in,
            scopes=scopes,
            user_id=user_id,
        )

    def _long(self, response: httpx.Response) -> TokenSet:
        body = oauth_json(response)
        if not body.get("access_token"):
            raise PlatformOAuthError("invalid_response", "no access_token in the answer")
        return TokenSet(access_token=str(body["access_token"]), expires_in=expires(body))

    async def identity(self, tokens: TokenSet) -> Identity:
        url = f"{self._api}/me"
        query = {"fields": "user_id,username", "access_token": tokens.access_token}

        def parse(response: httpx.Response) -> Identity:
            body = oauth_json(response)
            uid = body.get("user_id") or body.get("id") or tokens.user_id
            if not uid:
                raise PlatformOAuthError("invalid_response", "Instagram did not say who signed in")
            return Identity(platform_user_id=str(uid), display_name=body.get("username"))

        return await self._http.call(lambda c: c.get(url, params=query), parse)

    async def refresh(self, grant: StoredGrant) -> TokenSet:
        if not grant.access_token:
            raise PlatformOAuthError("invalid_grant", "no long-lived token held")
        url = f"{self._api}/refresh_access_token"
        query = {"grant_type": "ig_refresh_token", "access_token": grant.access_token}
        return await self._http.call(lambda c: c.get(url, params=query), self._long)

    async def revoke(self, grant: StoredGrant) -> None:
        return None  # Instagram Login has no revoke endpoint; tokens are deleted here
