"""Browser fixtures: Debian's headless Chromium through Playwright, the app on a real server."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from bridge.sandbox import serve_in_thread
from tests.functional import conftest as functional

# The functional tests' app, sandboxes and database, shared rather than copied.
app = functional.app
make_app = functional.make_app
gelato = functional.gelato
gelato_server = functional.gelato_server
store = functional.store
store_server = functional.store_server

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.browser


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must run the browser tests (.ci/run installs chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium from Debian's package, driven by Playwright."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def live_url(app: Flask) -> Iterator[str]:
    """The test's app served over HTTP on a free local port."""
    server = serve_in_thread(app)
    yield server.url
    server.stop()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context and page, at a laptop's size, downloads allowed."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True)
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


@pytest.fixture
def shoot(request: pytest.FixtureRequest, page: Any) -> Any:
    """Save a full-page screenshot under test-artifacts/browser/, named by test and step."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    test = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)

    def save(step: str) -> Path:
        path = ARTIFACTS / f"{test}--{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save
