"""Browser tests: headless Chromium from Debian's ``chromium`` package, driven by Playwright with
``executable_path`` (Playwright's own browser download is never used).

Without a ``chromium`` on PATH the tests skip, except under ``CI=true`` where they fail: CI's
``.ci/run`` installs the package when it is missing. Screenshots are kept as test artifacts under
``$OIRADAR_ARTIFACTS`` (default ``build/test-artifacts/``); ``docs/report.md`` shows them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def chromium_path() -> str:
    """Debian's chromium, or a skip (a failure under CI=true)."""
    found = os.environ.get("OIRADAR_CHROMIUM") or shutil.which("chromium")
    if found is None:
        message = "Debian's chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}: under CI=true browser tests must run")
        pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go; kept after the run."""
    folder = Path(os.environ.get("OIRADAR_ARTIFACTS", ROOT / "build" / "test-artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One headless Chromium per test module (``playwright.sync_api.Browser``). Not per session:
    Playwright's sync API keeps an asyncio loop running while the browser lives, and later tests
    that call ``asyncio.run()`` would find it."""
    path = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, headless=True,
                              args=["--no-sandbox", "--disable-dev-shm-usage"])  # fmt: skip
        yield b
        b.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    """A fresh page; console errors and page errors are collected in ``page.errors``."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    pg = context.new_page()
    pg.errors = []  # type: ignore[attr-defined]
    pg.on("console", lambda m: m.type == "error" and pg.errors.append(m.text))  # type: ignore[attr-defined]
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))  # type: ignore[attr-defined]
    yield pg
    context.close()
