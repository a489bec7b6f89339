"""Schemathesis against publisher-youtube's own OpenAPI document (its probes): no 5xx."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cachalot_testing.fuzz import fuzz_service
from cachalot_testing.processes import ServiceProcess

pytestmark = pytest.mark.integration


def test_generated_requests_to_publisher_youtube_get_no_5xx_and_only_documented_answers(
    start_publisher: Callable[[], ServiceProcess],
) -> None:
    report = fuzz_service(start_publisher().base_url, max_examples=10)
    print(report.summary())
    assert "GET /readyz" in report.operations, report.summary()
    assert report.findings == [], report.summary()
