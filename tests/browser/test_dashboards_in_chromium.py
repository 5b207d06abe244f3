"""An operator in a real browser: Debian's Chromium, driven by Playwright, against the stack
as `make run` starts it (separate processes). The operator signs in through the sign-in
form (CSRF token and all), and the aging page shows the seeded figures, each computed
here from the known data set (tests/support/ops_data.py), not read from the app."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

from api.ops_web import fmt_money
from tests.api.test_ops_figures import balance, bucket, open_specs
from tests.support import ops_data as data
from tests.support.operators import PASSWORD, add_operator
from tests.support.processes import ProcessStack, running_processes
from tests.support.stack import Stack

BUCKETS = ("current", "1-30", "31-60", "61-90", "over-90")


@pytest.fixture
async def stack(tmp_path: Path, sqlite_url: str) -> AsyncIterator[tuple[ProcessStack, Stack]]:
    async with running_processes(tmp_path, sqlite_url, ui=True) as pair:
        yield pair


async def sign_in(page: Page, api_url: str, email: str, next_path: str) -> None:
    await page.goto(f"{api_url}{next_path}")  # not signed in: the sign-in form, then back
    await page.fill("#email", email)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"**{next_path.split('?')[0]}*")


async def test_an_operator_signs_in_and_the_aging_page_shows_the_seeded_figures(
    stack: tuple[ProcessStack, Stack], browser: Browser
) -> None:
    processes, view = stack
    await data.seed(view.sessions, datetime.now(UTC))
    operator = await add_operator(view.sessions, email="olivia@finance.test")

    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await page.goto(f"{processes.api_url}/ops/aging")
    assert "/ops/sign-in" in page.url  # the pages need a signed-in operator
    await sign_in(page, processes.api_url, operator.email, f"/ops/aging?as_of={data.AS_OF}")
    assert await page.locator("h1").inner_text() == "Aging as of 30 Nov 2026"

    expected: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(BUCKETS, 0))
    names = {}
    for spec in open_specs():
        name, currency = data.CUSTOMERS[spec.key[0]]
        names[name] = currency
        expected[(name, currency)][bucket(spec)] += balance(spec)
    rows = page.locator("section.card table tbody tr")
    assert await rows.count() == len(expected)
    for i in range(await rows.count()):
        cells = [c.strip() for c in await rows.nth(i).locator("td").all_inner_texts()]
        name, currency = cells[0], cells[1]
        figures = expected[(name, currency)]
        shown = cells[2:7]
        assert shown == [fmt_money(figures[b], currency) if figures[b] else "–" for b in BUCKETS]
        assert cells[7] == fmt_money(sum(figures.values()), currency)

    totals: dict[str, int] = defaultdict(int)
    for (_, currency), figures in expected.items():
        totals[currency] += sum(figures.values())
    for currency, total in totals.items():
        card = page.locator("section.card.currency", has=page.locator(f"h2:text-is('{currency}')"))
        assert await card.locator(".kpi .value").first.inner_text() == fmt_money(total, currency)
    # the chart is drawn by the page itself: an inline SVG, nothing fetched from elsewhere
    assert await page.locator("section.card.currency svg").count() == len(totals)


async def test_an_upstream_api_key_does_not_open_the_dashboards(
    stack: tuple[ProcessStack, Stack], browser: Browser
) -> None:
    processes, view = stack
    context = await browser.new_context(
        extra_http_headers={"Authorization": view.api.headers["Authorization"]}
    )
    page = await context.new_page()
    await page.goto(f"{processes.api_url}/ops/queues")
    assert "/ops/sign-in" in page.url
    await context.close()
