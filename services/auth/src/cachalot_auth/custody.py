"""Seal and open an account's tokens (the only place tokens meet the key ring)."""

from __future__ import annotations

from cachalot_auth.models import Account, Token
from cachalot_common.crypto import KeyRing, TokenContext

TOKEN_KINDS = ("access", "refresh")


class TokenVault:
    """Binds every ciphertext to (account id, platform, kind)."""

    def __init__(self, keys: KeyRing) -> None:
        self.keys = keys

    @staticmethod
    def context(account_id: str, platform: str, kind: str) -> TokenContext:
        return TokenContext(account_id=account_id, platform=platform, kind=kind)

    def seal(self, account: Account, kind: str, plaintext: str) -> tuple[str, str]:
        """The ciphertext and key version for one token of ``account``."""
        sealed = self.keys.encrypt(plaintext, self.context(account.id, account.platform, kind))
        return sealed, self.keys.primary_version

    def open(self, account: Account, token: Token) -> str:
        """The plaintext of a stored token; raises ``TokenDecryptionError`` naming the account."""
        return self.keys.decrypt(
            token.ciphertext, self.context(account.id, account.platform, token.kind)
        )
