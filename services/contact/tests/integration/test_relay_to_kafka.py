"""Against the real broker (Tansu): the log reaches the topic, and crashes lose nothing."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest

from cachalot_testing.broker import TansuBroker
from cachalot_testing.processes import ServiceProcess

pytestmark = pytest.mark.integration

URL = "/api/v1/contact"
VERIFY = [sys.executable, "-m", "cachalot_contact", "verify"]
STARTUP_S = 120.0  # a cold interpreter importing FastAPI, FastStream and OTel on a busy box
FORM = {
    "name": "Grace",
    "contact": "+1 650 253 0000",
    "category": "seo_articles",
    "message": "<b>hostile</b> *markdown* _under_ 😀\nsecond line",
}


def contact_process(tmp_path: Path, bootstrap: str, **env: str) -> ServiceProcess:
    return ServiceProcess(
        "cachalot_contact",
        env={
            "CACHALOT_KAFKA_BOOTSTRAP": bootstrap,
            "CACHALOT_KAFKA_IDEMPOTENCE": "false",
            "CACHALOT_CONTACT_LOG_DIR": str(tmp_path / "contact"),
            "CACHALOT_CONTACT_RATE_LIMITS": "1000/minute",
            **env,
        },
        log_path=tmp_path / "contact-process.log",
    )


async def test_a_submission_appears_on_the_topic_with_its_id_as_key(
    make_settings, serve, kafka_bootstrap, kafka_idempotence, wait_for_events
):
    settings = make_settings(
        kafka_bootstrap=kafka_bootstrap, kafka_idempotence=kafka_idempotence, contact_relay="inline"
    )
    async with serve(settings) as client:
        response = await client.post(URL, json=FORM)
        assert response.status_code == 202
        submission = response.json()["id"]
        events = await wait_for_events({submission})
        ready = await client.get("/readyz")
    event = next(e for e in events if str(e.event_id) == submission)
    assert event.message == FORM["message"]
    assert event.contact == "+16502530000"
    assert event.category == "seo_articles"
    assert ready.json() == {
        "status": "ready",
        "checks": {"log": "ok", "rate_limit_store": "ok"},
        "dependencies": {"broker": "ok", "relay": "ok"},
    }


async def test_a_crash_between_append_and_publish_loses_nothing_and_publishes_once(
    tmp_path, kafka_bootstrap, topic_events, wait_for_events
):
    # 1. the append happens, the publish does not (relay off), then the process is killed
    first = contact_process(tmp_path, kafka_bootstrap, CACHALOT_CONTACT_RELAY="external")
    first.start(timeout=STARTUP_S)
    try:
        response = httpx.post(first.base_url + URL, json=FORM, timeout=10)
        assert response.status_code == 202
        submission = response.json()["id"]
    finally:
        first.kill()
    log_path = tmp_path / "contact" / "contact.log.jsonl"
    assert json.loads(log_path.read_bytes())["event"]["event_id"] == submission
    assert submission not in {str(e.event_id) for e in await topic_events()}

    # 2. a restart publishes what was missed, once, and keeps its place
    second = contact_process(tmp_path, kafka_bootstrap)
    second.start(timeout=STARTUP_S)
    try:
        await wait_for_events({submission})
        await asyncio.sleep(0.5)  # a duplicate would be published right behind it
    finally:
        second.stop()
    counts = Counter(str(e.event_id) for e in await topic_events())
    assert counts[submission] == 1
    cursor = json.loads((tmp_path / "contact" / "relay.cursor").read_bytes())
    assert cursor == {"offset": log_path.stat().st_size, "seq": 1}


async def test_submissions_taken_while_the_broker_is_down_are_published_when_it_returns(
    tmp_path, make_settings, serve, kafka_idempotence, read_topic, wait_for_ids
):
    if kafka_idempotence:
        pytest.skip("needs a Tansu of its own to start late")
    broker = TansuBroker(log_path=tmp_path / "tansu.log")  # not started yet: down
    settings = make_settings(
        kafka_bootstrap=broker.bootstrap, kafka_idempotence=False, contact_relay="inline"
    )
    try:
        async with serve(settings) as client:
            ids = []
            for _ in range(3):
                response = await client.post(URL, json=FORM)
                assert response.status_code == 202
                ids.append(response.json()["id"])
            # it takes traffic (the log keeps the submissions) and says what it waits for
            ready = await client.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["status"] == "degraded"
            assert ready.json()["dependencies"]["broker"] == "failing"
            scraped = (await client.get("/metrics")).text
            assert 'cachalot_dependency_up{dependency="broker"} 0.0' in scraped
            broker.start()
            events = await wait_for_ids(lambda: read_topic(broker.bootstrap), set(ids), 30)
    finally:
        broker.stop()
    assert sorted(str(e.event_id) for e in events) == sorted(ids)


async def test_a_tampered_line_of_a_real_log_fails_verify_naming_it(
    make_settings, serve, kafka_bootstrap
):
    settings = make_settings(kafka_bootstrap=kafka_bootstrap, contact_relay="external")
    async with serve(settings) as client:
        for n in range(3):
            form = {**FORM, "name": f"Person {n}"}
            assert (await client.post(URL, json=form)).status_code == 202
    log_path = settings.log_path
    assert subprocess.run([*VERIFY, str(log_path)], capture_output=True).returncode == 0
    log_path.write_bytes(log_path.read_bytes().replace(b"Person 1", b"Person 9"))
    result = subprocess.run([*VERIFY, str(log_path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "line 2:" in result.stdout
