"""Swagger UI, vendored once here, for every ``/docs`` page: no CDN, no other host.

FastAPI's own ``/docs`` loads Swagger UI from a CDN (``cdn.jsdelivr.net``) and its
``/redoc`` likewise; a service's page then depends on, and tells, a third party.
The pinned copy lives in this package (:data:`SWAGGER_UI_DIR`, with its licence; how to
update it: ``web/vendor/README.md``) and is served at the same path everywhere
(:data:`SWAGGER_UI_PATH`): by each service for its own ``/docs``
(:func:`install_docs`, called by :func:`cachalot_common.app.create_service_app`), by
the embedded gateway and by nginx (its image copies this folder) for the public API's
``/api/v1/docs`` (``web/api-docs.html``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

SWAGGER_UI_VERSION: Final = "5.35.0"
SWAGGER_UI_DIR: Final = Path(__file__).parent / "vendor" / f"swagger-ui-dist-{SWAGGER_UI_VERSION}"
"""``swagger-ui-bundle.js``, ``swagger-ui.css`` and their licences (``npm pack
swagger-ui-dist``)."""
SWAGGER_UI_PATH: Final = f"/vendor/swagger-ui-dist-{SWAGGER_UI_VERSION}"
"""Where the files are served, on every service and on the gateway."""
DOCS_PATH: Final = "/docs"


def swagger_ui_files() -> StaticFiles:
    """The vendored Swagger UI as a static app (mount it at :data:`SWAGGER_UI_PATH`)."""
    return StaticFiles(directory=SWAGGER_UI_DIR)


def install_docs(app: FastAPI) -> None:
    """``GET /docs``: Swagger UI reading the app's OpenAPI document, every file from this
    service (:data:`SWAGGER_UI_PATH`). Nothing when the app has no OpenAPI document."""
    openapi_url = app.openapi_url
    if openapi_url is None:
        return
    app.mount(SWAGGER_UI_PATH, swagger_ui_files(), name="swagger-ui")
    title = f"{app.title} — API docs"

    @app.get(DOCS_PATH, include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url=f"{SWAGGER_UI_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_UI_PATH}/swagger-ui.css",
            swagger_favicon_url="data:,",
        )
