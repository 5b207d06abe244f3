"""Screenshots of the ops pages for docs/screenshots/ (ops-*.png): the API served on a
fresh SQLite database seeded with the dashboards' test data set (tests/support/ops_data.py),
an operator signed in, each page opened in headless Chromium (Debian's, driven by
Playwright; nothing downloads a browser).

    .venv/bin/python -m tests.support.ops_screenshots [out_dir]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from playwright.async_api import async_playwright

from api.app import create_app
from core.settings import Settings
from store.db import create_engine, session_factory
from store.migrations import upgrade
from tests.support import ops_data
from tests.support.operators import add_operator, operator_cookies
from tests.support.servers import bound_socket, serve

CHROMIUM = "/usr/bin/chromium"


async def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="ops-shots-"))
    url = f"sqlite:///{folder / 'ops.db'}"
    upgrade(url)
    closed = bound_socket()
    port = closed.getsockname()[1]
    closed.close()
    settings = Settings(
        environment="development",
        database_url=url,
        temporal_address=f"127.0.0.1:{port}",
        temporal_rpc_timeout_s=0.5,
        # the sign-in page as a deployment with single sign-on shows it (nothing is fetched
        # from the provider until someone clicks its button)
        ops_oidc_issuer="https://login.finance.example",
        ops_oidc_client_id="invoiceflow-ops",
        ops_oidc_client_secret="screenshot-only",
        ops_oidc_provider_name="Finance SSO",
    )
    engine = create_engine(url)
    sessions = session_factory(engine)
    seeded = await ops_data.seed(sessions, datetime.now(UTC))
    row = await add_operator(sessions, "olivia.park@finance.example", "Olivia Park")
    cookies = operator_cookies(settings, row)
    northwind = seeded.customer_ids["N"]
    pages = {
        "ops-sign-in": ("/ops/sign-in", False),
        "ops-aging": (f"/ops/aging?as_of={ops_data.AS_OF}", True),
        "ops-invoices": (f"/ops/invoices?as_of={ops_data.AS_OF}&customer={northwind}", True),
        "ops-queues": ("/ops/queues", True),
        "ops-case": (f"/ops/cases/disputes/{seeded.dispute_ids['DO1']}", True),
        "ops-flow": ("/ops/flow?start=2026-11-01&end=2026-11-30", True),
    }
    async with serve(create_app(settings)) as base, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for name, (path, signed_in) in pages.items():
            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            if signed_in:
                await context.add_cookies(
                    [{"name": k, "value": v, "url": base} for k, v in cookies.items()]
                )
            page = await context.new_page()
            await page.goto(base + path)
            await page.screenshot(path=str(out / f"{name}.png"), full_page=True)
            await context.close()
            print(out / f"{name}.png")
        await browser.close()
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")))
