"""The checks videos.insert applies to the JSON metadata of a resumable session."""

from __future__ import annotations

from typing import Any

from cachalot_sandbox.youtube_upload.errors import GoogleError, bad_request

PRIVACY_STATUSES = frozenset({"public", "unlisted", "private"})
MAX_TITLE_CHARS = 100
MAX_DESCRIPTION_BYTES = 5000
MAX_TAGS_CHARS = 500
UPLOAD_SCOPES = frozenset(
    {
        "https://www.googleapis.com/auth/youtube.upload",
        "https://www.googleapis.com/auth/youtube",
        "https://www.googleapis.com/auth/youtubepartner",
        "https://www.googleapis.com/auth/youtube.force-ssl",
    }
)


def _text(value: Any, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise bad_request("invalidValue", f"{field} must be a string.")
    return value


def validate_metadata(body: Any, parts: set[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the (snippet, status) to store, or raise the error Google would."""
    if not isinstance(body, dict):
        raise bad_request("parseError", "Parse Error: the request body must be a JSON object.")
    snippet = body.get("snippet") or {}
    status = body.get("status") or {}
    if not isinstance(snippet, dict) or not isinstance(status, dict):
        raise bad_request("invalidValue", "snippet and status must be objects.")
    if "snippet" in body and "snippet" not in parts:
        raise bad_request("unexpectedPart", "The part parameter does not include snippet.")
    if "status" in body and "status" not in parts:
        raise bad_request("unexpectedPart", "The part parameter does not include status.")

    title = _text(snippet.get("title"), "snippet.title").strip()
    if not title:
        raise GoogleError(400, "invalidTitle", "The request metadata specifies an empty title.")
    if len(title) > MAX_TITLE_CHARS or "<" in title or ">" in title:
        raise GoogleError(
            400,
            "invalidTitle",
            "The request metadata specifies an invalid video title "
            f"(at most {MAX_TITLE_CHARS} characters, no '<' or '>').",
        )
    description = _text(snippet.get("description"), "snippet.description")
    if (
        len(description.encode()) > MAX_DESCRIPTION_BYTES
        or "<" in description
        or ">" in description
    ):
        raise GoogleError(
            400,
            "invalidDescription",
            "The request metadata specifies an invalid video description "
            f"(at most {MAX_DESCRIPTION_BYTES} bytes, no '<' or '>').",
        )
    tags = snippet.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise GoogleError(400, "invalidTags", "snippet.tags must be a list of strings.")
    if sum(len(t) + (2 if " " in t else 0) for t in tags) + max(len(tags) - 1, 0) > MAX_TAGS_CHARS:
        raise GoogleError(
            400, "invalidTags", "The request metadata specifies invalid video keywords."
        )
    category = str(snippet.get("categoryId") or "22")
    if not category.isdigit():
        raise GoogleError(400, "invalidCategoryId", "The snippet.categoryId is not valid.")
    privacy = status.get("privacyStatus", "public")
    if privacy not in PRIVACY_STATUSES:
        raise bad_request(
            "invalidValue",
            "Invalid value for status.privacyStatus: expected public, unlisted or private.",
        )
    made_for_kids = status.get("selfDeclaredMadeForKids", False)
    if not isinstance(made_for_kids, bool):
        raise bad_request("invalidValue", "status.selfDeclaredMadeForKids must be a boolean.")
    return (
        {"title": title, "description": description, "tags": tags, "categoryId": category},
        {"privacyStatus": privacy, "selfDeclaredMadeForKids": made_for_kids},
    )
