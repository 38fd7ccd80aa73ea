"""`/api/docs` in a real browser under a style policy without inline styles (issue 25).

Its CSP allowed `'unsafe-inline'` styles; Swagger UI works from the served files alone.
Debian's Chromium, driven by Playwright, against a live backend: the operations render,
one expands, and the browser reports no Content Security Policy violation.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import ConsoleMessage, sync_playwright

from server.backend.core.config import Settings
from server.backend.main import create_app
from tests.server.live import serve
from tests.server.utils import FAST_ARGON2

pytestmark = [pytest.mark.network, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def docs_url(pg_settings: Settings) -> Iterator[str]:
    with serve(create_app(pg_settings, password_params=FAST_ARGON2)) as url:
        yield f"{url}/api/docs"


def test_the_docs_work_without_inline_styles(docs_url: str) -> None:
    violations: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", note)
            answer = page.goto(docs_url)
            assert answer is not None
            assert "'unsafe-inline'" not in answer.headers["content-security-policy"]
            page.wait_for_selector(".opblock", timeout=60_000)
            page.locator(".opblock-summary").first.click()
            page.wait_for_selector(".opblock-body", timeout=30_000)
            assert page.locator(".opblock").count() > 20
        finally:
            browser.close()
    assert violations == []
