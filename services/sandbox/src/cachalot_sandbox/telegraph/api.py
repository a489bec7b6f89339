"""The fake Telegraph API, at its real paths (telegra.ph/api).

``/telegraph/<method>`` (GET or POST; query string, form or JSON), answers
``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "..."}`` with
HTTP 200, as api.telegra.ph does. What it checks:

* ``createAccount``: ``short_name`` 1–32 characters (``SHORT_NAME_REQUIRED``),
  ``author_name`` ≤ 128; answers the Account with a fresh ``access_token``;
* ``createPage``: a known ``access_token`` (``ACCESS_TOKEN_INVALID``),
  ``title`` 1–256 (``TITLE_REQUIRED``), ``content`` a JSON array of Nodes
  (``CONTENT_REQUIRED``, ``CONTENT_FORMAT_INVALID``), at most 64 KB
  (``CONTENT_TOO_BIG``), only Telegraph's tags (``TAG_NOT_ALLOWED``) and
  attributes ``href``/``src``; the path is the title's words and the date,
  ``-2``, ``-3``… when taken (``Title-11-30``);
* ``getPage/<path>`` (``PAGE_NOT_FOUND``), with ``return_content``.

Faults (``POST /sandbox/telegraph/faults``, e.g. ``{"errors": ["FLOOD_WAIT_3"]}``)
answer the next ``createPage`` calls with those errors. The pages made are
listed at ``GET /sandbox/telegraph/pages`` with their content.
"""

from __future__ import annotations

import json
import re
import secrets
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from cachalot_common.text import prefix, truncate
from cachalot_sandbox.settings import SandboxSettings

ALLOWED_TAGS = frozenset(
    {
        "a", "aside", "b", "blockquote", "br", "code", "em", "figcaption", "figure", "h3",
        "h4", "hr", "i", "iframe", "img", "li", "ol", "p", "pre", "s", "strong", "u", "ul",
        "video",
    }
)  # fmt: skip
ALLOWED_ATTRS = frozenset({"href", "src"})
MAX_CONTENT_BYTES = 64 * 1024


class TelegraphFailure(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass
class Page:
    path: str
    title: str
    author_name: str
    content: list[Any]
    token: str
    created_at: str
    views: int = 0

    def public(self, base: str, *, content: bool) -> dict[str, Any]:
        page: dict[str, Any] = {
            "path": self.path,
            "url": f"{base}/telegraph/pages/{self.path}",
            "title": self.title,
            "description": _description(self.content),
            "views": self.views,
        }
        if self.author_name:
            page["author_name"] = self.author_name
        if content:
            page["content"] = self.content
        return page


@dataclass
class TelegraphState:
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    pages: dict[str, Page] = field(default_factory=dict)
    faults: deque[str] = field(default_factory=deque)
    calls: dict[str, int] = field(default_factory=dict)

    def reset(self) -> None:
        self.accounts.clear()
        self.pages.clear()
        self.faults.clear()
        self.calls.clear()


state = TelegraphState()


class FaultQueue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    errors: list[str] = Field(min_length=1, description="e.g. FLOOD_WAIT_3, CONTENT_TOO_BIG")


def _text_of(nodes: list[Any]) -> str:
    out: list[str] = []
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, dict):
            out.append(_text_of(node.get("children") or []))
    return "".join(out)


def _description(content: list[Any]) -> str:
    return truncate(_text_of(content[:1]), 150)


def _check_nodes(nodes: Any) -> None:
    if not isinstance(nodes, list):
        raise TelegraphFailure("CONTENT_FORMAT_INVALID")
    for node in nodes:
        if isinstance(node, str):
            continue
        if not isinstance(node, dict) or not isinstance(node.get("tag"), str):
            raise TelegraphFailure("CONTENT_FORMAT_INVALID")
        if node["tag"] not in ALLOWED_TAGS:
            raise TelegraphFailure("TAG_NOT_ALLOWED")
        attrs = node.get("attrs") or {}
        if not isinstance(attrs, dict) or set(attrs) - ALLOWED_ATTRS:
            raise TelegraphFailure("ATTRIBUTE_NOT_ALLOWED")
        _check_nodes(node.get("children") or [])


def _slug(title: str) -> str:
    words = re.findall(r"\w+", title)
    return prefix("-".join(words), 100) or "Page"


def _render(nodes: list[Any]) -> str:
    out: list[str] = []
    for node in nodes:
        if isinstance(node, str):
            out.append(escape(node))
            continue
        tag = node["tag"]
        attrs = "".join(f' {k}="{escape(str(v))}"' for k, v in (node.get("attrs") or {}).items())
        out.append(f"<{tag}{attrs}>{_render(node.get('children') or [])}</{tag}>")
    return "".join(out)


async def _params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query_params)
    if request.method == "POST":
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
        elif kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.form()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


def create_router(settings: SandboxSettings) -> APIRouter:
    router = APIRouter()

    def base(request: Request) -> str:
        return (settings.sandbox_public_url or str(request.base_url)).rstrip("/")

    def create_account(params: dict[str, Any]) -> dict[str, Any]:
        short_name = str(params.get("short_name") or "")
        if not 1 <= len(short_name) <= 32:
            raise TelegraphFailure("SHORT_NAME_REQUIRED")
        author = str(params.get("author_name") or "")
        if len(author) > 128:
            raise TelegraphFailure("AUTHOR_NAME_TOO_LONG")
        token = secrets.token_hex(30)
        account = {
            "short_name": short_name,
            "author_name": author,
            "author_url": str(params.get("author_url") or ""),
        }
        state.accounts[token] = account
        return {**account, "access_token": token, "auth_url": "https://edit.telegra.ph/auth/x"}

    def create_page(params: dict[str, Any], request: Request) -> dict[str, Any]:
        token = str(params.get("access_token") or "")
        if token not in state.accounts:
            raise TelegraphFailure("ACCESS_TOKEN_INVALID")
        if state.faults:
            raise TelegraphFailure(state.faults.popleft())
        title = str(params.get("title") or "")
        if not 1 <= len(title) <= 256:
            raise TelegraphFailure("TITLE_REQUIRED")
        raw = params.get("content")
        if raw is None or raw == "":
            raise TelegraphFailure("CONTENT_REQUIRED")
        try:
            content = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            raise TelegraphFailure("CONTENT_FORMAT_INVALID") from None
        _check_nodes(content)
        if not content:
            raise TelegraphFailure("CONTENT_REQUIRED")
        if len(json.dumps(content, ensure_ascii=False).encode()) > MAX_CONTENT_BYTES:
            raise TelegraphFailure("CONTENT_TOO_BIG")
        now = datetime.now(UTC)
        stem = f"{_slug(title)}-{now:%m-%d}"
        path, n = stem, 1
        while path in state.pages:
            n += 1
            path = f"{stem}-{n}"
        author = str(params.get("author_name") or state.accounts[token]["author_name"])
        page = Page(path, title, author, content, token, now.isoformat())
        state.pages[path] = page
        return page.public(base(request), content=params.get("return_content") in (True, "true"))

    @router.api_route("/telegraph/{method}", methods=["GET", "POST"], tags=["telegraph"])
    async def telegraph_method(method: str, request: Request) -> JSONResponse:
        state.calls[method] = state.calls.get(method, 0) + 1
        params = await _params(request)
        try:
            if method == "createAccount":
                result = create_account(params)
            elif method == "createPage":
                result = create_page(params, request)
            else:
                return JSONResponse({"ok": False, "error": "METHOD_NOT_FOUND"})
        except TelegraphFailure as failure:
            return JSONResponse({"ok": False, "error": failure.error})
        return JSONResponse({"ok": True, "result": result})

    @router.api_route("/telegraph/getPage/{path}", methods=["GET", "POST"], tags=["telegraph"])
    async def get_page(path: str, request: Request) -> JSONResponse:
        params = await _params(request)
        page = state.pages.get(path)
        if page is None:
            return JSONResponse({"ok": False, "error": "PAGE_NOT_FOUND"})
        wanted = params.get("return_content") in (True, "true")
        return JSONResponse({"ok": True, "result": page.public(base(request), content=wanted)})

    @router.get("/telegraph/pages/{path}", tags=["telegraph"], response_class=HTMLResponse)
    async def read_page(path: str) -> HTMLResponse:
        """The page as a reader sees it (Instant View in the sandbox)."""
        page = state.pages.get(path)
        if page is None:
            return HTMLResponse("<h1>404 Not Found</h1>", status_code=404)
        page.views += 1
        body = f"<h1>{escape(page.title)}</h1>{_render(page.content)}"
        return HTMLResponse(f"<!doctype html><meta charset=utf-8><article>{body}</article>")

    @router.get("/sandbox/telegraph/pages", tags=["sandbox"])
    async def list_pages(request: Request) -> dict[str, Any]:
        pages = [p.public(base(request), content=True) for p in state.pages.values()]
        return {"pages": pages, "count": len(pages), "accounts": len(state.accounts)}

    @router.post("/sandbox/telegraph/faults", tags=["sandbox"], status_code=201)
    async def queue_faults(queue: FaultQueue) -> dict[str, Any]:
        state.faults.extend(queue.errors)
        return {"pending": list(state.faults)}

    @router.delete("/sandbox/telegraph", tags=["sandbox"])
    async def forget() -> dict[str, int]:
        """Forget the pages, faults and call counts; accounts stay, as Telegraph's do (a
        publisher's access token keeps working across tests)."""
        count = len(state.pages)
        state.pages.clear()
        state.faults.clear()
        state.calls.clear()
        return {"deleted": count}

    return router
