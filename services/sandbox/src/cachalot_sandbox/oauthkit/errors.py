"""The one error type the fake OAuth servers raise; each platform renders it."""

from __future__ import annotations


class OAuthError(Exception):
    """An OAuth protocol error (RFC 6749 §5.2 names) with its HTTP status."""

    def __init__(self, error: str, description: str, *, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status


def invalid_grant(description: str) -> OAuthError:
    return OAuthError("invalid_grant", description)


def invalid_request(description: str) -> OAuthError:
    return OAuthError("invalid_request", description)


def invalid_client(description: str = "Client authentication failed.") -> OAuthError:
    return OAuthError("invalid_client", description, status=401)
