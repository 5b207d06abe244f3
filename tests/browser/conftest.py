"""Browser tests: Debian's Chromium (the `chromium` package, which `make test` installs when
missing) driven by Playwright for Python through `executable_path`, so nothing downloads a
browser of its own. INVOICEFLOW_TEST_CHROMIUM names another binary."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright


def chromium_path() -> str:
    path = os.environ.get("INVOICEFLOW_TEST_CHROMIUM") or shutil.which("chromium")
    if path is None:
        raise RuntimeError(
            "no Chromium: `apt-get install -y chromium` (make test does it) or set"
            " INVOICEFLOW_TEST_CHROMIUM"
        )
    return path


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(),
            args=["--no-sandbox", "--disable-dev-shm-usage"],  # root in a container
        )
        try:
            yield browser
        finally:
            await browser.close()
