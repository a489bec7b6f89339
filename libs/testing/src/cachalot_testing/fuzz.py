"""Schemathesis against a running service: no 5xx, and every answer documented.

Each operation of an OpenAPI document gets generated requests, valid ones
and invalid ones (schemathesis' positive and negative modes), sent over real
HTTP to ``base_url`` (the service itself, or the gateway in front of it).
Every answer is checked for: no 5xx, a status the operation documents, a
media type documented for that status, and a body matching its schema.

The run is bounded and reproducible: Hypothesis is derandomised (its seed
comes from each test's name), has no example database and no shrinking, and
each operation gets at most ``max_examples`` requests per mode. It is
synchronous (schemathesis sends with ``requests``): call it with
``asyncio.to_thread`` when the server runs in the test's own event loop.

Findings carry the operation, the check, the status and the generated input,
never the session cookie.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import hypothesis
import requests
import schemathesis
from schemathesis.core import NotSet
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Err

from cachalot_common.text import truncate

CHECK_NAMES = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)


@dataclass(frozen=True, slots=True)
class Finding:
    """One way an operation broke a check, with the first input that showed it."""

    operation: str
    check: str
    status: int
    title: str
    request: str
    path: str
    """The path as sent, percent-encoded."""

    def __str__(self) -> str:
        return f"{self.operation} → {self.status}: {self.check}: {self.title}\n    {self.request}"


@dataclass(frozen=True, slots=True)
class Report:
    """What a run did and found."""

    operations: list[str]
    statuses: Counter[int]
    findings: list[Finding]

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    def server_errors(self) -> list[Finding]:
        return [f for f in self.findings if f.check == "not_a_server_error"]

    def summary(self) -> str:
        answered = ", ".join(f"{n}×{status}" for status, n in sorted(self.statuses.items()))
        lines = [f"{len(self.operations)} operations, {self.requests} requests: {answered}"]
        lines += [str(f) for f in self.findings]
        return "\n".join(lines)


def _streams(document: Mapping[str, Any], path: str, method: str) -> bool:
    """Whether the operation answers with a stream that does not end (Server-Sent Events:
    the live feed, tested by its own tests); such operations are left out."""
    responses = document.get("paths", {}).get(path, {}).get(method.lower(), {}).get("responses")
    return any(
        "text/event-stream" in (answer.get("content") or {})
        for answer in (responses or {}).values()
        if isinstance(answer, dict)
    )


def _describe(case: schemathesis.Case[Any]) -> str:
    """The generated input, without cookies or headers (a session cookie is a secret)."""
    parts = [f"{case.method.upper()} {case.formatted_path}"]
    if case.query:
        parts.append(f"query={case.query!r}")
    if isinstance(case.body, bytes | bytearray):
        parts.append(f"body=<{len(case.body)} bytes>")
    elif not isinstance(case.body, NotSet):
        parts.append(truncate(f"body={case.body!r}", 300))
    return " ".join(parts)


def fuzz_service(base_url: str, **options: Any) -> Report:
    """Fetch ``base_url``'s own ``/openapi.json`` and :func:`fuzz_openapi` it there."""
    document = requests.get(f"{base_url.rstrip('/')}/openapi.json", timeout=30).json()
    return fuzz_openapi(document, base_url, **options)


def fuzz_openapi(
    document: Mapping[str, Any],
    base_url: str,
    *,
    cookies: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    max_examples: int = 20,
    exclude: Collection[str] = (),
    run_last: Collection[str] = (),
    path_prefix: str = "",
    headers_for: Callable[[], Mapping[str, str]] | None = None,
) -> Report:
    """Send generated requests for every operation of ``document`` to ``base_url``.

    ``exclude`` and ``run_last`` hold operation labels such as ``"DELETE
    /api/v1/me"`` (run last: operations that end the session); operations whose
    answer is an endless ``text/event-stream`` are left out. Only paths
    starting with ``path_prefix`` are exercised. ``headers_for`` gives headers
    made afresh for each request (a single-use service token, say). Returns a :class:`Report`;
    raises nothing for a finding (the caller asserts on the report).
    """
    schema = schemathesis.openapi.from_dict(dict(document))
    checks = [getattr(schemathesis.checks, name) for name in CHECK_NAMES]
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # the document itself is broken: say so
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        if (
            label not in exclude
            and operation.path.startswith(path_prefix)
            and not _streams(document, operation.path, operation.method)
        ):
            operations.append((label in run_last, label, operation))
    operations.sort(key=lambda item: (item[0], item[1]))

    session = requests.Session()
    session.cookies.update(dict(cookies or {}))
    session.headers.update(dict(headers or {}))
    found: dict[tuple[Any, ...], Finding] = {}
    statuses: Counter[int] = Counter()

    sending = Sending(base_url, session, headers_for)
    for _, label, operation in operations:
        _odd_headers(operation, label, sending, found, statuses)
        for mode in MODES:
            _exercise(operation, mode, label, sending, checks, max_examples, found, statuses)

    return Report(
        operations=[label for _, label, _ in operations],
        statuses=statuses,
        findings=sorted(found.values(), key=lambda f: (f.operation, f.check, f.status)),
    )


# Header values no schema declares, each valid on the wire (Latin-1, as HTTP/1.1
# allows) but odd to the application: non-ASCII where ASCII is expected.
ODD_HEADERS = {
    "Accept": "application/json; q=é",
    "Accept-Language": "é",
    "Content-Type": "application/json; charset=é",
    "Idempotency-Key": "é",
    "Origin": "http://é",
    "User-Agent": "é\xff",
    "X-Forwarded-For": "é",
    "X-Request-Id": "é",
}


@dataclass(frozen=True, slots=True)
class Sending:
    """Where and how generated requests go."""

    base_url: str
    session: requests.Session
    headers_for: Callable[[], Mapping[str, str]] | None


def _odd_headers(
    operation: Any,
    label: str,
    sending: Sending,
    found: dict[tuple[Any, ...], Finding],
    statuses: Counter[int],
) -> None:
    """One request with :data:`ODD_HEADERS` (and an odd cookie beside the session's)."""
    path = re.sub(r"\{[^}]+\}", "0", operation.path)
    fresh = dict(sending.headers_for()) if sending.headers_for else {}
    response = sending.session.request(
        operation.method.upper(),
        sending.base_url.rstrip("/") + path,
        headers={**ODD_HEADERS, **fresh},
        cookies={"odd": "é"},
        data=b"{}" if operation.method.upper() in {"POST", "PUT", "PATCH"} else None,
        timeout=30,
        allow_redirects=False,
    )
    statuses[response.status_code] += 1
    if response.status_code >= 500:
        key = (label, "odd_headers", response.status_code)
        found.setdefault(
            key,
            Finding(
                operation=label,
                check="odd_headers",
                status=response.status_code,
                title="Server error on non-ASCII header values",
                request=f"{operation.method.upper()} {path} headers={ODD_HEADERS!r}",
                path=path,
            ),
        )


def _exercise(
    operation: Any,
    mode: schemathesis.GenerationMode,
    label: str,
    sending: Sending,
    checks: list[Any],
    max_examples: int,
    found: dict[tuple[Any, ...], Finding],
    statuses: Counter[int],
) -> None:
    """Up to ``max_examples`` requests for one operation in one mode, counted in ``statuses``."""

    @hypothesis.settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
        print_blob=False,
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def exercise(case: schemathesis.Case[Any]) -> None:
        response = case.call(
            base_url=sending.base_url,
            session=sending.session,
            headers=dict(sending.headers_for()) if sending.headers_for else None,
            timeout=30,
            allow_redirects=False,
        )
        statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=checks)
        except FailureGroup as group:
            for failure in group.exceptions:
                _record(found, label, failure, response.status_code, case)

    try:
        with warnings.catch_warnings():
            # schemathesis' own strategies draw from ``random`` (seeded by Hypothesis).
            warnings.simplefilter("ignore", hypothesis.errors.HypothesisDeprecationWarning)
            exercise()
    except hypothesis.errors.Unsatisfiable:
        pass  # nothing to make invalid: an operation without parameters or body


def _record(
    found: dict[tuple[Any, ...], Finding],
    label: str,
    failure: Failure,
    status: int,
    case: schemathesis.Case[Any],
) -> None:
    check = _check_name(failure)
    # Conformance findings once per kind; every distinct request that made a 5xx,
    # so one cause (say, the gateway's) never hides another behind the same label.
    key = (label, check, status) if status < 500 else (label, check, status, _describe(case))
    if key not in found:
        found[key] = Finding(
            operation=label,
            check=check,
            status=status,
            title=failure.title,
            request=_describe(case),
            path=case.formatted_path,
        )


def _check_name(failure: Failure) -> str:
    """Which of :data:`CHECK_NAMES` a failure comes from (schemathesis names its classes)."""
    kind = type(failure).__name__
    return {
        "ServerError": "not_a_server_error",
        "ContentTypeServerError": "not_a_server_error",
        "MissingContentType": "content_type_conformance",
        "UndefinedStatusCode": "status_code_conformance",
        "UndefinedContentType": "content_type_conformance",
        "MalformedMediaType": "content_type_conformance",
        "JsonSchemaError": "response_schema_conformance",
    }.get(kind, kind)
