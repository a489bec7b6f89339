"""One trace covers a post's whole trip, read back from the tracing UI's API (issue 13 item 4).

The stack runs as ``make dev TRACES=1`` does: Arize Phoenix takes every
service's spans over OTLP (cachalot_embedded.traces). A client queues a TikTok
post through the gateway; the sandbox refuses it; the operator is told on
Telegram. Phoenix's REST API (``GET /v1/projects/{project}/spans?trace_id=``)
must then hold ONE trace, rooted at the gateway, that goes
dashboard request → gateway → queue (request, database, outbox) → Kafka →
publisher → platform calls (sandbox) → result → queue → notifier → Telegram,
and the operator console and the Telegram message link that trace.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cachalot_embedded.traces import PROJECT, phoenix_binary
from cachalot_testing.broker import TansuBroker
from cachalot_testing.operators import DEV_OPERATOR, failed_post, operator_sign_in
from cachalot_testing.stack import EmbeddedStack

# Phoenix takes a minute or more to start on a busy machine; the trip itself ~30 s
pytestmark = [pytest.mark.e2e, pytest.mark.traces, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def traced_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    """A stack of its own, exporting to Phoenix (the session's stack exports nothing).

    On a broker of its own: on the session's, the session's stack (started by
    any earlier test) is in the same consumer groups, and its publisher-tiktok
    took this stack's command and its queue the result, so the post stayed
    ``dispatched`` in a whole session and passed alone (cachalot_testing.broker).
    """
    if phoenix_binary() is None:
        message = "the tracing UI is not installed: make traces (embedded/traces.txt)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; .ci/run installs it")
        pytest.skip(message)
    broker = TansuBroker(log_path=tmp_path_factory.mktemp("traced-tansu") / "tansu.log").start()
    var_dir: Path = tmp_path_factory.mktemp("traced-var")
    running = EmbeddedStack(
        var_dir,
        kafka_bootstrap=broker.bootstrap,
        env={
            "CACHALOT_DEV_TRACES": "1",
            "CACHALOT_CONTACT_RATE_LIMITS": "10000/minute",
            "CACHALOT_AUTH_RATE_LIMIT": "10000/minute",
        },
    )
    try:
        yield running.start(timeout=420)
    finally:
        running.stop()
        broker.stop()


def spans_of(ui: str, trace_id: str | None) -> list[dict[str, Any]]:
    """The spans of the trace ``trace_id`` (None: of every trace) Phoenix holds."""
    params: dict[str, Any] = {"limit": 1000}
    if trace_id is not None:
        params["trace_id"] = trace_id
    answer = httpx.get(f"{ui}/v1/projects/{PROJECT}/spans", params=params, timeout=10)
    if answer.status_code == 404:  # no span of the project exported yet: none to read
        return []
    answer.raise_for_status()
    return list(answer.json()["data"])


def below(spans: list[dict[str, Any]], top: dict[str, Any]) -> list[dict[str, Any]]:
    """Every span of ``spans`` under ``top`` (children, their children, ...)."""
    ids = {top["context"]["span_id"]}
    found: list[dict[str, Any]] = []
    grew = True
    while grew:
        more = [s for s in spans if s["parent_id"] in ids and s["context"]["span_id"] not in ids]
        ids.update(s["context"]["span_id"] for s in more)
        found.extend(more)
        grew = bool(more)
    return found


def operator_message(sandbox: str, needle: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        body = httpx.get(f"{sandbox}/sandbox/telegram/messages", timeout=5).json()
        messages = body["messages"] if isinstance(body, dict) else body
        hits = [str(m.get("text", "")) for m in messages if needle in str(m.get("text", ""))]
        if hits:
            return hits[-1]
        assert time.monotonic() < deadline, f"no operator message with {needle}"
        time.sleep(0.3)


def service_of(span: dict[str, Any]) -> str:
    return str(span["attributes"].get("cachalot.service", "?"))


def test_one_trace_follows_a_failed_post_from_the_dashboard_to_the_operators_telegram(
    traced_stack: EmbeddedStack,
) -> None:
    stack = traced_stack
    ui = str(stack.info["traces"])
    with httpx.Client(timeout=30) as client, httpx.Client(timeout=30) as operator:
        post_id = failed_post(client, stack.gateway, stack.sandbox, caption="traced")
        assert operator_sign_in(operator, stack.gateway, DEV_OPERATOR).status_code == 302
        failed = operator.get(f"{stack.gateway}/api/v1/operator/posts", params={"status": "failed"})
        [item] = [i for i in failed.json()["items"] if i["post_id"] == post_id]
    trace_id = item["trace_id"]
    link = f"{ui}/redirects/traces/{trace_id}"
    assert item["trace_url"] == link  # the operator console's link...
    text = operator_message(stack.sandbox, post_id)
    assert f"Trace: {link}" in text  # ...and the operator's Telegram message's
    assert httpx.get(link, timeout=10).status_code == 200  # the UI opens it

    wanted = {"gateway", "queue", "publisher-tiktok", "notifier", "auth"}
    deadline = time.monotonic() + 90  # each service exports its spans in batches (5 s)
    while True:
        spans = spans_of(ui, trace_id)
        names = {s["name"] for s in spans}
        ids = {s["context"]["span_id"] for s in spans}
        whole = all(not s["parent_id"] or s["parent_id"] in ids for s in spans)
        done = wanted <= {service_of(s) for s in spans} and "notifier send telegram" in names
        if (done and whole) or time.monotonic() > deadline:
            break
        time.sleep(2)

    def where(service: str) -> list[dict[str, Any]]:
        return [s for s in spans if service_of(s) == service]

    def attributes(service: str) -> str:
        return "\n".join(f"{s['name']} {s['attributes']}" for s in where(service))

    summary = "\n".join(sorted(f"{service_of(s)}: {s['name']}" for s in spans))
    # ONE trace: a single root (the gateway's request span) and every other span's
    # parent is in it, so nothing started a trace of its own on the way
    roots = [s for s in spans if not s["parent_id"]]
    assert len(roots) == 1, summary
    assert service_of(roots[0]) == "gateway", summary
    assert "POST /api/v1/posts" in roots[0]["name"], summary
    orphans = [s["name"] for s in spans if s["parent_id"] and s["parent_id"] not in ids]
    assert not orphans, f"parents missing for {orphans}\n{summary}"
    # every hop is in it
    assert any(s["name"].startswith("POST /api/v1/posts") for s in where("queue")), summary
    assert "db.statement" in attributes("queue"), summary  # database spans
    assert any(s["name"].startswith("queue dispatch tiktok") for s in where("queue")), summary
    kafka = [s for s in spans if "kafka" in str(s["attributes"].get("messaging.system", ""))]
    kafka_services = {service_of(s) for s in kafka}
    assert {"queue", "publisher-tiktok", "notifier"} <= kafka_services, summary
    assert "creator_info" in attributes("publisher-tiktok"), summary  # the platform call
    # the token lease: auth's lease route, called by the publisher in the command's trace
    assert any("lease" in s["name"] for s in where("auth")), summary
    # the queue handles the result in the post's trace, its SQL with it: under the
    # result records' consume span (one transaction per fetch), parent of the result's
    [result] = [s for s in where("queue") if s["name"].startswith("queue result")]
    [consume] = [s for s in spans if s["context"]["span_id"] == result["parent_id"]]
    assert consume["name"].endswith(" process"), summary
    statements = [str(s["attributes"].get("db.statement", "")) for s in below(spans, consume)]
    assert any(q.startswith("UPDATE targets") for q in statements), summary
    assert any(q.startswith("INSERT INTO outbox") for q in statements), summary
    # the relay's send of the dispatched command is in it, between the queue and the publisher
    assert any(s["name"].endswith(" publish") for s in kafka if service_of(s) == "queue"), summary
    # and no consume span of this post's records started a trace of its own
    # (the post is the first this stack made, so its topics' records are its own)
    topics = {s["name"].rsplit(" ", 1)[0] for s in kafka}
    elsewhere = [
        f"{service_of(s)}: {s['name']}"
        for s in spans_of(ui, None)
        if s["context"]["trace_id"] != trace_id
        and s["name"].rsplit(" ", 1)[0] in topics
        and s["name"].rsplit(" ", 1)[-1] in {"create", "process"}
    ]
    assert not elsewhere, f"consume spans outside the post's trace: {elsewhere}\n{summary}"
    assert "db.statement" in attributes("notifier"), summary
    [send] = [s for s in where("notifier") if s["name"] == "notifier send telegram"]
    calls = [s for s in spans if s["parent_id"] == send["context"]["span_id"]]
    assert any("sendMessage" in str(s["attributes"]) for s in calls), summary
    # and no secret on any span: the bot token is redacted from the Bot API URL
    token = stack.env.get("CACHALOT_TELEGRAM_BOT_TOKEN") or ""
    everything = str(spans)
    assert "/bot" in everything
    assert not token or token not in everything


def test_the_tracing_ui_takes_every_services_exports_without_a_console_line_for_each(
    traced_stack: EmbeddedStack,
) -> None:
    """``make dev TRACES=1``'s console shows what goes wrong, not every OTLP export that
    each service sends every few seconds (Phoenix's own log level: warnings and errors),
    nor what Phoenix fails to fetch from the internet."""
    stack = traced_stack
    ui = str(stack.info["traces"])
    with httpx.Client(timeout=30) as client:
        failed_post(client, stack.gateway, stack.sandbox, caption="quiet")
    deadline = time.monotonic() + 90  # the marker: exports from the services have landed
    while True:
        answer = httpx.get(f"{ui}/v1/projects/{PROJECT}/spans", params={"limit": 5}, timeout=10)
        if answer.status_code == 200 and answer.json()["data"]:
            break
        assert time.monotonic() < deadline, answer.text[:300]
        time.sleep(2)
    phoenix = [line for line in stack.output().splitlines() if "phoenix" in line]
    assert phoenix  # its output is there: the banner it prints as it starts
    # an access line per request ('"POST /v1/traces HTTP/1.1" 200'), none at all now
    exports = [line for line in phoenix if '"POST /v1/traces' in line or '"GET /v1/' in line]
    assert exports == [], exports[:5]
    # nor a traceback of a fetch from the internet it tries on its own (a WASM sandbox,
    # a docs server: fresh13f counted three at every start on a machine without one)
    tracebacks = [line for line in phoenix if "Traceback" in line]
    assert tracebacks == [], tracebacks[:3]
