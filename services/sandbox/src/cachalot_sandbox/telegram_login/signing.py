"""Telegram Login Widget data and its hash, as core.telegram.org documents it."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping


def data_check_string(fields: Mapping[str, object]) -> str:
    """Every field but ``hash``, sorted by key, as ``key=value`` lines."""
    return "\n".join(f"{k}={fields[k]}" for k in sorted(fields) if k != "hash")


def widget_hash(fields: Mapping[str, object], bot_token: str) -> str:
    secret = hashlib.sha256(bot_token.encode("utf-8")).digest()
    message = data_check_string(fields).encode("utf-8")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def sign(fields: Mapping[str, object], bot_token: str) -> dict[str, object]:
    """``fields`` plus the ``hash`` a real widget would attach."""
    unsigned = {k: v for k, v in fields.items() if v is not None and k != "hash"}
    return {**unsigned, "hash": widget_hash(unsigned, bot_token)}
