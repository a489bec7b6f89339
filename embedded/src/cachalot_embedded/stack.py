"""What embedded mode runs: the service list, their ports and environment.

One environment for all (every ``CACHALOT_*`` variable the user set wins
over the embedded defaults), plus a few per-process values (port, database,
service identity). Platform hosts default to the sandbox.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cachalot_common.grants import generate_signing_key, parse_signing_key

GRANT_SIGNING_KEY = "CACHALOT_GRANT_SIGNING_KEY"


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    port: int
    database: bool = False
    service_identity: bool = False
    signs_grants: bool = False  # holds the private publish-grant key (the queue alone)
    extra_env: dict[str, str] = field(default_factory=dict)

    def available(self) -> bool:
        """Whether this service's package is installed (a partial checkout runs the rest)."""
        return importlib.util.find_spec(self.module) is not None


SANDBOX = ServiceSpec("sandbox", "cachalot_sandbox", 8090)
SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("auth", "cachalot_auth", 8103, database=True),
    ServiceSpec("contact", "cachalot_contact", 8101),
    # the notifier reads a client's e-mail address from auth (a service identity)
    ServiceSpec("notifier", "cachalot_notifier", 8102, database=True, service_identity=True),
    # the queue signs the publish grant of every command with its private grant key
    ServiceSpec("queue", "cachalot_queue", 8104, database=True, signs_grants=True),
    ServiceSpec(
        "publisher-tiktok", "cachalot_publisher_tiktok", 8105, database=True, service_identity=True
    ),
    ServiceSpec(
        "publisher-youtube",
        "cachalot_publisher_youtube",
        8106,
        database=True,
        service_identity=True,
    ),
    ServiceSpec(
        "publisher-instagram",
        "cachalot_publisher_instagram",
        8107,
        database=True,
        service_identity=True,
    ),
    ServiceSpec(
        "publisher-vk", "cachalot_publisher_vk", 8109, database=True, service_identity=True
    ),
    ServiceSpec(
        "publisher-telegram",
        "cachalot_publisher_telegram",
        8108,
        database=True,
        service_identity=True,
    ),
)
SERVICE_IDENTITIES = tuple(s.name for s in SERVICES if s.service_identity)


def load_dev_secrets(var_dir: Path) -> dict[str, str]:
    """Random development secrets, made once and kept in ``var/dev-secrets.json``.

    Nothing is shipped as a default secret; a fresh checkout makes its own.
    """
    path = var_dir / "dev-secrets.json"
    if path.exists():
        data: dict[str, str] = json.loads(path.read_text())
        missing = {
            f"service_secret_{name}": secrets.token_urlsafe(40)
            for name in SERVICE_IDENTITIES
            if f"service_secret_{name}" not in data
        }
        if "grant_signing_key" not in data:
            missing["grant_signing_key"] = generate_signing_key("dev-local").setting()
        if missing:  # a service or a key that appeared since the file was made
            data.update(missing)
            path.write_text(json.dumps(data, indent=2))
        return data
    data = {
        "session_secret": secrets.token_urlsafe(48),
        "state_secret": secrets.token_urlsafe(48),
        "token_key": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "telegram_bot_token": f"{secrets.randbelow(9 * 10**9) + 10**9}:"
        + secrets.token_urlsafe(26)[:35],
        **{f"service_secret_{name}": secrets.token_urlsafe(40) for name in SERVICE_IDENTITIES},
        # publish grants: the queue signs with the private key, the rest verify
        "grant_signing_key": generate_signing_key("dev-local").setting(),
    }
    var_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(data, out, indent=2)
    return data


def base_environment(
    *,
    var_dir: Path,
    kafka_bootstrap: str,
    idempotence: bool,
    gateway_url: str,
    sandbox_url: str,
    auth_url: str,
    queue_url: str,
    dev_secrets: dict[str, str],
    embedded_broker: bool = True,
    smtp_port: int | None = None,
) -> dict[str, str]:
    """The embedded defaults every process starts from (before the user's own)."""
    credentials = {name: dev_secrets[f"service_secret_{name}"] for name in SERVICE_IDENTITIES}
    # Tansu holds a consumer-group join for about half the session timeout; Apache
    # Kafka refuses one below its group.min.session.timeout.ms (6 s by default).
    session_timeout = "3000" if embedded_broker else "10000"
    # e-mail to clients goes to the development mailbox (var/mail/, cachalot_embedded.mailbox)
    mail = (
        {
            "CACHALOT_SMTP_HOST": "127.0.0.1",
            "CACHALOT_SMTP_PORT": str(smtp_port),
            "CACHALOT_SMTP_STARTTLS": "false",
            "CACHALOT_SMTP_FROM": "CACHALOT (dev) <notices@cachalot.localhost>",
        }
        if smtp_port is not None
        else {}
    )
    return {
        **mail,
        "CACHALOT_KAFKA_SESSION_TIMEOUT_MS": session_timeout,
        "CACHALOT_ENVIRONMENT": "development",
        "CACHALOT_LOG_FORMAT": "text",
        "CACHALOT_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "CACHALOT_KAFKA_IDEMPOTENCE": "true" if idempotence else "false",
        # the services create the topic plan again when the broker comes back empty
        "CACHALOT_KAFKA_ENSURE_TOPICS": "true",
        "CACHALOT_TRUSTED_PROXIES": '["127.0.0.1"]',
        "CACHALOT_PUBLIC_URL": gateway_url,
        "CACHALOT_DASHBOARD_URL": gateway_url,
        "CACHALOT_COOKIE_SECURE": "false",
        "CACHALOT_MEDIA_DIR": str(var_dir / "media"),
        "CACHALOT_CONTACT_LOG_DIR": str(var_dir / "contact"),
        "CACHALOT_ACCESS_LOG_DIR": str(var_dir / "access-logs"),
        "CACHALOT_SESSION_SECRET": dev_secrets["session_secret"],
        "CACHALOT_STATE_SECRET": dev_secrets["state_secret"],
        "CACHALOT_TOKEN_KEYS": f"v1:{dev_secrets['token_key']}",
        "CACHALOT_SERVICE_CREDENTIALS": json.dumps(credentials),
        "CACHALOT_GRANT_PUBLIC_KEYS": parse_signing_key(
            dev_secrets["grant_signing_key"]
        ).public_setting(),
        "CACHALOT_AUTH_URL": auth_url,
        "CACHALOT_QUEUE_URL": queue_url,
        "CACHALOT_SANDBOX_PUBLIC_URL": sandbox_url,
        # Telegram (operator notifications, channel posting, login widget)
        "CACHALOT_TELEGRAM_API_BASE": f"{sandbox_url}/telegram",
        "CACHALOT_TELEGRAM_BOT_TOKEN": dev_secrets["telegram_bot_token"],
        "CACHALOT_TELEGRAM_BOT_USERNAME": "cachalot_sandbox_bot",
        "CACHALOT_TELEGRAPH_API_BASE": f"{sandbox_url}/telegraph",
        "CACHALOT_OPERATOR_CHAT_ID": "100200300",
        # Who may sign in as an operator: the sandbox's Telegram user "Карина"
        "CACHALOT_OPERATOR_TELEGRAM_IDS": "700000003",
        # Platform hosts: the sandbox stands in for each
        "CACHALOT_TIKTOK_AUTH_BASE": f"{sandbox_url}/tiktok",
        "CACHALOT_TIKTOK_API_BASE": f"{sandbox_url}/tiktok",
        "CACHALOT_GOOGLE_AUTH_BASE": f"{sandbox_url}/google",
        "CACHALOT_GOOGLE_TOKEN_BASE": f"{sandbox_url}/google",
        "CACHALOT_YOUTUBE_API_BASE": f"{sandbox_url}/youtube",
        "CACHALOT_INSTAGRAM_AUTH_BASE": f"{sandbox_url}/instagram",
        "CACHALOT_INSTAGRAM_API_BASE": f"{sandbox_url}/instagram",
        "CACHALOT_VK_AUTH_BASE": f"{sandbox_url}/vk",
        "CACHALOT_VK_API_BASE": f"{sandbox_url}/vk",
        # The sandbox's own app credentials (the fakes accept exactly these)
        "CACHALOT_TIKTOK_CLIENT_KEY": "sandbox-tiktok-client-key",
        "CACHALOT_TIKTOK_CLIENT_SECRET": "sandbox-tiktok-client-secret",
        "CACHALOT_GOOGLE_CLIENT_ID": "sandbox-google-client-id.apps.googleusercontent.com",
        "CACHALOT_GOOGLE_CLIENT_SECRET": "sandbox-google-client-secret",
        "CACHALOT_INSTAGRAM_CLIENT_ID": "sandbox-instagram-app-id",
        "CACHALOT_INSTAGRAM_CLIENT_SECRET": "sandbox-instagram-app-secret",
        "CACHALOT_VK_CLIENT_ID": "sandbox-vk-app-id",
        "CACHALOT_VK_CLIENT_SECRET": "sandbox-vk-app-secret",
    }


def process_environment(
    spec: ServiceSpec,
    *,
    port: int,
    base: dict[str, str],
    user: dict[str, str],
    var_dir: Path,
    dev_secrets: dict[str, str],
) -> dict[str, str]:
    """The full environment of one service process."""
    env = {**os.environ, **base, **user}
    env["CACHALOT_HTTP_HOST"] = "127.0.0.1"
    env["CACHALOT_HTTP_PORT"] = str(port)
    env["PYTHONUNBUFFERED"] = "1"
    if spec.database:
        override = user.get(f"CACHALOT_{spec.name.upper().replace('-', '_')}_DATABASE_URL")
        env["CACHALOT_DATABASE_URL"] = override or f"sqlite+aiosqlite:///{var_dir / spec.name}.db"
    if spec.service_identity:
        env["CACHALOT_SERVICE_NAME"] = spec.name
        env["CACHALOT_SERVICE_SECRET"] = dev_secrets[f"service_secret_{spec.name}"]
    if spec.signs_grants:
        env[GRANT_SIGNING_KEY] = user.get(GRANT_SIGNING_KEY) or dev_secrets["grant_signing_key"]
    else:  # only the queue may mint publish grants
        env.pop(GRANT_SIGNING_KEY, None)
    env.update(spec.extra_env)
    return env
