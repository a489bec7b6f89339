"""Google's JSON error shape, as the YouTube Data API returns it.

``{"error": {"code", "message", "errors": [{"domain", "reason", "message"}],
"status"}}``: clients branch on ``errors[0].reason`` (``quotaExceeded``,
``uploadLimitExceeded``, ``authError``…), so the fake must spell them the same.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


class GoogleError(Exception):
    """An API error the routes turn into Google's error response."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        domain: str = "global",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.domain = domain
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        body = {
            "error": {
                "code": self.code,
                "message": self.message,
                "errors": [{"message": self.message, "domain": self.domain, "reason": self.reason}],
                "status": _STATUS_NAMES.get(self.code, "UNKNOWN"),
            }
        }
        return JSONResponse(body, status_code=self.code, headers=self.headers)


def bad_request(reason: str, message: str) -> GoogleError:
    return GoogleError(400, reason, message)


def unauthorized() -> GoogleError:
    return GoogleError(
        401,
        "authError",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, "
        "login cookie or other valid authentication credential.",
        headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
    )


def insufficient_scope() -> GoogleError:
    return GoogleError(
        403,
        "insufficientPermissions",
        "Request had insufficient authentication scopes.",
        headers={"WWW-Authenticate": 'Bearer error="insufficient_scope"'},
    )


def quota_exceeded() -> GoogleError:
    return GoogleError(
        403,
        "quotaExceeded",
        "The request cannot be completed because you have exceeded your "
        '<a href="/youtube/v3/getting-started#quota">quota</a>.',
        domain="youtube.quota",
    )


def upload_limit_exceeded() -> GoogleError:
    return GoogleError(
        400,
        "uploadLimitExceeded",
        "The user has exceeded the number of videos they may upload.",
        domain="youtube.video",
    )


def rate_limited(retry_after_s: int) -> GoogleError:
    return GoogleError(
        429,
        "rateLimitExceeded",
        "Too many requests. Retry after a while.",
        domain="usageLimits",
        headers={"Retry-After": str(retry_after_s)},
    )


def server_error(code: int) -> GoogleError:
    reason = "backendError" if code >= 500 else "unknown"
    return GoogleError(code, reason, "Backend Error")


def session_not_found() -> GoogleError:
    return GoogleError(
        404, "notFound", "The upload session does not exist or has expired; start a new one."
    )
