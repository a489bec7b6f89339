"""Google OAuth for YouTube: offline access, consent asked at every sign-in.

Google's "Using OAuth 2.0 for Web Server Applications": with ``access_type=offline``
Google returns a refresh token the first time the person grants the app; after that
only ``prompt=consent`` (asking for consent again) makes it issue a new one. Sign-in
asks it every time (see ``SignInService.start``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import httpx
import jwt
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

UPLOAD = "https://www.googleapis.com/auth/youtube.upload"
# publisher-youtube lists the channel's own uploads to find a video whose upload finished
# but whose id it never recorded (issue 11 item 8); asked for, not required.
READONLY = "https://www.googleapis.com/auth/youtube.readonly"
SCOPES = ("openid", "email", "profile", UPLOAD, READONLY)


class Google(ConfidentialClient):
    name: str = "youtube"
    required_scopes: tuple[str, ...] = (UPLOAD,)
    uses_pkce: bool = True
    pkce_encoding: Literal["hex", "base64url"] = "base64url"
    self_renewing: bool = False

    def authorize_url(
        self,
        *,
        state: str,
        pkce: Pkce | None,
        redirect_uri: str,
        reconsent: bool,
        login_hint: str | None = None,
    ) -> str:
        params = [
            ("client_id", self._id),
            ("redirect_uri", redirect_uri),
            ("response_type", "code"),
            ("scope", " ".join(SCOPES)),
            ("access_type", "offline"),
            ("include_granted_scopes", "true"),
            ("state", state),
        ]
        if pkce is not None:
            params += [("code_challenge", pkce.challenge), ("code_challenge_method", "S256")]
        if reconsent:  # every sign-in: a new refresh token, whatever Google remembers
            params.append(("prompt", "consent"))
        if login_hint:  # Google takes the account's email or its ``sub``
            params.append(("login_hint", login_hint))
        return str(add_params_to_uri(f"{self._auth}/o/oauth2/v2/auth", params))

    def _tokens(self, response: httpx.Response) -> TokenSet:
        body = oauth_json(response)
        if not body.get("access_token"):
            raise PlatformOAuthError("invalid_response", "no access_token in the answer")
        extra = {"id_token": str(body["id_token"])} if body.get("id_token") else {}
        return TokenSet(
            access_token=str(body["access_token"]),
            refresh_token=str(body["refresh_token"]) if body.get("refresh_token") else None,
            expires_in=expires(body),
            scopes=split_scopes(body.get("scope"), " "),
            extra=extra,
        )

    async def _token_call(self, form: dict[str, str]) -> TokenSet:
        url = f"{self._token}/token"
        return await self._http.call(lambda c: c.post(url, data=form), self._tokens)

    async def exchange(
        self, *, code: str, pkce: Pkce | None, redirect_uri: str, params: Mapping[str, str]
    ) -> TokenSet:
        form = {
            "code": code,
            "client_id": self._id,
            "client_secret": self._secret,
            "redirect_uri": redirect_uri,
            "grant_type": "authorization_code",
        }
        if pkce is not None:
            form["code_verifier"] = pkce.verifier
        return await self._token_call(form)

    async def identity(self, tokens: TokenSet) -> Identity:
        person = await self._person(tokens)
        channel = await self._channel_title(tokens)
        return Identity(person.platform_user_id, channel or person.display_name)

    async def _channel_title(self, tokens: TokenSet) -> str | None:
        """The YouTube channel's title: what the client recognises in the dashboard."""
        url = f"{self._api}/youtube/v3/channels"
        headers = {"Authorization": f"Bearer {tokens.access_token}"}

        def parse(response: httpx.Response) -> str | None:
            if response.status_code != 200:
                return None  # no channel yet, or no permission: the person's name will do
            items = (response.json() or {}).get("items") or []
            title = (items[0].get("snippet") or {}).get("title") if items else None
            return str(title) if title else None

        return await self._http.call(
            lambda c: c.get(url, params={"part": "snippet", "mine": "true"}, headers=headers),
            parse,
        )

    async def _person(self, tokens: TokenSet) -> Identity:
        id_token = tokens.extra.get("id_token")
        if id_token:
            # Straight from the token endpoint over TLS: OIDC Core §3.1.3.7 lets the
            # client skip the signature check for an ID token received this way.
            claims = jwt.decode(id_token, options={"verify_signature": False})
            if claims.get("aud") not in (self._id, [self._id]):
                raise PlatformOAuthError("invalid_response", "ID token is for another client")
            name = claims.get("name") or claims.get("email")
            return Identity(platform_user_id=str(claims["sub"]), display_name=name)
        url = f"{self._api}/oauth2/v3/userinfo"
        headers = {"Authorization": f"Bearer {tokens.access_token}"}

        def parse(response: httpx.Response) -> Identity:
            body = oauth_json(response)
            return Identity(
                platform_user_id=str(body["sub"]),
                display_name=body.get("name") or body.get("email"),
            )

        return await self._http.call(lambda c: c.get(url, headers=headers), parse)

    async def refresh(self, grant: StoredGrant) -> TokenSet:
        if not grant.refresh_token:
            raise PlatformOAuthError("invalid_grant", "no refresh token held")
        return await self._token_call(
            {
                "client_id": self._id,
                "client_secret": self._secret,
                "grant_type": "refresh_token",
                "refresh_token": grant.refresh_token,
            }
        )

    async def revoke(self, grant: StoredGrant) -> None:
        token = grant.refresh_token or grant.access_token
        if not token:
            return
        url = f"{self._token}/revoke"
        await self._http.call(lambda c: c.post(url, data={"token": token}), lambda r: None)
