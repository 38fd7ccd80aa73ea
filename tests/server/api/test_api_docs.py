"""The API docs work offline: every asset is served by the backend (no CDN), under a
CSP without inline scripts; in production they are off unless API_DOCS turns them on."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from server.backend.core.config import Settings
from tests.server.conftest import ClientFactory


def test_the_docs_page_loads_everything_from_this_server(client: TestClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "default-src 'none'" in csp
    assert "<script>" not in page.text and "//" not in page.text.replace("<!doctype", "")
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert "/api/docs/assets/swagger-ui-bundle.js" in assets
    for asset in assets:
        assert asset.startswith("/"), asset
        served = client.get(asset)
        assert served.status_code == 200, asset
    bundle = client.get("/api/docs/assets/swagger-ui-bundle.js")
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert len(bundle.content) > 500_000 and b"SwaggerUIBundle" in bundle.content
    starter = client.get("/static/docs.js").text
    assert 'url: "/api/openapi.json"' in starter
    assert client.get("/api/openapi.json").json()["info"]["title"] == "Sonta Attendance API"
    assert client.get("/api/docs/assets/core.py").status_code == 404


def test_production_turns_the_docs_off_unless_asked(
    make_client: ClientFactory, pg_settings: Settings
) -> None:
    production = make_client(pg_settings.model_copy(update={"app_env": "production"}))
    for path in ("/api/docs", "/api/openapi.json", "/api/docs/assets/swagger-ui.css"):
        assert production.get(path).status_code == 404, path
    wanted = make_client(pg_settings.model_copy(update={"app_env": "production", "api_docs": True}))
    assert wanted.get("/api/docs").status_code == 200
    assert wanted.get("/api/openapi.json").status_code == 200
