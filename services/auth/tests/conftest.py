"""Fixtures: the sandbox and auth, each served over real HTTP on its own free port.

Auth runs under uvicorn on a free port inside the test's event loop, so a
test drives it over HTTP like a browser or a publisher would, and can still
look at what the composition root built (the refresh counter, the outbox).
Events go to an in-memory publisher by default (a fake passed through the
composition root); the Kafka test passes the real broker instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from cachalot_auth.main import create_app
from cachalot_auth.settings import AuthSettings
from cachalot_common.crypto import generate_key
from cachalot_common.grants import generate_signing_key, mint_grant
from cachalot_common.leases import Lease, LeaseClient
from cachalot_common.service_auth import PUBLISHER_SERVICES
from cachalot_testing.ports import free_port
from cachalot_testing.processes import ServiceProcess

SERVICE_SECRETS = {
    service: f"{service}-test-secret-0123456789" for service in PUBLISHER_SERVICES.values()
}
GRANT_KEY = generate_signing_key("auth-tests")  # the queue's: signs the publish grants
SESSION_SECRET = "test-session-secret-0123456789abcdef"


@dataclass
class Sandbox:
    base_url: str

    def platform_env(self) -> dict[str, str]:
        b = self.base_url
        return {
            "tiktok_auth_base": f"{b}/tiktok",
            "tiktok_api_base": f"{b}/tiktok",
            "google_auth_base": f"{b}/google",
            "google_token_base": f"{b}/google",
            "youtube_api_base": f"{b}/youtube",
            "instagram_auth_base": f"{b}/instagram",
            "instagram_api_base": f"{b}/instagram",
            "vk_auth_base": f"{b}/vk",
            "vk_api_base": f"{b}/vk",
            "telegram_api_base": f"{b}/telegram",
            "tiktok_client_key": "sandbox-tiktok-client-key",
            "tiktok_client_secret": "sandbox-tiktok-client-secret",
            "google_client_id": "sandbox-google-client-id.apps.googleusercontent.com",
            "google_client_secret": "sandbox-google-client-secret",
            "instagram_client_id": "sandbox-instagram-app-id",
            "instagram_client_secret": "sandbox-instagram-app-secret",
            "vk_client_id": "sandbox-vk-app-id",
            "vk_client_secret": "sandbox-vk-app-secret",
            "telegram_bot_token": "123456789:AAsandboxsandboxsandboxsandboxsandb",
            "telegram_bot_username": "cachalot_sandbox_bot",
        }

    def oauth(self, platform: str, path: str) -> str:
        return f"{self.base_url}/sandbox/oauth/{platform}/{path}"

    async def register_callbacks(self, public_url: str) -> None:
        """Register auth's callbacks at each fake platform, as its developer console would.

        The consent pages refuse any other redirect_uri, as the platforms do.
        """
        async with httpx.AsyncClient() as client:
            for oauth, platform in OAUTH_PLATFORMS:
                callback = f"{public_url}/api/v1/auth/{platform}/callback"
                registered = await client.post(self.oauth(oauth, "redirect-uris"), json=[callback])
                registered.raise_for_status()


# the sandbox's name for each OAuth platform, and auth's
OAUTH_PLATFORMS = (
    ("tiktok", "tiktok"),
    ("google", "youtube"),
    ("instagram", "instagram"),
    ("vk", "vk"),
)


@pytest.fixture(scope="session")
async def sandbox() -> AsyncIterator[Sandbox]:
    """The sandbox app under uvicorn on a free port, for the whole session."""
    from cachalot_sandbox.main import create_app as create_sandbox
    from cachalot_sandbox.settings import SandboxSettings

    port = free_port()
    settings = SandboxSettings(http_port=port, log_format="text")
    server = uvicorn.Server(
        uvicorn.Config(
            create_sandbox(settings),
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
            proxy_headers=False,
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    yield Sandbox(base_url=f"http://127.0.0.1:{port}")
    server.should_exit = True
    await task


@pytest.fixture
async def fresh_sandbox(sandbox: Sandbox) -> Sandbox:
    async with httpx.AsyncClient() as client:
        (await client.post(f"{sandbox.base_url}/sandbox/reset")).raise_for_status()
    return sandbox


@dataclass
class Events:
    published: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    async def publish(self, topic: str, key: str, payload: bytes) -> None:
        self.published.append((topic, key, json.loads(payload)))

    def types(self, account_id: str | None = None) -> list[str]:
        return [p["type"] for _, k, p in self.published if account_id in (None, k)]


@dataclass
class RunningAuth:
    app: FastAPI
    base_url: str
    settings: AuthSettings
    events: Events

    def browser(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, timeout=30)


def auth_settings(sandbox: Sandbox, database_url: str, **overrides: Any) -> AuthSettings:
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": database_url,
        "token_keys": f"v1:{generate_key()}",
        "session_secret": SESSION_SECRET,
        "cookie_secure": False,
        "service_credentials": json.dumps(SERVICE_SECRETS),
        "grant_public_keys": GRANT_KEY.public_setting(),
        "public_url": "http://127.0.0.1:0",  # replaced once the port is known
        "refresh_backoff_s": 0.01,
        "auth_rate_limit": "1000/minute",
        "queue_url": "http://127.0.0.1:1",  # no queue: tests that export use `queue_service`
        **sandbox.platform_env(),
        **overrides,
    }
    return AuthSettings(**values)


@contextlib.asynccontextmanager
async def serve_auth(
    settings: AuthSettings, sandbox: Sandbox, **app_options: Any
) -> AsyncIterator[RunningAuth]:
    """Auth on a free port in this event loop, its callbacks registered at the sandbox."""
    port = free_port()
    settings = settings.model_copy(update={"public_url": f"http://127.0.0.1:{port}"})
    await sandbox.register_callbacks(settings.public_url)
    events = Events()
    options: dict[str, Any] = {"run_background": False, **app_options}
    if "publish" not in options and options.get("use_kafka") is None:
        options["publish"] = events.publish
    options.pop("use_kafka", None)
    app = create_app(settings, **options)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
            proxy_headers=False,  # as cachalot_common.app.serve runs it
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield RunningAuth(
            app=app, base_url=f"http://127.0.0.1:{port}", settings=settings, events=events
        )
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def auth(fresh_sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[RunningAuth]:
    settings = auth_settings(fresh_sandbox, f"sqlite+aiosqlite:///{tmp_path}/auth.db")
    async with serve_auth(settings, fresh_sandbox) as running:
        yield running


OPERATOR_TELEGRAM_ID = "700000002"  # Bob, a sandbox Telegram user


@pytest.fixture
async def auth_ops(fresh_sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[RunningAuth]:
    """Auth with one listed operator (:data:`OPERATOR_TELEGRAM_ID`) and an id nobody has."""
    settings = auth_settings(
        fresh_sandbox,
        f"sqlite+aiosqlite:///{tmp_path}/auth.db",
        operator_telegram_ids=[int(OPERATOR_TELEGRAM_ID), 123],
    )
    async with serve_auth(settings, fresh_sandbox) as running:
        yield running


@pytest.fixture
async def auth_without_oauth_clients(
    fresh_sandbox: Sandbox, tmp_path: Path
) -> AsyncIterator[RunningAuth]:
    """Auth with no OAuth client for any platform (its ``providers`` empty)."""
    settings = auth_settings(fresh_sandbox, f"sqlite+aiosqlite:///{tmp_path}/auth.db")
    async with serve_auth(settings, fresh_sandbox, providers={}) as running:
        yield running


@pytest.fixture
def auth_on(fresh_sandbox: Sandbox) -> Any:
    """``auth_on(database_url, **settings)``: an auth on that database, as a context manager."""

    def start(database_url: str, **overrides: Any) -> Any:
        return serve_auth(auth_settings(fresh_sandbox, database_url, **overrides), fresh_sandbox)

    return start


@pytest.fixture(scope="session")
def queue_service(
    tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str, kafka_idempotence: bool
) -> Iterator[str]:
    """A real queue (SQLite, the session's broker, auth's session secret): the base URL.

    It holds the other half of a client's data export, which auth gathers.
    """
    root = tmp_path_factory.mktemp("queue")
    queue = ServiceProcess(
        "cachalot_queue",
        env={
            "CACHALOT_DATABASE_URL": f"sqlite+aiosqlite:///{root / 'queue.db'}",
            "CACHALOT_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "CACHALOT_KAFKA_IDEMPOTENCE": "true" if kafka_idempotence else "false",
            "CACHALOT_KAFKA_SESSION_TIMEOUT_MS": "3000",
            "CACHALOT_SESSION_SECRET": SESSION_SECRET,
            "CACHALOT_MEDIA_DIR": str(root / "media"),
            "CACHALOT_ENVIRONMENT": "test",
        },
        log_path=root / "queue.log",
    )
    queue.start(timeout=120)
    yield queue.base_url
    queue.stop()


@pytest.fixture
async def auth_with_queue(
    fresh_sandbox: Sandbox, tmp_path: Path, queue_service: str
) -> AsyncIterator[RunningAuth]:
    settings = auth_settings(
        fresh_sandbox, f"sqlite+aiosqlite:///{tmp_path}/auth.db", queue_url=queue_service
    )
    async with serve_auth(settings, fresh_sandbox) as running:
        yield running


@pytest.fixture
async def auth_pg(fresh_sandbox: Sandbox, postgres_database: str) -> AsyncIterator[RunningAuth]:
    settings = auth_settings(fresh_sandbox, postgres_database)
    async with serve_auth(settings, fresh_sandbox) as running:
        yield running


@pytest.fixture
def sign_in():
    """The scripted browser's sign-in (see :func:`browser_sign_in`)."""
    return browser_sign_in


@pytest.fixture
def query_of():
    return location_query


async def browser_sign_in(
    browser: httpx.AsyncClient,
    platform: str,
    *,
    decision: str = "allow",
    user: str | None = None,
    scopes: str | None = None,
    next_path: str | None = None,
    stop_at_callback: bool = False,
) -> httpx.Response:
    """Start at our login endpoint, click through the fake consent, land on the dashboard.

    With ``stop_at_callback`` the callback response is not requested and the
    platform's redirect (to our callback) is returned instead.
    """
    params = {"next": next_path} if next_path else None
    start = await browser.get(f"/api/v1/auth/{platform}/login", params=params)
    assert start.status_code == 302, start.text
    consent_url = start.headers["location"]
    extra = {"sandbox_auto": decision}
    if platform == "telegram":
        extra = {"sandbox_auto": "1", "user": user or "700000001"}
    elif user:
        extra["sandbox_user"] = user
    if scopes is not None:
        extra["sandbox_scopes"] = scopes
    consent = await browser.get(httpx.URL(consent_url).copy_merge_params(extra))
    assert consent.status_code in (302, 303), consent.text
    if stop_at_callback:
        return consent
    return await browser.get(consent.headers["location"])


def location_query(response: httpx.Response) -> dict[str, str]:
    location = response.headers["location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def give_consent(browser: httpx.AsyncClient, email: str = "client@example.com") -> None:
    answer = await browser.post("/api/v1/me/consent", json={"adult": True, "email": email})
    assert answer.status_code == 200, answer.text


@pytest.fixture
def consent():
    return give_consent


def grant_for(
    account: Any,
    *,
    post_id: uuid.UUID | None = None,
    target_id: uuid.UUID | None = None,
    lifetime_s: float = 3600,
    now_s: float | None = None,
    **binding: Any,
) -> str:
    """A publish grant as the queue would sign it for ``account`` (an auth ``Account`` row);
    ``binding`` overrides a claim (``client_id=…``, ``platform=…``, ``account_id=…``)."""
    claims: dict[str, Any] = {
        "post_id": post_id or uuid.uuid4(),
        "target_id": target_id or uuid.uuid4(),
        "client_id": uuid.UUID(account.client_id),
        "account_id": uuid.UUID(account.id),
        "platform": account.platform,
        "attempt": 1,
        **binding,
    }
    return mint_grant(**claims, key=GRANT_KEY, lifetime_s=lifetime_s, now_s=now_s)


async def stored_account(running: RunningAuth, account_id: uuid.UUID | str) -> Any:
    from cachalot_auth.models import Account

    async with running.app.state.factory() as db:
        account = await db.get(Account, str(account_id))
    assert account is not None, f"no account {account_id}"
    return account


class QueuedLeases:
    """A publisher leasing for posts the queue dispatched: the platform's own publisher's
    real :class:`LeaseClient`, with a grant the test signs as the queue would."""

    def __init__(self, running: RunningAuth, http: httpx.AsyncClient) -> None:
        self._running = running
        self._http = http

    def client(self, service: str) -> LeaseClient:
        return LeaseClient(
            base_url=self._running.base_url,
            service=service,
            secret=SERVICE_SECRETS[service],
            client=self._http,
        )

    async def lease(
        self,
        account_id: uuid.UUID,
        *,
        post_id: uuid.UUID,
        target_id: uuid.UUID | None = None,
        grant: str | None = None,
        force_refresh: bool = False,
    ) -> Lease:
        service = "publisher-tiktok"
        if grant is None:
            target_id = target_id or uuid.uuid4()
            try:
                account = await stored_account(self._running, account_id)
            except AssertionError:  # an unknown account: let auth say so
                pass
            else:
                service = PUBLISHER_SERVICES[account.platform]
                grant = grant_for(account, post_id=post_id, target_id=target_id)
        return await self.client(service).lease(
            account_id,
            post_id=post_id,
            target_id=target_id,
            grant=grant,
            force_refresh=force_refresh,
        )


@pytest.fixture
def service_credentials() -> str:
    """``CACHALOT_SERVICE_CREDENTIALS`` for an auth process: every publisher."""
    return json.dumps(SERVICE_SECRETS)


@pytest.fixture
def service_secrets() -> dict[str, str]:
    """Each publisher's service secret, as auth's ``CACHALOT_SERVICE_CREDENTIALS`` holds it."""
    return dict(SERVICE_SECRETS)


@pytest.fixture
def grant_public_keys() -> str:
    """``CACHALOT_GRANT_PUBLIC_KEYS`` for an auth process: the public half of the test grant key."""
    return GRANT_KEY.public_setting()


@pytest.fixture
def grant():
    """``grant(account_row, **claims)``: a publish grant signed as the queue signs them."""
    return grant_for


@pytest.fixture
def account_row():
    """``await account_row(running, account_id)``: auth's stored account (client, platform)."""
    return stored_account


@pytest.fixture
def lease_client():
    """Leases as the account's platform's publisher would, with the queue's grant."""

    def build(running: RunningAuth, http: httpx.AsyncClient) -> QueuedLeases:
        return QueuedLeases(running, http)

    return build


async def expire_access_token(running: RunningAuth, account_id: str) -> None:
    """Make the held access token look expired (as time passing would)."""
    from sqlalchemy import update

    from cachalot_auth.models import Token

    async with running.app.state.factory() as db, db.begin():
        await db.execute(
            update(Token)
            .where(Token.account_id == account_id, Token.kind == "access")
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )


@pytest.fixture
def expire():
    return expire_access_token


async def sandbox_stats(sandbox: Sandbox, platform: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        answer = await client.get(sandbox.oauth(platform, "stats"))
        answer.raise_for_status()
        return dict(answer.json())


async def push_faults(sandbox: Sandbox, platform: str, faults: list[dict[str, Any]]) -> None:
    async with httpx.AsyncClient() as client:
        (await client.post(sandbox.oauth(platform, "faults"), json=faults)).raise_for_status()


@pytest.fixture
def platform_stats():
    return sandbox_stats


@pytest.fixture
def faults():
    return push_faults


@pytest.fixture
def start_auth(fresh_sandbox: Sandbox):
    """Start (another) auth replica: ``async with start_auth(url, **settings) as running``."""

    def start(
        database_url: str, **overrides: Any
    ) -> contextlib.AbstractAsyncContextManager[RunningAuth]:
        app_options = overrides.pop("app_options", {})
        return serve_auth(
            auth_settings(fresh_sandbox, database_url, **overrides), fresh_sandbox, **app_options
        )

    return start
