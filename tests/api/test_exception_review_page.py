"""The exception review page as its owner sees it from the e-mailed link: the invoice's
lines beside the PO lines and the receipts with each variance marked, the reasons in
words, the owner and the escalation, and three forms; opening it changes nothing; a
resolution goes to the process as the link's person and a second is "already resolved";
bad, expired and settled links get a clear page with the right status."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from html import unescape

import httpx
import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from temporalio.client import Client

from core.links import TASK_SALT
from tests.api.test_exceptions_api import api_without_temporal
from tests.support.exceptions import exception_row, review_link, seed_exception, set_exception
from tests.support.fake_invoice import fake_invoices
from tests.support.stack import Stack, running_stack

FORM = re.compile(r"<form[^>]*method=\"post\"[^>]*>(.*?)</form>", re.S)


@pytest.fixture
async def stack(temporal: Client, sqlite_url: str) -> AsyncIterator[Stack]:
    async with running_stack(temporal, sqlite_url, run_worker=False) as running:
        yield running


def text(html: str) -> str:
    """What a person reads: no markup, no style sheet."""
    html = re.sub(r"<style>.*?</style>", " ", html, flags=re.S)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip())


def line_card(html: str, position: int) -> str:
    found = re.search(
        rf'<section class="line[^"]*">\s*<h3>Line {position} .*?</section>', html, re.S
    )
    assert found, f"no card for line {position}"
    return found.group(0)


def row_of(card: str, label: str) -> str:
    found = re.search(rf"<tr[^>]*><th>{label}</th>.*?</tr>", card, re.S)
    assert found, label
    return found.group(0)


async def test_the_page_shows_lines_beside_po_lines_variances_receipts_and_four_forms(
    stack: Stack,
) -> None:
    seeded = await seed_exception(stack.sessions)
    async with httpx.AsyncClient() as browser:
        page = await browser.get(review_link(stack.settings, seeded.exception_id))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html, words = page.text, text(page.text)
    assert "<script" not in html
    assert re.search(r"Invoice INV-2026-\w+ does not match PO PO-4471", words)
    for shown in (
        "Customer Northwind Traders Ltd",
        "Purchase order PO-4471 (3-way match)",
        "Invoice net £5,400.00",
        "Invoice total £6,480.00",
        "Left on the PO £7,110.00 of £7,110.00 net, before this invoice",
        "Owner Olivia Park (you)",
        "Group Accounts receivable",
        "(in 3 days)",
        "Price differs from the PO. Line 1: unit price GBP 130.00 is 10.00 over",
        "Not on the PO. Line 3: 'Travel expenses' is not on PO PO-4471",
        "More than was received.",
        "This link is for Olivia Park",
    ):
        assert shown in words, shown

    first = line_card(html, 1)
    assert 'class="line flagged"' in first
    price = row_of(first, "Unit price")
    assert 'class="off"' in price and "£130.00" in price and "£120.00" in price
    assert "+£10.00 a unit (+8.33%)" in text(first)
    assert 'class="off"' in row_of(first, "Quantity")
    assert "2 hours over what is left" in text(first)
    assert "30 hours" in row_of(first, "Received")
    assert "30 hours" in row_of(first, "Left to invoice")

    second = line_card(html, 2)  # as ordered: nothing marked
    assert 'class="line"' in second and 'class="off"' not in second
    third = line_card(html, 3)
    assert "No PO line to compare with" in third and 'class="line flagged"' in third
    assert "Other lines of the PO (1)" in words and "Junior consultant" in words
    for receipt in ("31 Oct 2026 TS-2026-10 timesheet 1 20 hours", "3 Nov 2026 DN-8812"):
        assert receipt in words, receipt

    forms = FORM.findall(html)
    assert len(forms) == 4
    accept, correct, wait, cancel = forms
    assert 'value="accept_variance"' in accept and "required" in accept
    assert 'name="resolution" value="correct"' in correct and "required" not in correct
    assert 'name="po_number"' in correct and 'name="quantity-1"' in correct
    assert 'value="wait"' in wait and "required" not in wait
    assert 'value="cancel"' in cancel and "required" in cancel
    action = re.findall(r'<form method="post" action="([^"]+)"', html)
    assert set(action) == {page.url.path}


async def test_opening_the_page_changes_nothing(stack: Stack) -> None:
    seeded = await seed_exception(stack.sessions)
    before = await exception_row(stack.sessions, seeded.exception_id)
    async with fake_invoices(stack.temporal) as fakes, httpx.AsyncClient() as browser:
        await fakes.start(seeded.invoice_id)
        link = review_link(stack.settings, seeded.exception_id)
        for _ in range(2):  # a mail scanner, then the person
            assert (await browser.get(link)).status_code == 200
        assert await fakes.received(seeded.invoice_id) == []
    after = await exception_row(stack.sessions, seeded.exception_id)
    assert after.model_dump() == before.model_dump()


async def test_accepting_goes_to_the_process_as_the_links_person_and_a_second_submit_is_refused(
    stack: Stack,
) -> None:
    seeded = await seed_exception(stack.sessions)
    link = review_link(stack.settings, seeded.exception_id, person_id="oscar")
    form = {"resolution": "accept_variance", "justification": "Rate rise agreed on 28 Nov"}
    async with (
        fake_invoices(stack.temporal) as fakes,
        httpx.AsyncClient(headers={"User-Agent": "phone-browser"}) as browser,
    ):
        await fakes.start(seeded.invoice_id)
        done = await browser.post(link, data=form)
        assert done.status_code == 200, done.text
        assert "Variance accepted" in text(done.text)
        assert "Invoice status: Being approved" in text(done.text)
        [sent] = await fakes.received(seeded.invoice_id)
        assert (sent.person_id, sent.resolution, sent.justification) == (
            "oscar",
            "accept_variance",
            "Rate rise agreed on 28 Nov",
        )
        assert sent.user_agent == "phone-browser" and sent.operator is False

        again = await browser.post(link, data=form)  # the double submit
        assert again.status_code == 409
        assert "already been resolved" in text(again.text)
        assert len(await fakes.received(seeded.invoice_id)) == 1


async def test_waiting_keeps_the_exception_open_and_links_back(stack: Stack) -> None:
    seeded = await seed_exception(stack.sessions)
    link = review_link(stack.settings, seeded.exception_id)
    async with fake_invoices(stack.temporal) as fakes, httpx.AsyncClient() as browser:
        await fakes.start(seeded.invoice_id)
        waited = await browser.post(link, data={"resolution": "wait"})
        assert waited.status_code == 200
        words = text(waited.text)
        assert "Waiting for the customer" in words and "Back to the exception" in words
        [sent] = await fakes.received(seeded.invoice_id)
        assert (sent.resolution, sent.justification) == ("wait", None)


@pytest.mark.parametrize(
    ("refusal", "status", "words"),
    [
        ("not_your_task", 403, "assigned to someone else"),
        ("justification_required", 422, "needs a justification"),
        ("not_acceptable", 422, "cannot go out as it is"),
        ("task_expired", 410, "operations resolve it now"),
        ("task_closed", 409, "already been resolved"),
    ],
)
async def test_a_refusal_shows_a_page_with_its_reason_and_status(
    stack: Stack, refusal: str, status: int, words: str
) -> None:
    seeded = await seed_exception(stack.sessions)
    async with fake_invoices(stack.temporal) as fakes, httpx.AsyncClient() as browser:
        await fakes.start(seeded.invoice_id, refusal=refusal)
        link = review_link(stack.settings, seeded.exception_id)
        refused = await browser.post(link, data={"resolution": "cancel", "justification": "x"})
    assert refused.status_code == status
    assert words in text(refused.text)
    assert "<form" not in refused.text


async def test_a_choice_the_page_does_not_offer_is_a_422_page(stack: Stack) -> None:
    seeded = await seed_exception(stack.sessions)
    async with fake_invoices(stack.temporal) as fakes, httpx.AsyncClient() as browser:
        await fakes.start(seeded.invoice_id)
        link = review_link(stack.settings, seeded.exception_id)
        for form in (
            {"resolution": "correct"},
            {},
            {"resolution": "wait", "justification": "x" * 2001},
        ):
            refused = await browser.post(link, data=form)
            assert refused.status_code == 422, form
        assert await fakes.received(seeded.invoice_id) == []


class _PastSigner(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 15 * 24 * 3600  # past exception_link_max_age_s (14 days)


async def test_bad_expired_and_unknown_links_get_a_clear_page(stack: Stack) -> None:
    seeded = await seed_exception(stack.sessions)
    link = review_link(stack.settings, seeded.exception_id)
    base, token = link.rsplit("/", 1)
    secret = stack.settings.link_signing_secret.get_secret_value()
    stale = URLSafeTimedSerializer(secret, salt=TASK_SALT, signer=_PastSigner).dumps(
        {"task_id": seeded.exception_id, "person_id": "olivia"}
    )
    forged = URLSafeTimedSerializer("not-our-secret", salt=TASK_SALT).dumps(
        {"task_id": seeded.exception_id, "person_id": "fiona"}
    )
    cases = [
        (f"{base}/{token[:-3]}xyz", 400, "This link is not valid"),
        (f"{base}/{forged}", 400, "This link is not valid"),
        (f"{base}/{stale}", 410, "This link has expired"),
        (review_link(stack.settings, "exc_gone"), 404, "could not find this exception"),
    ]
    async with httpx.AsyncClient() as browser:
        for url, status, words in cases:
            for response in (
                await browser.get(url),
                await browser.post(url, data={"resolution": "wait"}),
            ):
                assert response.status_code == status, url
                assert words in text(response.text)
                assert "<form" not in response.text


async def test_a_settled_exception_shows_how_and_by_whom_and_no_forms(stack: Stack) -> None:
    seeded = await seed_exception(stack.sessions)
    await set_exception(
        stack.sessions,
        seeded.exception_id,
        status="resolved",
        resolution="accept_variance",
        resolved_by="olivia",
        justification="Agreed with the buyer",
        resolved_at=datetime(2026, 12, 1, 15, 30, tzinfo=UTC),
    )
    link = review_link(stack.settings, seeded.exception_id, person_id="oscar")
    async with fake_invoices(stack.temporal) as fakes, httpx.AsyncClient() as browser:
        await fakes.start(seeded.invoice_id)  # would take it: the page must not ask
        page = await browser.get(link)
        posted = await browser.post(link, data={"resolution": "wait"})
        assert await fakes.received(seeded.invoice_id) == []
    assert page.status_code == 200 and "<form" not in page.text
    words = text(page.text)
    assert "Variance accepted" in words
    assert "By Olivia Park on 1 Dec 2026, 15:30 UTC." in words
    assert "Justification: “Agreed with the buyer”" in words
    assert "Escalates" not in words
    assert posted.status_code == 409  # settled in the store: the process is not asked
    assert "Variance accepted" in text(posted.text)


async def test_an_escalated_exception_that_waits_says_so_and_still_offers_the_forms(
    stack: Stack,
) -> None:
    seeded = await seed_exception(stack.sessions)
    await set_exception(
        stack.sessions,
        seeded.exception_id,
        owner_id="fiona",
        owner_name="Fiona Grant",
        escalated_at=datetime(2026, 12, 4, 9, 0, tzinfo=UTC),
        waiting_on="a PO amendment or a delivery record",
    )
    async with httpx.AsyncClient() as browser:
        page = await browser.get(review_link(stack.settings, seeded.exception_id, "fiona"))
    words = text(page.text)
    assert "Owner Fiona Grant (you)" in words
    assert "Escalated 4 Dec 2026, 09:00 UTC" in words and "Escalates" not in words
    assert "Waiting for a PO amendment or a delivery record" in words
    assert len(FORM.findall(page.text)) == 4


async def test_an_invoice_without_a_po_of_its_customer_cannot_be_accepted_on_the_page(
    stack: Stack,
) -> None:
    seeded = await seed_exception(stack.sessions, po_number="PO-9999", create_po=False)
    async with httpx.AsyncClient() as browser:
        page = await browser.get(review_link(stack.settings, seeded.exception_id))
    forms = FORM.findall(page.text)
    chosen = [re.search(r'name="resolution" value="(\w+)"', form) for form in forms]
    assert [found.group(1) if found else None for found in chosen] == [
        "correct",
        "wait",
        "cancel",
    ]
    assert "Correct its PO number below, or cancel it." in text(page.text)
    assert "No PO line to compare with" in page.text
    assert "No PO. The customer has no PO PO-9999" in text(page.text)


async def test_with_temporal_away_a_resolution_is_a_503_page_and_the_page_still_shows(
    sqlite_url: str,
) -> None:
    async with api_without_temporal(sqlite_url) as (api, sessions, settings):
        seeded = await seed_exception(sessions)
        path = httpx.URL(review_link(settings, seeded.exception_id)).path
        assert (await api.get(path)).status_code == 200
        away = await api.post(path, data={"resolution": "accept_variance", "justification": "ok"})
        assert away.status_code == 503 and away.headers["Retry-After"] == "30"
        assert "Nothing was changed" in text(away.text)
        assert (await exception_row(sessions, seeded.exception_id)).status == "open"
