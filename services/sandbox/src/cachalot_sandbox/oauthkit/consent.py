"""The authorize endpoint every fake shares: validate, show consent, redirect.

``GET <authorize>`` renders a real page a person can click (user picker, a
checkbox per scope, Allow / Deny); the page posts back to the same path.
Tests skip the click with ``sandbox_auto=allow|deny`` on the GET, optionally
with ``sandbox_user=<user id>`` and ``sandbox_scopes=<subset>`` (comma or
space separated), or by POSTing the form fields ``decision``, ``sandbox_user``
and ``granted_scope`` (repeated) themselves. A test that only follows
redirects sets ``{"auto_consent": 1}`` (or -1 to deny) through
``POST /sandbox/oauth/<platform>/config`` instead.

Like the platforms, the page refuses (an error page, never a redirect) a
``redirect_uri`` that is not registered for the app: by default auth's callback
built on ``CACHALOT_PUBLIC_URL``, or the list in ``CACHALOT_<P>_REDIRECT_URIS``;
tests register more with ``POST /sandbox/oauth/<platform>/redirect-uris``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from cachalot_sandbox.oauthkit.http import redirect_to
from cachalot_sandbox.oauthkit.state import PlatformState

APP_NAME = "CACHALOT"
CONTROL_FIELDS = frozenset(
    {"decision", "granted_scope", "scope_choice", "sandbox_user", "sandbox_auto", "sandbox_scopes"}
)


@dataclass(frozen=True)
class FakeUser:
    id: str
    display_name: str
    username: str
    avatar_url: str
    email: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass
class AuthorizeRequest:
    client_id: str
    redirect_uri: str
    state: str | None
    scopes: tuple[str, ...]
    params: dict[str, str]
    auto_decision: str | None = None
    auto_user: str | None = None


class PageError(Exception):
    """Bad request that cannot be sent back to the client (unknown client, no redirect)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


class RedirectError(Exception):
    """Bad request reported to the client's ``redirect_uri`` (RFC 6749 §4.1.2.1)."""

    def __init__(self, request: AuthorizeRequest, error: str, description: str) -> None:
        super().__init__(description)
        self.request = request
        self.error = error
        self.description = description


@dataclass(frozen=True)
class ConsentFlow:
    """What one platform plugs into the shared authorize endpoint."""

    platform_label: str
    users: Sequence[FakeUser]
    scope_labels: Mapping[str, str]
    parse: Callable[[dict[str, str]], AuthorizeRequest]
    approve: Callable[[AuthorizeRequest, FakeUser, tuple[str, ...]], dict[str, str]]
    deny_extra: Mapping[str, str] = field(default_factory=dict)
    fragment: str = ""
    # counts every authorize request; its auto_consent setting answers for the person
    state: PlatformState | None = None

    def user(self, user_id: str | None) -> FakeUser | None:
        """The named user; ``sandbox-extra-<name>`` makes one on demand (load tests)."""
        if not user_id:
            return self.users[0]
        known = next((u for u in self.users if user_id in (u.id, u.username)), None)
        if known is None and _EXTRA_USER.match(user_id):
            return FakeUser(
                id=user_id,
                display_name=f"Extra {user_id.removeprefix('sandbox-extra-')}",
                username=user_id,
                avatar_url="https://sandbox.invalid/extra.jpg",
            )
        return known


# Users a load test asks for by id (many accounts, one client each or several);
# platforms whose sign-in needs more than a profile (YouTube's channel) do not know them.
_EXTRA_USER = re.compile(r"^sandbox-extra-[A-Za-z0-9_-]{1,40}$")


_ABSOLUTE_URL = re.compile(r"^https?://[^#]+$")


def registered_redirect_uri(
    params: Mapping[str, str],
    state: PlatformState,
    *,
    malformed: PageError,
    unregistered: PageError,
) -> str:
    """The request's ``redirect_uri`` when it is registered for the app, else a page error.

    Checked before anything is sent back to the client: an error for any other
    parameter goes to the redirect URI, so it must be one the app registered
    (RFC 6749 §4.1.2.1: the server must not redirect to an invalid URI). Every
    platform we fake compares the whole string (platforms.md).
    """
    redirect_uri = params.get("redirect_uri", "")
    if not _ABSOLUTE_URL.match(redirect_uri):
        raise malformed
    if not state.redirect_uri_registered(redirect_uri):
        raise unregistered
    return redirect_uri


def split_scopes(raw: str) -> list[str]:
    return [s for s in re.split(r"[,\s]+", raw) if s]


async def authorize(request: Request, flow: ConsentFlow) -> Response:
    """Serve GET (page or ``sandbox_auto``) and POST (the page's form) alike."""
    if flow.state is not None:
        flow.state.count("authorize")
    params = dict(request.query_params)
    chosen: list[str] | None = None
    if request.method == "POST":
        form = await request.form()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
        boxes = [v for v in form.getlist("granted_scope") if isinstance(v, str)]
        if boxes or "scope_choice" in form:
            chosen = boxes
    try:
        req = flow.parse(params)
    except PageError as exc:
        return _error_page(flow, exc)
    except RedirectError as exc:
        return _redirect_error(flow, exc)
    decision = params.get("decision") if request.method == "POST" else params.get("sandbox_auto")
    decision = decision or req.auto_decision or (flow.state.auto_decision() if flow.state else None)
    if not decision:
        return _consent_page(flow, req, request.url.path)
    if decision != "allow":
        return redirect_to(
            req.redirect_uri,
            {
                "error": "access_denied",
                **flow.deny_extra,
                "error_description": "The user denied the request.",
                "state": req.state,
            },
        )
    user = flow.user(params.get("sandbox_user") or req.auto_user)
    if user is None:
        return _error_page(flow, PageError("invalid_request", "Unknown sandbox_user."))
    if chosen is None and params.get("sandbox_scopes") is not None:
        chosen = split_scopes(params["sandbox_scopes"])
    granted = req.scopes if chosen is None else tuple(s for s in req.scopes if s in chosen)
    try:
        callback = flow.approve(req, user, granted)
    except RedirectError as exc:
        return _redirect_error(flow, exc)
    return redirect_to(req.redirect_uri, callback, fragment=flow.fragment)


def _redirect_error(flow: ConsentFlow, exc: RedirectError) -> Response:
    return redirect_to(
        exc.request.redirect_uri,
        {"error": exc.error, "error_description": exc.description, "state": exc.request.state},
    )


_STYLE = """
body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;padding:2rem}
main{max-width:28rem;margin:auto;background:#fff;border-radius:12px;padding:1.5rem 2rem;
box-shadow:0 2px 12px #0002}h1{font-size:1.2rem}fieldset{border:1px solid #ddd;
border-radius:8px;margin:1rem 0}label{display:block;margin:.4rem 0}.row{display:flex;gap:1rem}
button{flex:1;padding:.7rem;border-radius:8px;border:0;font-size:1rem;cursor:pointer}
.allow{background:#1a73e8;color:#fff}.deny{background:#e8eaed}small{color:#666}
"""


def _consent_page(flow: ConsentFlow, req: AuthorizeRequest, action: str) -> HTMLResponse:
    e = html.escape
    hidden = "".join(
        f'<input type="hidden" name="{e(k)}" value="{e(v)}">'
        for k, v in req.params.items()
        if k not in CONTROL_FIELDS
    )
    users = "".join(
        f'<label><input type="radio" name="sandbox_user" value="{e(u.id)}"'
        f"{' checked' if i == 0 else ''}> {e(u.display_name)} <small>@{e(u.username)}</small>"
        "</label>"
        for i, u in enumerate(flow.users)
    )
    scopes = "".join(
        f'<label><input type="checkbox" name="granted_scope" value="{e(s)}" checked> '
        f"<code>{e(s)}</code> <small>{e(flow.scope_labels.get(s, ''))}</small></label>"
        for s in req.scopes
    )
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{e(flow.platform_label)} sandbox: authorize {APP_NAME}</title><style>{_STYLE}</style></head>
<body><main><h1>{APP_NAME} wants to access your {e(flow.platform_label)} account</h1>
<p><small>Sandbox consent page · client <code>{e(req.client_id)}</code></small></p>
<form method="post" action="{e(action)}">{hidden}<input type="hidden" name="scope_choice" value="1">
<fieldset><legend>Sign in as</legend>{users}</fieldset>
<fieldset><legend>Permissions requested</legend>{scopes or "<small>none</small>"}</fieldset>
<p><small>After you decide you go back to <code>{e(req.redirect_uri)}</code></small></p>
<div class="row"><button class="deny" name="decision" value="deny">Deny</button>
<button class="allow" name="decision" value="allow">Allow</button></div></form></main>
</body></html>"""
    return HTMLResponse(body)


def _error_page(flow: ConsentFlow, exc: PageError) -> HTMLResponse:
    e = html.escape
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{e(flow.platform_label)} sandbox: error</title><style>{_STYLE}</style></head>
<body><main><h1>{e(flow.platform_label)}: something went wrong</h1>
<p><code id="error">{e(exc.error)}</code></p><p id="error_description">{e(exc.description)}</p>
</main></body></html>"""
    return HTMLResponse(body, status_code=exc.status)
