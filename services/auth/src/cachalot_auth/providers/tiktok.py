"""TikTok Login Kit v2: comma scopes, ``client_key``, PKCE S256 (hex or base64url)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Literal

import httpx
from authlib.common.urls import add_params_to_uri

from cachalot_auth.providers.base import (
    HttpCaller,
    Identity,
    Pkce,
    PlatformOAuthError,
    StoredGrant,
    TokenSet,
    expires,
    oauth_json,
    split_scopes,
)
from cachalot_common.leases import TokenRejected

SCOPES = ("user.info.basic", "video.upload", "video.publish")


class TikTok:
    name: str = "tiktok"
    required_scopes: tuple[str, ...] = SCOPES
    uses_pkce: bool = True
    self_renewing: bool = False

    def __init__(
        self,
        http: HttpCaller,
        *,
        client_key: str,
        client_secret: str,
        auth_base: str,
        api_base: str,
        pkce_encoding: Literal["hex", "base64url"],
    ) -> None:
        self._http = http
        self._key = client_key
        self._secret = client_secret
        self._auth = auth_base.rstrip("/")
        self._api = api_base.rstrip("/")
        self.pkce_encoding = pkce_encoding

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
                f"{self._auth}/v2/auth/authorize/",
                [
                    ("client_key", self._key),
                    ("scope", ",".join(SCOPES)),
                    ("response_type", "code"),
                    ("redirect_uri", redirect_uri),
                    ("state", state),
                    ("code_challenge", pkce.challenge),
                    ("code_challenge_method", "S256"),
                ],
            )
        )

    def _tokens(self, response: httpx.Response) -> TokenSet:
        body = oauth_json(response)
        if not body.get("access_token"):
            raise PlatformOAuthError("invalid_response", "no access_token in the answer")
        return TokenSet(
            access_token=str(body["access_token"]),
            refresh_token=str(body["refresh_token"]) if body.get("refresh_token") else None,
            expires_in=expires(body),
            scopes=split_scopes(body.get("scope"), ","),
            user_id=str(body["open_id"]) if body.get("open_id") else None,
        )

    async def _token_call(self, form: dict[str, str]) -> TokenSet:
        url = f"{self._api}/v2/oauth/token/"
        headers = {"Cache-Control": "no-cache"}
        return await self._http.call(
            lambda c: c.post(url, data=form, headers=headers), self._tokens
        )

    async def exchange(
        self, *, code: str, pkce: Pkce | None, redirect_uri: str, params: Mapping[str, str]
    ) -> TokenSet:
        form = {
            "client_key": self._key,
            "client_secret": self._secret,
            "code": code,
            "grant_type": "authorization_code",
            "redirect_uri": redirect_uri,
        }
        if pkce is not None:
            form["code_verifier"] = pkce.verifier
        tokens = await self._token_call(form)
        granted = params.get("scopes")
        if tokens.scopes is None and granted:
            tokens = dataclasses.replace(tokens, scopes=split_scopes(granted, ","))
        return tokens

    async def identity(self, tokens: TokenSet) -> Identity:
        url = f"{self._api}/v2/user/info/"
        headers = {"Authorization": f"Bearer {tokens.access_token}"}

        def parse(response: httpx.Response) -> Identity:
            user: dict[str, object] = {}
            if response.status_code == 200:
                data = (response.json() or {}).get("data") or {}
                user = data.get("user") or {}
            open_id = str(user.get("open_id") or tokens.user_id or "")
            if not open_id:
                raise PlatformOAuthError("invalid_response", "TikTok did not say who signed in")
            name = user.get("display_name")
            return Identity(platform_user_id=open_id, display_name=str(name) if name else None)

        return await self._http.call(
            lambda c: c.get(url, params={"fields": "open_id,display_name"}, headers=headers),
            parse,
        )

    async def refresh(self, grant: StoredGrant) -> TokenSet:
        if not grant.refresh_token:
            raise PlatformOAuthError("invalid_grant", "no refresh token held")
        return await self._token_call(
            {
                "client_key": self._key,
                "client_secret": self._secret,
                "grant_type": "refresh_token",
                "refresh_token": grant.refresh_token,
            }
        )

    async def revoke(self, grant: StoredGrant) -> None:
        if not grant.access_token:
            return
        url = f"{self._api}/v2/oauth/revoke/"
        form = {"client_key": self._key, "client_secret": self._secret, "token": grant.access_token}
        await self._http.call(lambda c: c.post(url, data=form), lambda r: None)

    async def creator_info(self, access_token: str) -> dict[str, Any]:
        """``POST /v2/post/publish/creator_info/query/`` (scope ``video.publish``): the
        creator's ``data`` (nickname, privacy_level_options, comment/duet/stitch_disabled,
        max_video_post_duration_sec, ...). shared/reference/platforms.md §1.2 creator_info.

        Raises :class:`~cachalot_common.leases.TokenRejected` when TikTok refuses the
        token (401 ``access_token_invalid``: the caller refreshes it once,
        :class:`~cachalot_common.leases.OneRefresh`), :class:`PlatformOAuthError` with
        TikTok's ``error.code`` otherwise (the posting caps ``spam_risk_*`` and
        ``reached_active_user_cap`` come with HTTP 200), :class:`PlatformUnavailable` after
        retries on 5xx/429.
        """
        url = f"{self._api}/v2/post/publish/creator_info/query/"
        headers = {
            "Authorization": f"Bearer {access_token}",
            "Content-Type": "application/json; charset=UTF-8",
        }

        def parse(response: httpx.Response) -> dict[str, Any]:
            try:
                body = response.json()
            except ValueError:
                raise PlatformOAuthError("invalid_response", "not JSON") from None
            error = (body or {}).get("error") or {}
            code = str(error.get("code") or ("ok" if response.status_code == 200 else "unknown"))
            if code == "access_token_invalid":
                raise TokenRejected(code)
            if code != "ok":
                raise PlatformOAuthError(code, str(error.get("message") or ""))
            data = (body or {}).get("data")
            if not isinstance(data, dict):
                raise PlatformOAuthError("invalid_response", "no data in the answer")
            return data

        return await self._http.call(lambda c: c.post(url, headers=headers), parse)
