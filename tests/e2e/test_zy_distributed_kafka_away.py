"""Distributed layout: readiness says "can take traffic" apart from "a dependency is down".

With the broker away (the layout's Tansu stopped with SIGSTOP: it neither answers
nor forgets anything), the contact form behind the real gateway keeps accepting
(202), its ``/readyz`` stays 200 but says ``degraded`` and which dependency
fails, its ``/metrics`` shows ``cachalot_dependency_up`` at 0, and the
``CachalotDependencyDown`` rule's expression, evaluated by promtool on the
series scraped from the running service, names it. Once the broker is back,
the message taken meanwhile reaches the operator on Telegram. Runs late in the
session (``zy``): a broker pause makes every consumer group rejoin.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from cachalot_testing.broker import TansuBroker
from cachalot_testing.distributed import ROOT, DistributedStack

pytestmark = pytest.mark.e2e

ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"


def _ready(stack: DistributedStack) -> httpx.Response:
    return httpx.get(stack.service_url("contact") + "/readyz", timeout=10)


def _wait(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.5)
    raise AssertionError(what)


def _alert_expression() -> str:
    rules = yaml.safe_load(ALERTS.read_text())["groups"][0]["rules"]
    return str(next(r["expr"] for r in rules if r.get("alert") == "CachalotDependencyDown"))


def _promtool_fires_on(scraped: str, tmp_path: Path) -> list[str]:
    """The dependencies ``CachalotDependencyDown``'s expression names on ``scraped``
    (contact's ``/metrics`` text, held for 3 minutes as job ``contact``), by promtool."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool is needed: apt-get install prometheus"
    values = dict(
        re.findall(r'^cachalot_dependency_up\{dependency="(\w+)"\} (\S+)$', scraped, re.M)
    )
    assert values, scraped
    series = [
        {
            "series": f'cachalot_dependency_up{{job="contact", instance="contact-1", '
            f'dependency="{name}"}}',
            "values": f"{float(v):g}x3",
        }
        for name, v in values.items()
    ]
    down = sorted(name for name, v in values.items() if float(v) == 0)
    test = {
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "promql_expr_test": [
                    {
                        "expr": _alert_expression(),
                        "eval_time": "3m",
                        "exp_samples": [
                            {"labels": f'{{job="contact", dependency="{name}"}}', "value": 0}
                            for name in down
                        ],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "scraped.test.yml"
    path.write_text(yaml.safe_dump(test))
    done = subprocess.run(
        [promtool, "test", "rules", path.name], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return down


def test_the_contact_form_keeps_accepting_while_kafka_is_away_and_the_alert_names_the_broker(
    distributed_stack: DistributedStack, distributed_tansu: TansuBroker, tmp_path: Path
) -> None:
    stack = distributed_stack
    assert _ready(stack).json()["status"] == "ready", _ready(stack).text
    marker = uuid.uuid4().hex[:10]
    assert distributed_tansu.pid is not None
    os.kill(distributed_tansu.pid, signal.SIGSTOP)
    try:
        degraded = _wait(
            lambda: (r := _ready(stack)).json()["status"] == "degraded" and r,
            30,
            "contact never said degraded with the broker away",
        )
        assert degraded.status_code == 200, "a dependency down must not stop its traffic"
        assert degraded.json()["checks"] == {"log": "ok", "rate_limit_store": "ok"}
        assert "failing" in degraded.json()["dependencies"].values(), degraded.json()

        response = httpx.post(
            f"{stack.gateway}/api/v1/contact",
            json={
                "name": f"Ann {marker}",
                "contact": "@ann_smith",
                "category": "other",
                "message": "sent while Kafka is away",
            },
            timeout=10,
        )
        assert response.status_code == 202, response.text

        scraped = httpx.get(stack.service_url("contact") + "/metrics", timeout=10).text
        down = _promtool_fires_on(scraped, tmp_path)
        assert down, scraped
        assert set(down) <= {"broker", "relay"}
    finally:
        os.kill(distributed_tansu.pid, signal.SIGCONT)

    def delivered() -> bool:
        body = httpx.get(f"{stack.sandbox}/sandbox/telegram/messages", timeout=5).json()
        messages = body["messages"] if isinstance(body, dict) else body
        return sum(marker in str(m.get("text", "")) for m in messages) == 1

    _wait(delivered, 90, "the message taken while Kafka was away never reached the operator")
    _wait(lambda: _ready(stack).json()["status"] == "ready", 30, "contact never ready again")
