"""Composition root: settings → engine, key ring, HTTP client, broker, services, app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from opentelemetry.sdk.trace import TracerProvider

from cachalot_auth.api import internal, operator, public
from cachalot_auth.api.deps import Services
from cachalot_auth.attempts import AttemptLedger
from cachalot_auth.browser_binding import AttemptSigner
from cachalot_auth.clients import ClientService
from cachalot_auth.creator_info import CreatorInfo, ReadsCreatorInfo
from cachalot_auth.custody import TokenVault
from cachalot_auth.leasing import TokenKeeper
from cachalot_auth.models import OutboxMessage
from cachalot_auth.notices import ClientNotices
from cachalot_auth.operators import OperatorService
from cachalot_auth.posts_archive import PostsArchive
from cachalot_auth.providers import build_providers
from cachalot_auth.providers.base import HttpCaller, Provider
from cachalot_auth.providers.telegram import BotApi
from cachalot_auth.ratelimit import IpRateLimit
from cachalot_auth.refresher import run_refresher
from cachalot_auth.service_tokens import SpentTokens
from cachalot_auth.settings import AuthSettings
from cachalot_auth.signin import SignInService
from cachalot_common.app import create_service_app, serve
from cachalot_common.asyncapi import Produced
from cachalot_common.broker_acks import ack_check
from cachalot_common.consuming import BrokerWatch
from cachalot_common.db import (
    create_engine,
    database_check,
    run_migrations_async,
    session_factory,
)
from cachalot_common.events import AccountChanged, ClientNoticeRequested, SessionEnded
from cachalot_common.guards import SignedIn, service_check, session_check
from cachalot_common.health import declared_dependencies
from cachalot_common.kafka import build_broker, consumer_options
from cachalot_common.logging import setup_logging
from cachalot_common.outbox import OutboxRelay, Publish, kafka_publish
from cachalot_common.redaction import register_secret
from cachalot_common.settings import load_settings
from cachalot_common.telemetry import (
    instrument_engine,
    instrument_httpx_client,
    setup_tracing,
)
from cachalot_common.topics import ACCOUNTS, NOTIFY, SESSIONS

logger = logging.getLogger(__name__)

ALEMBIC_DIR = Path(__file__).parent / "alembic"


def create_app(
    settings: AuthSettings,
    *,
    http_client: httpx.AsyncClient | None = None,
    publish: Publish | None = None,
    providers: dict[str, Provider] | None = None,
    tracer_provider: TracerProvider | None = None,
    run_background: bool = True,
    broker: KafkaBroker | None = None,
) -> FastAPI:
    """The auth app; tests pass their own HTTP client, publisher, providers or broker.

    With a ``broker`` (given, or built when no ``publish`` is given) auth
    follows ``posts.status.v1`` on it (:mod:`cachalot_auth.attempts`) and, unless
    ``publish`` is given, publishes its events there.
    """
    engine = create_engine(settings.database_url)
    instrument_engine(engine, tracer_provider)
    factory = session_factory(engine)
    vault = TokenVault(settings.key_ring())
    http = http_client or httpx.AsyncClient(timeout=settings.http_timeout_s)
    if tracer_provider is not None and http_client is None:
        instrument_httpx_client(http, tracer_provider)
    caller = HttpCaller(
        http, attempts=settings.refresh_attempts, backoff_s=settings.refresh_backoff_s
    )
    platforms = providers if providers is not None else build_providers(settings, caller)
    if broker is None and publish is None:
        broker = build_broker(settings, client_id="auth", tracer_provider=tracer_provider)
    checked = publish is None  # a publisher given in code gives no offsets to read back
    if publish is None:
        assert broker is not None
        publish = kafka_publish(broker)
    attempts = AttemptLedger(
        factory,
        grant_lifetime_s=settings.grant_lifetime_s,
    )
    watch: BrokerWatch | None = None
    if broker is not None:
        attempts.subscribe(broker, **consumer_options(settings))
        watch = BrokerWatch(broker, settings)
    relay = OutboxRelay.for_table(
        factory,
        OutboxMessage,
        publish,
        idle_s=settings.outbox_poll_interval_s,
        check=ack_check(settings, broker=broker) if checked else None,
    )
    bot_token = settings.telegram_bot_token.get_secret_value()
    bot = (
        BotApi(caller, api_base=settings.telegram_api_base, bot_token=bot_token)
        if bot_token
        else None
    )
    keeper = TokenKeeper(
        factory=factory,
        vault=vault,
        providers=platforms,
        refresh_margin_s=settings.refresh_margin_s,
        on_commit=relay.nudge,
        grant_keys=settings.grant_keys(),
        attempts=attempts,
    )

    async def owner_token(account_id: str, client_id: str) -> str:
        return (await keeper.for_owner(account_id, client_id)).access_token

    signin = SignInService(
        factory=factory,
        vault=vault,
        providers=platforms,
        signer=AttemptSigner(
            settings.session_secret.get_secret_value(), max_age_s=settings.oauth_state_ttl_s
        ),
        session_secret=settings.session_secret.get_secret_value(),
        session_lifetime_s=settings.session_lifetime_s,
        callback_url=settings.callback_url,
        telegram_bot_token=bot_token,
        telegram_max_age_s=settings.telegram_auth_max_age_s,
        on_commit=relay.nudge,
    )
    services = Services(
        settings=settings,
        signin=signin,
        clients=ClientService(
            factory=factory,
            vault=vault,
            providers=platforms,
            bot=bot,
            on_commit=relay.nudge,
            owner_token=owner_token,
        ),
        keeper=keeper,
        rate_limit=IpRateLimit(settings.auth_rate_limit, trusted_proxies=settings.trusted_proxies),
        service_secrets=settings.service_secrets(),
        posts_archive=PostsArchive(http, settings.queue_url),
        spent_tokens=SpentTokens(factory),
        operators=OperatorService(
            factory=factory,
            signin=signin,
            allowed_ids=frozenset(str(i) for i in settings.operator_telegram_ids),
            session_secret=settings.session_secret.get_secret_value(),
            session_lifetime_s=settings.session_lifetime_s,
            telegram_bot_token=bot_token,
            telegram_max_age_s=settings.telegram_auth_max_age_s,
            on_commit=relay.nudge,
        ),
        creator_info=CreatorInfo(
            keeper=keeper, tiktok=tiktok, factory=factory, on_commit=relay.nudge
        )
        if isinstance(tiktok := platforms.get("tiktok"), ReadsCreatorInfo)
        else None,
        notices=ClientNotices(factory=factory, on_commit=relay.nudge),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.auto_migrate:
            await run_migrations_async(ALEMBIC_DIR, settings.database_url)
        tasks: list[asyncio.Task[None]] = []
        if watch is not None:
            tasks.append(asyncio.create_task(_connect(watch), name="broker-connect"))
        tasks.append(asyncio.create_task(relay.run(), name="outbox-relay"))
        if run_background:
            tasks.append(
                asyncio.create_task(
                    run_refresher(
                        factory,
                        keeper,
                        before_s=settings.long_lived_refresh_before_s,
                        interval_s=settings.background_refresh_interval_s,
                    ),
                    name="refresher",
                )
            )
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await relay.drain()
            if relay.check is not None:
                await relay.check.close()
            if watch is not None:
                await watch.stop()
            if http_client is None:
                await http.aclose()
            await engine.dispose()

    readiness = {"database": database_check(engine)}
    if watch is not None:
        readiness.update(watch.readiness())
    app = create_service_app(
        title="cachalot-auth",
        settings=settings,
        lifespan=lifespan,
        readiness=readiness,
        # what it commits waits in its outbox while the broker is away (or while the
        # relay's acknowledgements are not confirmed: issue 11)
        dependencies=declared_dependencies(outbox=lambda: relay),
        tracer_provider=tracer_provider,
        # Checked before a body byte is read; sign-in and logout need no session.
        signed_in=[
            SignedIn(
                ("/api/v1/me", "/api/v1/accounts", "/api/v1/operator"),
                session_check(settings.session_secret.get_secret_value()),
            ),
            SignedIn(("/internal",), service_check(services.service_secrets), proof="service JWT"),
        ],
        description="Sign-in with the platforms, encrypted token custody, token leases.",
        produces=[
            Produced(ACCOUNTS, AccountChanged, "An account connected, refreshed or lost (outbox)."),
            Produced(SESSIONS, SessionEnded, "A client's sessions ended: revoke them (outbox)."),
            Produced(
                NOTIFY,
                ClientNoticeRequested,
                "E-mail a client a notice, e.g. a new privacy-policy version (outbox).",
            ),
        ],
    )
    app.state.services = services
    app.state.broker = broker
    app.state.relay = relay
    app.state.keeper = keeper
    app.state.attempts = attempts
    app.state.factory = factory
    app.state.vault = vault
    app.include_router(operator.create_router(services))  # before /auth/{platform}/…
    app.include_router(public.create_router(services))
    app.include_router(internal.create_router())
    return app


async def _connect(watch: BrokerWatch) -> None:
    """Start the broker and its watch, retrying: auth keeps serving leases while Kafka is away."""
    delay = 0.5
    while True:
        try:
            await watch.start()
            return
        except asyncio.CancelledError:
            raise
        except Exception as error:
            logger.warning("broker not reachable (%s); retrying", type(error).__name__)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


def register_secrets(settings: AuthSettings) -> None:
    """Every configured secret is masked wherever it might show up in text."""
    for secret in (
        settings.session_secret,
        settings.tiktok_client_secret,
        settings.google_client_secret,
        settings.instagram_client_secret,
        settings.vk_client_secret,
        settings.telegram_bot_token,
    ):
        register_secret(secret.get_secret_value())
    for value in settings.service_secrets().values():
        register_secret(value)
    for item in settings.token_keys.get_secret_value().split(","):
        register_secret(item.partition(":")[2].strip())


def main() -> None:
    settings = load_settings(AuthSettings, "cachalot-auth")
    setup_logging("auth", level=settings.log_level, fmt=settings.log_format)
    register_secrets(settings)
    tracer = setup_tracing("auth", otlp_endpoint=settings.otlp_endpoint)
    app = create_app(settings, tracer_provider=tracer)
    serve(app, settings)
