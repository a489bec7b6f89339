"""Schemathesis against the queue's own OpenAPI document: no 5xx, every answer documented."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from queue_support import QueueServer

from cachalot_testing.fuzz import fuzz_openapi

pytestmark = pytest.mark.integration


async def test_generated_requests_to_the_queue_get_no_5xx_and_only_documented_answers(
    queue: QueueServer,
) -> None:
    client = queue.client()
    await client.account("youtube")
    async with httpx.AsyncClient(base_url=queue.base_url) as http:
        document = (await http.get("/openapi.json")).json()
    report = await asyncio.to_thread(
        fuzz_openapi,
        document,
        queue.base_url,
        cookies=dict(client.http.cookies),
        max_examples=15,
    )
    print(report.summary())
    assert report.findings == [], report.summary()
