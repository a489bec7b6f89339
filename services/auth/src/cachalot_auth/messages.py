"""What a person reads when sign-in goes wrong: what happened and what to do."""

from __future__ import annotations

PLATFORM_NAMES = {
    "tiktok": "TikTok",
    "youtube": "YouTube",
    "instagram": "Instagram",
    "vk": "VK",
    "telegram": "Telegram",
}

_MESSAGES = {
    "access_denied": (
        "You declined access on {name}. To connect it, sign in again and allow access."
    ),
    "missing_scopes": (
        "{name} was connected without the permissions CACHALOT needs ({missing}). "
        "Sign in again and keep every permission ticked."
    ),
    "state_missing": "This sign-in was not started from this browser. Start it again here.",
    "state_invalid": "This sign-in link is not valid for this browser. Start the sign-in again.",
    "state_expired": "The sign-in took longer than 10 minutes. Start it again.",
    "state_mismatch": "This sign-in does not match the one this browser started. Start it again.",
    "state_replayed": "This sign-in link was already used. Start the sign-in again.",
    "code_missing": "{name} did not send the sign-in code back. Start the sign-in again.",
    "sign_in_failed": (
        "{name} refused the sign-in ({detail}). Start it again; if it keeps failing, contact us."
    ),
    "platform_unavailable": "{name} is not answering right now. Try again in a few minutes.",
    "account_in_use": (
        "This {name} account is already connected to another CACHALOT client. "
        "Sign out and sign in with it, or use another {name} account."
    ),
    "not_configured": "Sign-in with {name} is not set up on this server. Contact us.",
}


def explain(code: str, platform: str, *, missing: list[str] | None = None, detail: str = "") -> str:
    name = PLATFORM_NAMES.get(platform, platform)
    template = _MESSAGES.get(
        code,
        "{name} sign-in did not complete ({code}). Start it again; if it keeps failing, "
        "contact us.",
    )
    return template.format(name=name, code=code, missing=", ".join(missing or []), detail=detail)
