"""How a publish ends, in one vocabulary for every platform.

A platform's publish returns :class:`Published` or raises an :class:`Outcome`:

* ``failed``: permanent, with a reason a person can act on;
* ``retryable``: the queue tries again after ``retry_after_s`` (its backoff
  when none);
* ``wait``: the platform asked us to wait (a rate limit, a used-up quota, flood
  control): sent as ``retryable``; the queue schedules the target again after
  ``retry_after_s`` using no attempt. Its code must be declared a wait in the
  platform registry (``PlatformSpec.is_wait``: ``rate_limited`` everywhere, the
  platform's own in ``PlatformSpec.waits``), which is what the queue reads;
* ``reauth``: the client must act before the account can be used; the queue
  pauses (sent as ``failed`` with ``reauth_required``): the account's
  authorisation is gone (``reauth_required`` or the platform's code: until
  the client reconnects), or the client has not given its 18+ consent and
  email yet (``consent_required``: until they do; the account itself is fine);
* ``unknown``: the one call that makes the post visible was made and its
  answer lost (a crash, a cut connection), so it may or may not have posted
  (:func:`unknown`). One rule for every platform: where the platform can look
  the post up (``PlatformSpec.looks_up_posts``) the runtime sends it as
  ``retryable`` (the next attempt looks before it posts); where it cannot
  (Telegram), as ``unknown``, which the queue shows as ``unconfirmed`` for the
  client to check, never as a failure and never tried again by itself.

Codes are machine-readable and shared: one fault has one code on every
platform (:data:`COMMON_CODES`). A platform adds its own codes only for
causes no other platform has (TikTok's ``spam_risk_too_many_posts``,
YouTube's ``quota_exceeded``); those are the platform's words, passed on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

OutcomeKind = Literal["failed", "retryable", "wait", "reauth", "unknown"]

# --- the shared codes ------------------------------------------------------------------
NETWORK: Final = "network"  # the platform did not answer (connection refused, reset, timeout)
PLATFORM_UNAVAILABLE: Final = "platform_unavailable"  # it answered 5xx / "try later"
RATE_LIMITED: Final = "rate_limited"  # 429 or our own per-account limit; retry_after honoured
PROCESSING_TIMEOUT: Final = "processing_timeout"  # uploaded, still processing at the platform
UPLOAD_EXPIRED: Final = "upload_expired"  # the upload session/URL expired; starts again
UPLOAD_CONFLICT: Final = "upload_conflict"  # the platform is still taking another piece; resumes
LEASE_UNAVAILABLE: Final = "lease_unavailable"  # auth or the platform's token endpoint down
LEASE_REFUSED: Final = "lease_refused"  # auth refused this caller or grant (not retryable)
REAUTH_REQUIRED: Final = "reauth_required"  # the client must reconnect the account
CONSENT_REQUIRED: Final = "consent_required"  # the client must confirm 18+ and give an email
MEDIA_MISSING: Final = "media_missing"  # the file is not in the media store
MEDIA_CHANGED: Final = "media_changed"  # the file's size differs from the post's
MEDIA_INVALID: Final = "media_invalid"  # the path points outside the media store
MEDIA_UNREADABLE: Final = "media_unreadable"  # reading the file failed mid-upload (retryable)
WRONG_PLATFORM: Final = "wrong_platform"  # a command for another platform reached us
INTERNAL_ERROR: Final = "internal_error"  # a bug or an unexpected error in the publisher
OUTCOME_UNKNOWN: Final = "outcome_unknown"  # may have posted; the platform cannot look it up

COMMON_CODES: Final = frozenset(
    {
        NETWORK,
        PLATFORM_UNAVAILABLE,
        RATE_LIMITED,
        PROCESSING_TIMEOUT,
        UPLOAD_EXPIRED,
        UPLOAD_CONFLICT,
        LEASE_UNAVAILABLE,
        LEASE_REFUSED,
        REAUTH_REQUIRED,
        CONSENT_REQUIRED,
        MEDIA_MISSING,
        MEDIA_CHANGED,
        MEDIA_INVALID,
        MEDIA_UNREADABLE,
        WRONG_PLATFORM,
        INTERNAL_ERROR,
        OUTCOME_UNKNOWN,
    }
)


@dataclass(frozen=True)
class Published:
    """A publish that succeeded: the platform's id for the post and its public URL."""

    remote_id: str
    remote_url: str | None = None


# not frozen: Python sets __traceback__ on an exception passing a @contextmanager
@dataclass(eq=False)
class Outcome(Exception):
    """How an attempt ends when it does not end published (raise it)."""

    kind: OutcomeKind
    code: str
    reason: str
    retry_after_s: float | None = None
    no_lookup: bool = False
    """``unknown`` only: this attempt cannot be looked up even on a platform that usually
    can (a YouTube token without a reading scope), so it stays ``unknown``."""

    def __str__(self) -> str:
        return f"{self.kind} {self.code}"


def failed(code: str, reason: str) -> Outcome:
    """A permanent failure; ``reason`` tells a person what to do."""
    return Outcome("failed", code, reason)


def retryable(code: str, reason: str, retry_after_s: float | None = None) -> Outcome:
    """Try again later: after ``retry_after_s`` seconds, or the queue's backoff when None."""
    return Outcome("retryable", code, reason, retry_after_s)


def wait(code: str, reason: str, retry_after_s: float | None) -> Outcome:
    """The platform asked us to wait ``retry_after_s`` seconds (the queue's backoff when None).

    ``code`` must be a wait of the platform in the registry (``PlatformSpec.is_wait``); the
    runtime logs an error and the queue counts an attempt for one that is not.
    """
    return Outcome("wait", code, reason, retry_after_s)


def reauth(reason: str, code: str = REAUTH_REQUIRED) -> Outcome:
    """The account must be reconnected; ``code`` may name the platform's cause."""
    return Outcome("reauth", code, reason)


def unknown(platform_label: str, where: str = "account", *, no_lookup: bool = False) -> Outcome:
    """The post may have gone out: the answer to the call that makes it visible was lost.

    ``where``: what the client looks at ("channel", "wall"). The reason is the same on every
    platform, with no word of failure: the client checks, then marks the target published or
    publishes it again (queue: ``unconfirmed``). Sent as ``retryable`` for a platform that can
    look the post up (see the module docstring), unless ``no_lookup`` (this attempt cannot be).
    """
    return Outcome(
        "unknown",
        OUTCOME_UNKNOWN,
        f"{platform_label}: we could not confirm whether the post went out (the answer to our "
        f"request was lost). Check your {where}: if the post is there, mark it as published; "
        "if it is not, publish it again.",
        no_lookup=no_lookup,
    )


CONSENT_REASON: Final = (
    "Confirm in the dashboard that you are 18 or over and give an email; the post then goes out."
)
"""What a person reads while their consent is missing (privacy policy: no one under 18)."""


def consent_required(platform_label: str) -> Outcome:
    """The client has not confirmed 18+ and given an email: pause until they do.

    Sent like ``reauth`` (the queue pauses; the client's act resumes) but with
    its own code and reason: nothing is wrong with the account.
    """
    return Outcome(
        "reauth", CONSENT_REQUIRED, f"{platform_label}: not posted yet. {CONSENT_REASON}"
    )


def network(platform_label: str, detail: str, retry_after_s: float = 10) -> Outcome:
    """The platform could not be reached (``detail``: the error's type, never a URL)."""
    return retryable(
        NETWORK, f"{platform_label} could not be reached ({detail}); will retry.", retry_after_s
    )


def unavailable(platform_label: str, status: int, retry_after_s: float | None = 30) -> Outcome:
    """The platform answered with a server error."""
    return retryable(
        PLATFORM_UNAVAILABLE, f"{platform_label} answered {status}; will retry.", retry_after_s
    )


def rate_limited(platform_label: str, retry_after_s: float | None) -> Outcome:
    """The platform's (or our) rate limit; ``retry_after_s`` is honoured in full."""
    return wait(
        RATE_LIMITED, f"{platform_label}'s rate limit was reached; will retry.", retry_after_s
    )
