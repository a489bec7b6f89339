"""E-mail to clients through the whole embedded system (issue 12, items 6 and 7): a post
made to fail in the sandbox ends as an e-mail in the development mailbox (``var/mail/``,
what `make dev` runs), its one-click unsubscribe link works through the gateway, and a
policy version the operator publishes reaches the client once. The address never
appears in any log of the run."""

from __future__ import annotations

import email
import email.policy
import time
import uuid
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from cachalot_testing.operators import DEV_OPERATOR, failed_post, operator_sign_in
from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.e2e


def mails_to(var_dir: Path, address: str) -> list[EmailMessage]:
    found = []
    for path in sorted((var_dir / "mail").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        if str(message["To"]) == address:
            found.append(message)
    return found


def wait_for_mails(
    var_dir: Path, address: str, count: int, timeout: float = 60
) -> list[EmailMessage]:
    deadline = time.monotonic() + timeout
    while True:
        found = mails_to(var_dir, address)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def test_a_post_failed_in_the_sandbox_reaches_the_client_as_an_email_they_can_switch_off(
    stack: EmbeddedStack,
) -> None:
    with httpx.Client(timeout=30) as client:
        post_id = failed_post(client, stack.gateway, stack.sandbox, caption="mail me")
        address = client.get(f"{stack.gateway}/api/v1/me").json()["email"]
        [mail] = wait_for_mails(stack.var_dir, address, 1)
        assert mail["Subject"] == "Your post to TikTok failed"
        text = mail.get_body(preferencelist=("plain",))
        html = mail.get_body(preferencelist=("html",))
        assert text is not None
        assert html is not None
        assert post_id in text.get_content()
        assert post_id in html.get_content()
        # which post and where, as the client knows them (fresh12), not only the post's id
        account = client.get(f"{stack.gateway}/api/v1/accounts").json()
        accounts = account if isinstance(account, list) else account["items"]
        [name] = [a["display_name"] for a in accounts if a["platform"] == "tiktok"]
        assert f"Your post “mail me” to {name} on TikTok failed" in text.get_content()
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        link = urlsplit(str(mail["List-Unsubscribe"]).strip("<>"))
        assert f"{link.scheme}://{link.netloc}" == stack.gateway
        # what a mail provider sends: no cookie, no Origin (RFC 8058)
        done = httpx.post(
            f"{stack.gateway}{link.path}?{link.query}",
            content=b"List-Unsubscribe=One-Click",
            headers={"content-type": "application/x-www-form-urlencoded"},
            timeout=10,
        )
        assert done.status_code == 200, done.text
    logs = stack.output() + "".join(
        p.read_text(errors="replace") for p in (stack.var_dir / "access-logs").glob("*")
    )
    assert address not in logs


def test_a_policy_version_the_operator_publishes_reaches_each_client_once(
    stack: EmbeddedStack,
) -> None:
    with httpx.Client(timeout=30) as client, httpx.Client(timeout=30) as operator:
        failed_post(client, stack.gateway, stack.sandbox, caption="policy reader")
        address = client.get(f"{stack.gateway}/api/v1/me").json()["email"]
        landed = operator_sign_in(operator, stack.gateway, DEV_OPERATOR)
        assert landed.status_code == 302, landed.text
        version = f"e2e-{uuid.uuid4().hex[:8]}"
        url = f"{stack.gateway}/api/v1/operator/policy-versions"
        published = operator.post(url, json={"version": version})
        assert published.status_code == 201, published.text
        assert published.json()["recipients"] >= 1
        assert operator.post(url, json={"version": version}).status_code == 409
        assert client.post(url, json={"version": f"{version}-2"}).status_code == 403
        found = wait_for_mails(stack.var_dir, address, 2)  # the failure, then the policy
        time.sleep(2)
    policy = [m for m in mails_to(stack.var_dir, address) if version in str(m["Subject"])]
    assert len(policy) == 1
    assert policy[0]["List-Unsubscribe"] is None
    assert len(found) >= 2
