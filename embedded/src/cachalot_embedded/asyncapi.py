"""Each service's AsyncAPI document, checked in under ``docs/asyncapi/<service>.json``.

Every service serves its own at ``GET /asyncapi`` (:mod:`cachalot_common.asyncapi`:
what its broker's subscribers decode and what it declares it produces). This
module builds each service's app the way it is built in production, with
throwaway settings (no network, no database opened: brokers are built, never
connected), takes the same document, and writes the files::

    uv run --frozen python -m cachalot_embedded.asyncapi [<directory>]

embedded/tests/test_asyncapi.py fails while a checked-in file differs from what
this builds. The sandbox (a fake of the platforms, no Kafka) has none.
"""

from __future__ import annotations

import importlib
import json
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from cachalot_common.app import service_asyncapi
from cachalot_common.topics import PLATFORMS
from cachalot_embedded.openapi import _contact, _no_cachalot_environment, _queue

ROOT: Final = Path(__file__).resolve().parents[3]
DOCUMENT_DIR: Final = ROOT / "docs" / "asyncapi"
REGENERATE: Final = "uv run --frozen python -m cachalot_embedded.asyncapi"

Document = dict[str, Any]


def _auth(workdir: Path) -> Any:
    from cachalot_auth.main import create_app
    from cachalot_auth.settings import AuthSettings
    from cachalot_common.crypto import generate_key

    settings = AuthSettings(
        environment="test",
        database_url=f"sqlite+aiosqlite:///{workdir / 'auth.db'}",
        token_keys=f"v1:{generate_key()}",
        session_secret="asyncapi-throwaway-secret",
        service_credentials="{}",
        public_url="http://127.0.0.1",
    )
    return create_app(settings, run_background=False)  # its own broker, never started


def _notifier(workdir: Path) -> Any:
    from cachalot_notifier.main import create_app
    from cachalot_notifier.settings import NotifierSettings

    settings = NotifierSettings(
        database_url=f"sqlite+aiosqlite:///{workdir / 'notifier.db'}",
        telegram_bot_token="0:asyncapi-throwaway",
        operator_chat_id="1",
    )
    return create_app(settings)


def _publisher(platform: str) -> Callable[[Path], Any]:
    def build(workdir: Path) -> Any:
        # each publisher's declaration (cachalot_publishing.app.PublisherService)
        publisher = importlib.import_module(f"cachalot_publisher_{platform}.main").PUBLISHER
        settings_class = publisher.settings
        # a publisher that needs a bot token to start gets a throwaway one
        needs_token = "telegram_bot_token" in settings_class.model_fields
        extra = {"telegram_bot_token": "0:asyncapi-throwaway"} if needs_token else {}
        settings = settings_class(
            database_url=f"sqlite+aiosqlite:///{workdir / f'{platform}.db'}", **extra
        )
        return publisher.create_app(settings)

    return build


BUILDERS: Final[Mapping[str, Callable[[Path], Any]]] = {
    "auth": _auth,
    "contact": _contact,
    "notifier": _notifier,
    "queue": _queue,
    **{f"publisher-{p}": _publisher(p) for p in PLATFORMS},
}


def service_documents() -> dict[str, Document]:
    """Each service's AsyncAPI 3.0 document, as its ``GET /asyncapi`` serves it, by name."""
    documents: dict[str, Document] = {}
    with (
        tempfile.TemporaryDirectory(prefix="cachalot-asyncapi-") as tmp,
        _no_cachalot_environment(),
    ):
        for service, build in BUILDERS.items():
            documents[service] = service_asyncapi(build(Path(tmp)))
    return documents


def render(document: Document) -> str:
    """The checked-in text: sorted keys, two-space indent, a final newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Write ``<directory>/<service>.json`` for every service (default ``docs/asyncapi``)."""
    args = sys.argv[1:] if argv is None else argv
    directory = Path(args[0]) if args else DOCUMENT_DIR
    directory.mkdir(parents=True, exist_ok=True)
    for service, document in service_documents().items():
        (directory / f"{service}.json").write_text(render(document), encoding="utf-8")


if __name__ == "__main__":
    main()
