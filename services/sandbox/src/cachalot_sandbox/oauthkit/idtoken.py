"""RS256 signing for the OpenID Connect ``id_token`` the fakes hand out.

One RSA key per process, published as a JWKS, so a client can verify
sandbox ID tokens exactly as it verifies real ones.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

KEY_ID = "cachalot-sandbox-1"


class IdTokenSigner:
    def __init__(self) -> None:
        self._key: rsa.RSAPrivateKey | None = None
        self._lock = threading.Lock()

    def _private(self) -> rsa.RSAPrivateKey:
        with self._lock:
            if self._key is None:
                self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return self._key

    def sign(self, claims: dict[str, Any], *, lifetime_s: float = 3600) -> str:
        now = int(time.time())
        payload = {"iat": now, "exp": now + int(lifetime_s), **claims}
        return jwt.encode(payload, self._private(), algorithm="RS256", headers={"kid": KEY_ID})

    def jwks(self) -> dict[str, Any]:
        public = json.loads(RSAAlgorithm.to_jwk(self._private().public_key()))
        public.update({"kid": KEY_ID, "use": "sig", "alg": "RS256"})
        return {"keys": [public]}

    def verify(self, token: str, *, audience: str) -> dict[str, Any]:
        """Decode a token this signer issued (VK's public_info needs it)."""
        claims: dict[str, Any] = jwt.decode(
            token, self._private().public_key(), algorithms=["RS256"], audience=audience
        )
        return claims


signer = IdTokenSigner()
