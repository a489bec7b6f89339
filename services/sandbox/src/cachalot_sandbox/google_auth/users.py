"""Google's scopes and the sandbox's fake Google accounts."""

from __future__ import annotations

import hashlib
import re

from cachalot_sandbox.oauthkit.consent import FakeUser

ISSUER = "https://accounts.google.com"
_AUTH = "https://www.googleapis.com/auth/"
EMAIL = f"{_AUTH}userinfo.email"
PROFILE = f"{_AUTH}userinfo.profile"
ALIASES = {"email": EMAIL, "profile": PROFILE}
SCOPES = {
    "openid": "Associate you with your personal info on Google",
    EMAIL: "See your primary Google Account email address",
    PROFILE: "See your personal info, including any personal info you've made publicly available",
    f"{_AUTH}youtube": "Manage your YouTube account",
    f"{_AUTH}youtube.upload": "Manage your YouTube videos",
    f"{_AUTH}youtube.readonly": "View your YouTube account",
    f"{_AUTH}youtube.force-ssl": "See, edit, and permanently delete your YouTube videos",
    f"{_AUTH}youtubepartner": "View and manage your assets and associated content on YouTube",
}
CHANNEL_SCOPES = frozenset(
    f"{_AUTH}{s}" for s in ("youtube", "youtube.readonly", "youtube.force-ssl", "youtubepartner")
)
USERS = (
    FakeUser(
        id="108000000000000000001",
        display_name="Alice Sandbox",
        username="alice",
        avatar_url="https://sandbox.invalid/google/alice.png",
        email="alice@sandbox.example",
        extra={"channel_id": "UCsandboxAlice0000000001", "channel_title": "Alice Sandbox"},
    ),
    FakeUser(
        id="108000000000000000002",
        display_name="Bob Nochannel",
        username="bob",
        avatar_url="https://sandbox.invalid/google/bob.png",
        email="bob@sandbox.example",
    ),
)


def user_by_id(subject: str) -> FakeUser | None:
    """A sandbox Google user; ``sandbox-extra-<name>`` is made on demand with its own channel
    (load tests: ``bench/pipeline.py`` connects many YouTube accounts)."""
    known = next((u for u in USERS if u.id == subject), None)
    if known is None and _EXTRA_USER.match(subject):
        name = subject.removeprefix("sandbox-extra-")
        return FakeUser(
            id=subject,
            display_name=f"Extra {name}",
            username=subject,
            avatar_url="https://sandbox.invalid/extra.jpg",
            email=f"{subject}@sandbox.example",
            extra={
                "channel_id": "UC" + hashlib.sha256(subject.encode()).hexdigest()[:22],
                "channel_title": f"Extra {name}",
            },
        )
    return known


_EXTRA_USER = re.compile(r"^sandbox-extra-[A-Za-z0-9_-]{1,40}$")


def normalise(scope: str) -> str:
    return ALIASES.get(scope, scope)
