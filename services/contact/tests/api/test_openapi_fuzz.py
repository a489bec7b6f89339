"""Schemathesis against contact's own OpenAPI document: no 5xx, every answer documented."""

from __future__ import annotations

import asyncio

from cachalot_testing.fuzz import fuzz_openapi


async def test_generated_requests_to_contact_get_no_5xx_and_only_documented_answers(
    make_settings, serve, publisher
):
    settings = make_settings(contact_rate_limits="100000/minute")
    async with serve(settings, publisher=publisher) as client:
        document = (await client.get("/openapi.json")).json()
        report = await asyncio.to_thread(
            fuzz_openapi, document, str(client.base_url), max_examples=25
        )
    print(report.summary())
    assert report.statuses[422] > 0, report.summary()  # bodies reach validation
    assert report.findings == [], report.summary()
