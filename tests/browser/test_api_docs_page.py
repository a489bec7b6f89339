"""Browser: the public API's docs page at the gateway (issue 13 item 5).

``/api/v1/docs`` is Swagger UI, vendored and pinned (web/vendor), showing the
gateway's own ``/api/v1/openapi.json``: Chromium renders its operations without a
request to any other host and without a console error, to anyone, signed in or not.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.browser


def test_the_api_docs_page_shows_the_public_apis_operations_from_this_origin_only(
    browser: Any, stack: EmbeddedStack
) -> None:
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    origin = urlsplit(stack.gateway).netloc
    elsewhere: list[str] = []
    errors: list[str] = []
    page.on(
        "request",
        lambda r: (
            elsewhere.append(r.url)
            if r.url.startswith("http") and urlsplit(r.url).netloc != origin
            else None
        ),
    )
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"{stack.gateway}/api/v1/docs")
        page.wait_for_selector(".opblock-summary-path", timeout=20_000)
        paths = set(page.locator(".opblock-summary-path").all_inner_texts())
        assert "/api/v1/contact" in {p.replace("\u200b", "") for p in paths}
        assert (
            page.locator(".swagger-ui .info .title").inner_text().startswith("CACHALOT public API")
        )
    finally:
        context.close()
    assert elsewhere == []
    assert errors == []
