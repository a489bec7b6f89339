"""A real Chromium (Debian's) driven by Playwright, shared by the browser tests, and the
one way they sign a client in: :func:`sign_in` (built on :func:`connect`,
:func:`give_consent` and :func:`disconnect_all`), and an operator:
:func:`operator_signs_in` (``sign_in.operator``)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from cachalot_common import platforms
from cachalot_testing.operators import DEV_OPERATOR
from cachalot_testing.stack import EmbeddedStack

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which("chromium"):
        pytest.fail("Debian's chromium is required for browser tests: apt-get install chromium")
    with playwright_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield instance
        instance.close()


# Moderate rules the pages once broke (fresh12c): held like serious ones from then on.
KEPT_MODERATE_RULES = frozenset({"page-has-heading-one", "empty-table-header"})


def _serious_violations(page: Any) -> list[Any]:
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page).response["violations"]
    return [
        (v["id"], [n["target"] for n in v["nodes"]][:3])
        for v in found
        if v["impact"] in ("serious", "critical") or v["id"] in KEPT_MODERATE_RULES
    ]


@pytest.fixture(scope="session")
def serious_violations() -> Callable[[Any], list[Any]]:
    """axe's serious and critical violations on a page as it is now, and those of
    :data:`KEPT_MODERATE_RULES`: (rule, first targets)."""
    return _serious_violations


def connect(page: Any, stack: EmbeddedStack, platform: str, user: str | None = None) -> None:
    """Sign in with (or connect one more account of) ``platform`` in ``page``'s browser as
    sandbox person ``user`` (None: the platform's first), then the dashboard is loaded
    again. How a person signs in is the registry's (``PlatformSpec.sign_in``): an OAuth
    platform's consent is given by the test (``sandbox_auto=allow``); on Telegram's Login
    Widget the person's button is clicked (``user``: a Telegram user id)."""
    start = page.context.request.get(
        f"{stack.gateway}/api/v1/auth/{platform}/login?next=/", max_redirects=0
    )
    assert start.status == 302, start.text()
    if platforms.get(platform).sign_in == "widget":
        page.goto(start.headers["location"])
        person = f'form button[name=user][value="{user}"]' if user else "form button[name=user]"
        page.click(f"{person} >> nth=0")
    else:
        params = {"sandbox_auto": "allow"} | ({"sandbox_user": user} if user else {})
        page.goto(str(httpx.URL(start.headers["location"]).copy_merge_params(params)))
    page.wait_for_url(f"{stack.gateway}/**", timeout=15_000)


def telegram_channel(stack: EmbeddedStack, channel_id: int, username: str, title: str) -> None:
    """A channel in the sandbox's Telegram, made by the widget's first person (700000001),
    where our bot is an administrator allowed to post."""
    channel = {
        "id": channel_id,
        "username": username,
        "title": title,
        "admins": [{"user_id": 700000001, "status": "creator"}],
        "bot_status": "administrator",
        "bot_can_post_messages": True,
    }
    httpx.post(
        f"{stack.sandbox}/sandbox/telegram/channels", json=channel, timeout=5
    ).raise_for_status()


def link_channel(page: Any, username: str) -> str:
    """Link @``username`` to the page's Telegram account (Connected accounts), as a person
    does; returns the account row's selector once its status reads ``ok``."""
    row = '#accounts-body tr[data-platform="telegram"]'
    page.fill(f"{row} input[name=channel_id]", f"@{username}")
    page.click(f"{row} button:has-text('Link a channel')")
    page.wait_for_function(
        f"document.querySelector('{row} .status').textContent === 'ok'", timeout=15_000
    )
    return row


def give_consent(page: Any, email: str) -> None:
    """The dashboard's consent form (an address, 18 or over) when it asks; then the composer."""
    page.wait_for_selector("#consent:not(.hidden), #posts:not(.hidden)", timeout=15_000)
    if page.is_visible("#consent"):
        page.fill("#email", email)
        page.check("#adult")
        page.click("#consent-form button[type=submit]")
    page.wait_for_selector("#compose:not(.hidden)", timeout=15_000)


@contextmanager
def holding(
    page: Any, pattern: str, take: Callable[[Any], bool] = lambda request: True
) -> Iterator[list[tuple[Any, Any]]]:
    """Within the block, the first request to ``pattern`` that ``take(request)`` accepts is
    answered by the server at once (the answer as it is then) and held from the page, which
    gets it only from :func:`deliver_held`; every other request goes through. Yields the
    held ``(route, answer)`` pairs (none or one); :func:`until_held` waits for it."""
    held: list[tuple[Any, Any]] = []

    def hold(route: Any) -> None:
        if not held and take(route.request):
            held.append((route, route.fetch()))
        else:
            route.continue_()

    page.route(pattern, hold)
    try:
        yield held
    finally:
        page.unroute(pattern, hold)


def until_held(page: Any, held: list[tuple[Any, Any]], what: str) -> None:
    """Wait (15 s at most) until :func:`holding` holds an answer; fails saying the page did
    not ``what``."""
    for _ in range(300):
        if held:
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"the page did not {what}")


def deliver_held(page: Any, held: list[tuple[Any, Any]], event: str, detail: str = "") -> None:
    """Hand the page the first held answer (a Playwright route and its fetched response) and
    return once the page's ``event`` (with ``detail``, when given) says it took it: a marker,
    never a wait guessed in seconds."""
    page.evaluate(
        "([name, detail]) => { window.__taken = 0; document.addEventListener(name, "
        "(e) => { if (!detail || e.detail === detail) window.__taken += 1; }); }",
        [event, detail],
    )
    route, answer = held[0]
    route.fulfill(response=answer)
    page.wait_for_function("window.__taken > 0", timeout=15_000)


def queue_composed(page: Any, queued: str = "Queued.") -> None:
    """Press "Queue" until the queue takes the composed post (the flash says ``queued``, the
    page's words for "Queued."): it may not have learned a just-connected account from
    accounts.v1 yet. Any other flash, even a good one ("Thank you." for the consent), is
    not the answer: the flash stays until the next one. Fails with what the page says."""
    for _ in range(30):
        page.click("#queue-button")
        # the check, the upload and the post: 30 s for a loaded two-core machine
        page.wait_for_selector("#queue-button:enabled", timeout=30_000)
        if page.is_visible("#flash.ok") and page.text_content("#flash") == queued:
            return
        page.wait_for_timeout(300)
    errors = page.text_content("#post-errors") or page.text_content("#targets")
    assert page.text_content("#flash") == queued, errors


def disconnect_all(page: Any) -> None:
    """Disconnect every account of the page's client (frees the sandbox's people)."""
    page.evaluate(
        """async () => {
          const list = await (await fetch('/api/v1/accounts')).json();
          for (const a of (Array.isArray(list) ? list : list.items || [])) {
            await fetch('/api/v1/accounts/' + a.id, { method: 'DELETE' });
          }
        }"""
    )


OPERATOR_READY = "#live-state[data-state=on]"
"""The operator page has read its lists and its live feed is on (web/operator.js)."""


def operator_signs_in(
    page: Any, stack: EmbeddedStack, user: str = DEV_OPERATOR, until: str | None = OPERATOR_READY
) -> Any:
    """``page`` opens the operator page and signs in through the sandbox's Telegram login
    as ``user`` (the dev operator by default), then waits for ``until`` (a selector; by
    default :data:`OPERATOR_READY`; None: no wait, e.g. for a refused sign-in)."""
    page.goto(f"{stack.gateway}/operator.html")
    page.click("#signin-telegram")
    page.wait_for_selector("button[name=user]", timeout=15_000)
    page.click(f"button[name=user][value='{user}']")
    if until is not None:
        page.wait_for_selector(until, timeout=45_000)
    return page


class SignIn:
    """Opens dashboards signed in as clients (the :func:`sign_in` fixture)."""

    def __init__(self, stack: EmbeddedStack, browser: Any) -> None:
        self.stack = stack
        self.browser = browser

    def connect(self, page: Any, platform: str, user: str | None = None) -> None:
        """One more account for the page's client (:func:`connect`)."""
        connect(page, self.stack, platform, user)

    def operator(
        self, page: Any, user: str = DEV_OPERATOR, until: str | None = OPERATOR_READY
    ) -> Any:
        """``page`` signed in on the operator page (:func:`operator_signs_in`)."""
        return operator_signs_in(page, self.stack, user, until)

    disconnect_all = staticmethod(disconnect_all)
    link_channel = staticmethod(link_channel)
    queue_composed = staticmethod(queue_composed)
    deliver_held = staticmethod(deliver_held)
    holding = staticmethod(holding)
    until_held = staticmethod(until_held)

    def telegram_channel(self, channel_id: int, username: str, title: str) -> None:
        """A sandbox channel the Telegram person may link (:func:`telegram_channel`)."""
        telegram_channel(self.stack, channel_id, username, title)

    @contextmanager
    def page(
        self,
        console: list[str] | None = None,
        on_dialog: Callable[[Any], None] | None = None,
        **context_options: Any,
    ) -> Iterator[Any]:
        """A page in a new browser context (``context_options``: Playwright's
        ``new_context``), signed in as no one, that accepts dialogs (or hands them to
        ``on_dialog``) and appends console errors and uncaught exceptions to ``console``;
        the context is closed on leaving."""
        context = self.browser.new_context(**context_options)
        page = context.new_page()
        page.on("dialog", on_dialog or (lambda dialog: dialog.accept()))
        if console is not None:
            page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda error: console.append(str(error)))
        try:
            yield page
        finally:
            context.close()

    @contextmanager
    def __call__(
        self,
        first: tuple[str, str | None],
        *more: tuple[str, str | None],
        email: str,
        console: list[str] | None = None,
        setup: Callable[[Any], None] | None = None,
        on_dialog: Callable[[Any], None] | None = None,
        before_consent: Callable[[Any], None] | None = None,
        **context_options: Any,
    ) -> Iterator[Any]:
        """A :meth:`page` (``console``, ``on_dialog``, ``context_options`` as there);
        ``setup(page)`` runs before anything is loaded (init scripts, routes); the
        ``first`` (platform, sandbox person) signs in, consent is given with a unique
        address made from ``email`` if the client has not given it
        (``before_consent(page)`` runs first), the ``more`` are connected to the same
        client. On leaving, every account is disconnected (freeing the sandbox's people for
        other modules) and the context closed."""
        with self.page(console, on_dialog, **context_options) as page:
            if setup is not None:
                setup(page)
            try:
                yield self._signed_in(page, first, more, email, before_consent)
            finally:
                disconnect_all(page)

    def _signed_in(
        self,
        page: Any,
        first: tuple[str, str | None],
        more: tuple[tuple[str, str | None], ...],
        email: str,
        before_consent: Callable[[Any], None] | None,
    ) -> Any:
        """``page`` once its client is signed in, has consented and has every account."""
        connect(page, self.stack, *first)
        if before_consent is not None:
            page.wait_for_selector("#consent:not(.hidden), #posts:not(.hidden)")
            before_consent(page)
        give_consent(page, f"{email}-{uuid.uuid4().hex[:6]}@example.com")
        for platform, user in more:
            connect(page, self.stack, platform, user)
        return page


@pytest.fixture(scope="module")
def sign_in(stack: EmbeddedStack, browser: Any) -> SignIn:
    """The one way the browser tests sign a client in::

    with sign_in(("tiktok", USER), ("youtube", None), email="me", console=ERRORS,
                 locale="ru-RU") as page:
        ...
    """
    return SignIn(stack, browser)
