"""Composition root of the notifier: settings → engine, broker, Telegram client → app.

``create_app`` is the one place adapters are chosen; tests pass their own
broker (``TestKafkaBroker``), HTTP client or tracer provider through it.
``python -m cachalot_notifier`` serves the app; ``... migrate`` only
upgrades the database.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from opentelemetry.sdk.trace import TracerProvider

from cachalot_common.app import create_service_app, serve
from cachalot_common.chat_waits import SqlChatWaits
from cachalot_common.consuming import BrokerWatch, subscribe
from cachalot_common.db import (
    create_engine,
    database_check,
    run_migrations,
    run_migrations_async,
    session_factory,
)
from cachalot_common.events import SessionEnded
from cachalot_common.guards import SignedIn, session_check
from cachalot_common.health import declared_dependencies
from cachalot_common.kafka import build_broker, consumer_options
from cachalot_common.logging import setup_logging
from cachalot_common.redaction import register_secret
from cachalot_common.sessions import MemoryRevocations, SessionVerifier, install_session_verifier
from cachalot_common.settings import load_settings
from cachalot_common.telegram_api import ChatWaits
from cachalot_common.telemetry import (
    instrument_engine,
    instrument_httpx_client,
    setup_tracing,
)
from cachalot_common.topics import SESSIONS
from cachalot_notifier import operator_api, unsubscribe
from cachalot_notifier.contacts import AuthContactBook, ContactBook
from cachalot_notifier.deliveries import DeliveryStore
from cachalot_notifier.erasure import Erasure
from cachalot_notifier.handlers import dlq_parker, register_handlers
from cachalot_notifier.mail_store import EmailStore
from cachalot_notifier.mailer import Mailer, MailPolicy, MailTransport, SmtpServer, SmtpTransport
from cachalot_notifier.models import chat_waits
from cachalot_notifier.sender import Clock, Sender, SendPolicy
from cachalot_notifier.service import ClientMail, OperatorChannel, OperatorNotifier
from cachalot_notifier.settings import NotifierSettings
from cachalot_notifier.telegram import TelegramBot

logger = logging.getLogger(__name__)

SERVICE = "notifier"
ALEMBIC_DIR = Path(__file__).parent / "alembic"


STOP_TIMEOUT_S = 10.0
"""How long the lifespan waits for its background tasks to end once cancelled."""


async def stop_tasks(tasks: list[asyncio.Task[None]], *, timeout_s: float) -> list[str]:
    """Cancel ``tasks`` and wait at most ``timeout_s`` seconds for them to end.

    A task still running then (it swallowed its cancellation, or waits on
    something that ignores it) is logged by name and left behind, so the
    rest of the shutdown (the broker's consumers, the database) still runs.
    Returns the names of the tasks left behind.
    """
    for task in tasks:
        task.cancel()
    if not tasks:
        return []
    _, pending = await asyncio.wait(tasks, timeout=timeout_s)
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            logger.error("%s ended with an error", task.get_name(), exc_info=task.exception())
    left = sorted(task.get_name() for task in pending)
    if left:
        logger.error("%s did not stop within %.0fs of shutdown; left behind", left, timeout_s)
    return left


async def close_within(name: str, closing: Awaitable[None], timeout_s: float) -> bool:
    """Await ``closing`` at most ``timeout_s`` seconds; False (and an error log) if it did not
    finish, so one stuck resource never holds the rest of a shutdown."""
    try:
        async with asyncio.timeout(timeout_s):
            await closing
    except TimeoutError:
        logger.error("%s did not close within %.0fs of shutdown; left behind", name, timeout_s)
        return False
    return True


def create_app(
    settings: NotifierSettings,
    *,
    broker: KafkaBroker | None = None,
    http_client: httpx.AsyncClient | None = None,
    tracer_provider: TracerProvider | None = None,
    clock: Clock | None = None,
    sender_poll_s: float = 1.0,
    contacts: ContactBook | None = None,
    mail_transport: MailTransport | None = None,
) -> FastAPI:
    """The notifier app; its lifespan migrates, starts the broker and the senders, closes all.

    ``clock`` (epoch seconds) and ``sender_poll_s`` let tests drive the sender's time;
    ``contacts`` replaces the lookup at auth (a client's address for a mail, its name for the
    operator's messages), ``mail_transport`` the SMTP client.
    """
    register_secret(settings.telegram_bot_token.get_secret_value())
    for secret in (settings.smtp_password, settings.service_secret, settings.session_secret):
        if secret is not None:
            register_secret(secret.get_secret_value())
    provider = tracer_provider or TracerProvider()
    broker = broker or build_broker(settings, client_id=SERVICE, tracer_provider=provider)
    engine = create_engine(settings.database_url)
    instrument_engine(engine, tracer_provider)
    http = http_client or httpx.AsyncClient(timeout=settings.telegram_timeout_s)
    instrument_httpx_client(http, provider)
    clock_now: Clock = clock or time.time
    bot = TelegramBot(
        http,
        api_base=settings.telegram_api_base,
        token=settings.telegram_bot_token,
        # a 429 holds the chat, whichever lane and whichever replica met it (the
        # sender's clock and scale; the wait is kept in the database the replicas share)
        waits=ChatWaits(
            clock=clock_now,
            scale=settings.telegram_retry_after_scale,
            shared=SqlChatWaits(session_factory(engine), chat_waits),
        ),
    )
    store = DeliveryStore(session_factory(engine))
    sender = Sender(
        bot=bot,
        store=store,
        park=dlq_parker(broker),
        clock=clock_now,
        tracer=provider.get_tracer("cachalot_notifier.sender"),
        policy=SendPolicy(
            backoff_initial_s=settings.telegram_backoff_initial_s,
            backoff_max_s=settings.telegram_backoff_max_s,
            misconfigured_pause_s=settings.telegram_misconfigured_pause_s,
            lease_s=3 * settings.telegram_timeout_s + 5,
            poll_s=sender_poll_s,
            retry_after_scale=settings.telegram_retry_after_scale,
            operator_chat_setting=(settings.operator_chat_id, "CACHALOT_OPERATOR_CHAT_ID"),
        ),
    )
    notifier = OperatorNotifier(
        store=store,
        channel=OperatorChannel(
            chat_id=settings.operator_chat_id, parse_mode=settings.telegram_parse_mode
        ),
        wake=sender.wake,
        clock=clock_now,
    )
    sessions = session_factory(engine)
    # auth's answer about a client: its address for a mail, its name for the operator
    if contacts is None and settings.service_secret is not None:
        contacts = AuthContactBook(
            http,
            auth_url=settings.auth_url,
            service=settings.service_name,
            secret=settings.service_secret,
        )
    mailer: Mailer | None = None
    mail: ClientMail | None = None
    opt_outs = unsubscribe.OptOuts(sessions)
    links: unsubscribe.UnsubscribeLinks | None = None
    if settings.email_enabled:
        # the settings' validator made these required with a host
        assert settings.smtp_host is not None
        assert settings.smtp_from is not None
        assert settings.session_secret is not None
        assert contacts is not None  # the settings' validator requires the service secret
        public_url = settings.public_url or "http://127.0.0.1:8000"
        links = unsubscribe.UnsubscribeLinks(secret=settings.session_secret, public_url=public_url)
        email_store = EmailStore(sessions)
        mailer = Mailer(
            store=email_store,
            contacts=contacts,
            transport=mail_transport
            or SmtpTransport(
                SmtpServer(
                    host=settings.smtp_host,
                    port=settings.smtp_port,
                    starttls=settings.smtp_starttls,
                    username=settings.smtp_username,
                    password=settings.smtp_password,
                    timeout_s=settings.smtp_timeout_s,
                )
            ),
            links=links,
            opt_outs=opt_outs,
            policy=MailPolicy(
                sender=settings.smtp_from,
                dashboard_url=f"{public_url.rstrip('/')}/",
                backoff_initial_s=settings.smtp_backoff_initial_s,
                backoff_max_s=settings.smtp_backoff_max_s,
                lease_s=3 * settings.smtp_timeout_s + 5,
                poll_s=sender_poll_s,
            ),
            clock=clock_now,
        )
        mail = ClientMail(store=email_store, wake=mailer.wake, clock=clock_now)
    register_handlers(
        broker,
        notifier,
        mail=mail,
        names=contacts,
        erase=Erasure(sessions).erase,
        group_id=settings.consumer_group,
        trace_url_template=settings.trace_url_template,
        **consumer_options(settings),
    )
    verifier: SessionVerifier | None = None
    signed_in: list[SignedIn] = []
    if settings.email_enabled:
        # operators read how the policy e-mails went (operator_api): the session is
        # checked here, with the ends auth announces (every replica reads them whole)
        assert settings.session_secret is not None
        session_key = settings.session_secret.get_secret_value()
        ends = operator_api.SessionEnds(MemoryRevocations())
        subscribe(
            broker,
            SESSIONS,
            SessionEnded,
            ends.on_session,
            group_id=None,
            bootstrap=settings.kafka_bootstrap,
            **consumer_options(settings),
        )
        verifier = SessionVerifier(secret=session_key, revocations=ends.memory)
        signed_in.append(SignedIn(("/api/v1/operator",), session_check(session_key)))
    watch = BrokerWatch(broker, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.auto_migrate:
            await run_migrations_async(ALEMBIC_DIR, settings.database_url)
        moved = await store.current_chat(settings.operator_chat_id)
        if moved != settings.operator_chat_id:
            logger.warning(
                "telegram moved the operator chat %s to %s (migrate_to_chat_id); messages go "
                "there; set CACHALOT_OPERATOR_CHAT_ID=%s",
                settings.operator_chat_id,
                moved,
                moved,
            )
        await watch.start()  # starts the broker's subscribers and watches the broker
        tasks = [asyncio.create_task(sender.run(), name="notifier sender")]
        if mailer is not None:
            tasks.append(asyncio.create_task(mailer.run(), name="notifier mailer"))
        try:
            yield
        finally:
            await stop_tasks(tasks, timeout_s=STOP_TIMEOUT_S)
            await close_within("the broker's consumers", watch.stop(), STOP_TIMEOUT_S)
            await close_within("the HTTP client", http.aclose(), STOP_TIMEOUT_S)
            await close_within("the database pool", engine.dispose(), STOP_TIMEOUT_S)

    app = create_service_app(
        title="cachalot-notifier",
        settings=settings,
        lifespan=lifespan,
        readiness={**watch.readiness(), "database": database_check(engine)},
        # client e-mails wait (and are tried again) while auth cannot give an address
        dependencies=declared_dependencies(
            services={"auth": settings.auth_url}
            if mailer is not None and isinstance(contacts, AuthContactBook)
            else None
        ),
        tracer_provider=provider,
        signed_in=signed_in,
        description="Telegram messages to the operator for leads, failed posts and "
        "accounts that need re-authorisation; e-mail to clients about their failed posts, "
        "accounts to reconnect and privacy-policy versions, with a one-click unsubscribe.",
    )
    if links is not None:
        app.include_router(unsubscribe.create_router(links, opt_outs))
    if verifier is not None:
        install_session_verifier(app, verifier)
        app.include_router(operator_api.create_router(sessions))
    app.state.broker = broker
    app.state.notifier = notifier
    app.state.sender = sender
    app.state.deliveries = store
    app.state.mailer = mailer
    return app


def main() -> None:
    settings = load_settings(NotifierSettings, "cachalot-notifier")
    register_secret(settings.telegram_bot_token.get_secret_value())
    setup_logging(SERVICE, level=settings.log_level, fmt=settings.log_format)
    if sys.argv[1:] == ["migrate"]:
        run_migrations(ALEMBIC_DIR, settings.database_url)
        return
    provider = setup_tracing(SERVICE, otlp_endpoint=settings.otlp_endpoint)
    serve(create_app(settings, tracer_provider=provider), settings)


if __name__ == "__main__":
    main()
