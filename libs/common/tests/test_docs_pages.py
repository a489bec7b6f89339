"""Every ``/docs`` page takes Swagger UI from this origin: no CDN, no other host."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from cachalot_common.app import create_service_app
from cachalot_common.docs import SWAGGER_UI_PATH
from cachalot_common.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[3]
ELSEWHERE = re.compile(
    r'<(?:script|link|img|iframe|source|video)\b[^>]*\s(?:src|href)\s*=\s*["\'](?:https?:)?//',
    re.I,
)
"""An element that loads a file from another host (absolute or scheme-relative URL); a
link a person follows (``<a href>``) is not one."""


async def test_a_services_docs_page_loads_swagger_ui_from_the_service_itself() -> None:
    app = create_service_app(title="cachalot-example", settings=ServiceSettings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as http:
        page = await http.get("/docs")
        assert page.status_code == 200
        html = page.text
        assert not ELSEWHERE.search(html), html
        assert "cdn" not in html.lower()
        assets = re.findall(r'(?:src|href|url)\s*[=:]\s*["\']([^"\']+)["\']', html)
        files = [a for a in assets if a.endswith((".js", ".css"))]
        assert sorted(files) == [
            f"{SWAGGER_UI_PATH}/swagger-ui-bundle.js",
            f"{SWAGGER_UI_PATH}/swagger-ui.css",
        ]
        for asset in files:
            served = await http.get(asset)
            assert served.status_code == 200, asset
            assert served.headers["content-type"].split(";")[0] in (
                "text/javascript",
                "application/javascript",
                "text/css",
            )
        assert "'/openapi.json'" in html or '"/openapi.json"' in html
        assert (await http.get("/redoc")).status_code == 404  # FastAPI's, from a CDN: off


def test_no_page_of_the_dashboard_refers_to_another_host_for_a_file() -> None:
    pages = sorted((ROOT / "web").glob("*.html"))
    assert pages
    for page in pages:
        found = ELSEWHERE.findall(page.read_text())
        assert not found, (page.name, found)
