"""Traces carry no secrets: every span of a sign-in, lease and refresh is clean."""

from __future__ import annotations

import uuid

import httpx
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


def span_text(exporter: InMemorySpanExporter) -> str:
    parts = []
    for span in exporter.get_finished_spans():
        parts.append(span.name)
        parts.extend(f"{k}={v}" for k, v in (span.attributes or {}).items())
        for event in span.events:
            parts.extend(f"{k}={v}" for k, v in (event.attributes or {}).items())
    return "\n".join(parts)


async def test_no_token_or_code_in_any_span(
    start_auth, tmp_path, sign_in, consent, lease_client, fresh_sandbox
):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    seen: list[str] = []
    async with start_auth(
        f"sqlite+aiosqlite:///{tmp_path}/auth.db", app_options={"tracer_provider": provider}
    ) as auth:
        async with auth.browser() as browser:
            back = await sign_in(browser, "tiktok", stop_at_callback=True)
            code = httpx.URL(back.headers["location"]).params["code"]
            await browser.get(back.headers["location"])
            await consent(browser)
            account_id = (await browser.get("/api/v1/accounts")).json()[0]["id"]
            seen.append(browser.cookies["cachalot_session"])
        async with httpx.AsyncClient() as http:
            for force in (False, True):
                lease = await lease_client(auth, http).lease(
                    uuid.UUID(account_id), post_id=uuid.uuid4(), force_refresh=force
                )
                seen.append(lease.access_token)
    text = span_text(exporter)
    assert "/v2/oauth/token/" in text  # the platform calls were traced...
    assert "/lease" in text
    assert "db.statement=SELECT" in text
    assert "db.statement=INSERT" in text
    for secret in [*seen, code, "sandbox-tiktok-client-secret"]:
        assert secret not in text  # ...without their secrets
