"""The schemathesis helper finds what it should: 5xx, undocumented answers, odd headers."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import time
from collections.abc import Iterator

import pytest
import requests
import uvicorn
from fastapi import FastAPI, Header, Request

from cachalot_common.app import create_service_app
from cachalot_common.problems import Problem, problem_responses
from cachalot_common.settings import ServiceSettings
from cachalot_testing.fuzz import fuzz_service
from cachalot_testing.ports import free_port


def _app() -> FastAPI:
    app = create_service_app(title="fuzzed", settings=ServiceSettings())

    @app.get("/things/{number}", responses=problem_responses(404, 422))
    async def thing(number: int) -> dict[str, int]:
        if number == 0:
            raise Problem(404, "No such thing.")
        return {"number": 100 // (number % 7)}  # a 5xx whenever number is a multiple of 7

    @app.get("/undocumented", responses=problem_responses(422))
    async def undocumented(flag: bool = False) -> dict[str, bool]:
        if flag:
            raise Problem(409, "A status the document does not list.")
        return {"flag": flag}

    @app.get("/greeting")
    async def greeting(request: Request, x_name: str | None = Header(default=None)) -> str:
        request.headers.get("accept-language", "").encode("ascii")  # 500 on non-ASCII
        return "hello"

    return app


def _serve(port: int) -> None:
    uvicorn.run(_app(), host="127.0.0.1", port=port, log_config=None)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """The app in a process of its own, not in the test's event loop: its error tracebacks
    are formatted with ``ast`` (Python 3.11's caret lines) while schemathesis parses in the
    fuzzing thread, and CPython 3.11's AST constructor state is not safe across threads
    (gh-106905: "SystemError: AST constructor recursion depth mismatch", seen in CI)."""
    port = free_port()
    server = multiprocessing.get_context("fork").Process(target=_serve, args=(port,), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            assert server.is_alive(), "the fuzzed app's process ended"
            assert time.monotonic() < deadline, "the fuzzed app did not answer in 60 s"
            time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        server.join(10)


async def test_the_helper_reports_5xx_undocumented_statuses_and_non_ascii_header_faults(
    base_url: str,
) -> None:
    report = await asyncio.to_thread(fuzz_service, base_url, max_examples=30)
    kinds = {(f.operation, f.check, f.status) for f in report.findings}
    assert ("GET /things/{number}", "not_a_server_error", 500) in kinds, report.summary()
    assert ("GET /undocumented", "status_code_conformance", 409) in kinds, report.summary()
    assert ("GET /greeting", "odd_headers", 500) in kinds, report.summary()
    assert "GET /readyz" in report.operations


async def test_the_same_run_twice_sends_the_same_requests(base_url: str) -> None:
    first = await asyncio.to_thread(fuzz_service, base_url, max_examples=10)
    second = await asyncio.to_thread(fuzz_service, base_url, max_examples=10)
    assert first.statuses == second.statuses
    assert first.findings == second.findings
