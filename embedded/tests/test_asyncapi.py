"""Each service's AsyncAPI document: built from the code, checked in, never stale."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cachalot_common import topics
from cachalot_embedded.asyncapi import BUILDERS, DOCUMENT_DIR, REGENERATE

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_TOPICS = [
    topics.CONTACT_SUBMITTED,
    topics.ACCOUNTS,
    topics.POSTS_RESULT,
    topics.POSTS_STATUS,
    topics.NOTIFY,
    topics.SESSIONS,
    *(topics.publish_topic(p) for p in topics.PLATFORMS),
]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """What the regeneration command writes now, run as the lead runs it (own process)."""
    target = tmp_path_factory.mktemp("asyncapi")
    done = subprocess.run(
        [sys.executable, "-m", "cachalot_embedded.asyncapi", str(target)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return {path.stem: path.read_text(encoding="utf-8") for path in target.glob("*.json")}


def test_the_checked_in_documents_are_what_the_code_generates(generated: dict[str, str]) -> None:
    assert sorted(generated) == sorted(BUILDERS)
    checked_in = {path.stem: path for path in DOCUMENT_DIR.glob("*.json")}
    assert sorted(checked_in) == sorted(BUILDERS), f"regenerate with: {REGENERATE}"
    for service, text in generated.items():
        assert checked_in[service].read_text(encoding="utf-8") == text, (
            f"docs/asyncapi/{service}.json is stale: regenerate with: {REGENERATE}"
        )


def _payload_schema(document: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = message["payload"]
    ref = payload.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        resolved: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
        return resolved
    return payload


def test_every_contract_topic_is_sent_and_received_with_its_event_schema(
    generated: dict[str, str],
) -> None:
    actions: dict[str, set[str]] = {topic: set() for topic in CONTRACT_TOPICS}
    for service, text in generated.items():
        document = json.loads(text)
        assert document["asyncapi"] == "3.0.0", service
        for operation in document["operations"].values():
            channel = document["channels"][operation["channel"]["$ref"].rsplit("/", 1)[1]]
            for message_ref in channel["messages"].values():
                name = message_ref["$ref"].rsplit("/", 1)[1]
                payload = _payload_schema(document, document["components"]["messages"][name])
                where = f"{service}: {channel['address']}"
                # a topic carrying several event types is a oneOf of event schemas
                variants = (
                    [_payload_schema(document, {"payload": one}) for one in payload["oneOf"]]
                    if "oneOf" in payload
                    else [payload]
                )
                for schema in variants:
                    assert schema.get("type") == "object", f"{where} has no event schema: {schema}"
                    assert "event_id" in schema["properties"], f"{where} is not an event: {schema}"
                    assert schema.get("format") != "binary", (service, channel["address"])
            if channel["address"] in actions:
                actions[channel["address"]].add(operation["action"])
    assert {topic: sorted(seen) for topic, seen in actions.items()} == {
        topic: ["receive", "send"] for topic in CONTRACT_TOPICS
    }
