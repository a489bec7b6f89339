"""Embedded mode's own publish-grant key pair: made once, private half to the queue alone."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from cachalot_common.grants import mint_grant, parse_public_keys, parse_signing_key, verify_grant
from cachalot_embedded.stack import load_dev_secrets


def test_the_queue_alone_gets_the_grant_key_whose_public_half_the_others_trust(
    stack_environments: dict[str, dict[str, str]],
) -> None:
    envs = stack_environments
    holders = {name for name, env in envs.items() if "CACHALOT_GRANT_SIGNING_KEY" in env}
    assert holders == {"queue"}
    key = parse_signing_key(envs["queue"]["CACHALOT_GRANT_SIGNING_KEY"])
    signed = mint_grant(
        post_id=uuid.uuid4(),
        target_id=uuid.uuid4(),
        client_id=uuid.uuid4(),
        account_id=uuid.uuid4(),
        platform="tiktok",
        attempt=1,
        key=key,
        lifetime_s=60,
    )
    for name in ("auth", "publisher-tiktok"):
        verify_grant(signed, keys=parse_public_keys(envs[name]["CACHALOT_GRANT_PUBLIC_KEYS"]))
    assert "queue" not in json.loads(envs["auth"]["CACHALOT_SERVICE_CREDENTIALS"])


def test_the_grant_key_is_made_once_and_added_to_an_older_secrets_file(tmp_path: Path) -> None:
    first = load_dev_secrets(tmp_path)["grant_signing_key"]
    assert load_dev_secrets(tmp_path)["grant_signing_key"] == first
    older = tmp_path / "older"
    older.mkdir()
    data = json.loads((tmp_path / "dev-secrets.json").read_text())
    del data["grant_signing_key"]
    (older / "dev-secrets.json").write_text(json.dumps(data))
    added = load_dev_secrets(older)["grant_signing_key"]
    assert added != first
    assert json.loads((older / "dev-secrets.json").read_text())["grant_signing_key"] == added
