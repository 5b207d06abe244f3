"""Opening a dispute from the portal: the form (reasons, lines, amount, description,
attachments, CSRF), what a POST checks before anything is created, and what a double
submit does. The dispute service's Temporal calls are a fake keeping their contract
(`tests.api.portal_support`); evidence is stored for real."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from api.dispute_service import DisputeRefused
from api.portal_forms import COOKIE_NAME, issue
from tests.api.portal_support import Portal, hidden, running_portal, text

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 48


@pytest.fixture
async def portal(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    async with running_portal(sqlite_url, tmp_path, monkeypatch) as running:
        yield running


async def _form(portal: Portal) -> tuple[str, dict[str, str]]:
    page = await portal.browser.get(portal.path("/disputes/new"))
    assert page.status_code == 200
    fields = {name: hidden(page.text, name, "/disputes?") for name in ("csrf", "submission_id")}
    return page.text, fields


def _fields(ticket: dict[str, str], **values: Any) -> dict[str, Any]:
    return {
        **ticket,
        "reason": "quantity",
        "lines": ["1"],
        "amount": "",
        "description": "We signed off 5 hours, not 8.",
        **values,
    }


async def _post(
    portal: Portal, data: dict[str, Any], files: list[tuple[str, bytes]] | None = None
) -> Any:
    return await portal.browser.post(
        portal.path("/disputes"),
        data=data,
        files=[("attachments", (name, content)) for name, content in files or []] or None,
    )


async def test_the_form_has_reasons_lines_amount_description_files_and_a_csrf_token(
    portal: Portal,
) -> None:
    html, ticket = await _form(portal)
    words = text(html)
    for reason in (
        "pricing",
        "quantity",
        "quality",
        "not_received",
        "duplicate",
        "tax",
        "other",
    ):
        assert f'<option value="{reason}"' in html
    assert "Quantity: we were billed for more than we had" in words
    assert len(re.findall(r'type="checkbox" name="lines" value="\d"', html)) == 3
    assert "Senior consultant 8 hours × £150.00 £1,200.00" in words
    assert 'name="amount"' in html and "For example 120.50" in words
    assert 'name="description"' in html
    assert 'type="file" id="attachments" name="attachments" multiple' in html
    assert 'enctype="multipart/form-data"' in html
    assert len(ticket["csrf"]) > 40 and len(ticket["submission_id"]) >= 20
    assert portal.browser.cookies.get(COOKIE_NAME)
    again, second = await _form(portal)
    assert second["submission_id"] != ticket["submission_id"]  # one per rendering


async def test_a_dispute_opens_with_its_attachments_and_lands_on_its_page(
    portal: Portal,
) -> None:
    _, ticket = await _form(portal)
    response = await _post(
        portal,
        _fields(ticket, amount="120.50", lines=["1", "3"]),
        files=[("delivery-note.pdf", PDF), ("notes.txt", b"Signed: 5 hours.\n")],
    )
    assert response.status_code == 303
    location = response.headers["location"]
    assert re.match(
        rf"/portal/invoices/{portal.invoice_id}/disputes/dsp_\w+\?token=.+&done=opened", location
    )
    [opened] = portal.fake.opened
    assert opened.request_id == ticket["submission_id"]
    assert opened.channel == "portal" and opened.opened_by == "customer"
    assert opened.intake.reason == "quantity" and opened.intake.lines == [1, 3]
    assert opened.intake.amount_minor == 12050
    page = await portal.browser.get(location)
    words = text(page.text)
    assert page.status_code == 200
    assert "Thank you. Your dispute is open" in words
    assert "Reason Quantity Amount disputed £120.50" in words
    assert "delivery-note.pdf PDF" in words and "notes.txt TXT" in words
    assert (await portal.counts())[2] == 2


@pytest.mark.parametrize("lines", [["1"], []], ids=["a line", "the whole invoice"])
async def test_a_double_submit_opens_one_dispute_and_shows_the_same_page(
    portal: Portal, lines: list[str]
) -> None:
    _, ticket = await _form(portal)
    data = _fields(ticket, lines=lines)
    first = await _post(portal, data, files=[("note.pdf", PDF)])
    second = await _post(portal, data, files=[("note.pdf", PDF)])
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert [o.request_id for o in portal.fake.opened] == [ticket["submission_id"]] * 2
    disputes, _, evidence = await portal.counts()
    assert (disputes, evidence) == (1, 1)
    if not lines:  # the whole balance is disputed now: a new form has nothing left
        again = await portal.browser.get(portal.path("/disputes/new"))
        assert again.status_code == 409
        assert "Nothing is left to dispute on this invoice." in text(again.text)


async def test_a_disguised_attachment_gets_the_form_again_and_creates_nothing(
    portal: Portal,
) -> None:
    _, ticket = await _form(portal)
    response = await _post(
        portal,
        _fields(ticket, description="see the file"),
        files=[("invoice.pdf", EXE), ("photo.pdf", PNG)],
    )
    assert response.status_code == 422
    words = text(response.text)
    assert "Please check the form" in words
    assert "invoice.pdf: the file is named invoice.pdf but its content is not a PDF" in words
    assert "photo.pdf" in words and "a PNG image" in words
    assert ">see the file</textarea>" in response.text  # what was typed is kept
    assert hidden(response.text, "submission_id", "/disputes?") == ticket["submission_id"]
    assert portal.fake.opened == []
    assert await portal.counts() == (0, 0, 0)
    assert not list(portal.settings.evidence_dir and Path(portal.settings.evidence_dir).rglob("*"))


async def test_an_oversized_attachment_is_refused_before_anything_is_stored(
    portal: Portal,
) -> None:
    _, ticket = await _form(portal)
    big = b"%PDF-1.4\n" + b"0" * (portal.settings.evidence_max_bytes + 10)
    response = await _post(portal, _fields(ticket), files=[("big.pdf", big)])
    assert response.status_code == 422
    errors = text(response.text.split('role="alert">')[1].split("</div>")[0])
    assert "big.pdf" in errors and "64 kB" in errors
    assert portal.fake.opened == [] and await portal.counts() == (0, 0, 0)


async def test_bad_fields_get_the_form_again_with_what_is_wrong(portal: Portal) -> None:
    _, ticket = await _form(portal)
    response = await _post(
        portal, _fields(ticket, reason="", description="", amount="12,5,0", lines=[])
    )
    assert response.status_code == 422
    words = text(response.text)
    assert "Choose what is wrong." in words and "Describe the problem." in words
    assert "Enter the amount as a number, such as £120.50." in words
    above = await _post(portal, _fields(ticket, amount="99,999.00"))
    assert above.status_code == 422
    assert "The amount is more than the £2,592.00 that can be disputed." in text(above.text)
    assert portal.fake.opened == []


async def test_a_refusal_of_the_process_shows_the_form_again_with_its_status(
    portal: Portal,
) -> None:
    portal.fake.refusal = DisputeRefused(
        "line 1 is disputed already (DSP-2026-0001)", code="lines_already_disputed"
    )
    _, ticket = await _form(portal)
    response = await _post(portal, _fields(ticket))
    assert response.status_code == 409
    assert "Line 1 is disputed already (DSP-2026-0001)." in text(response.text)
    assert await portal.counts() == (0, 0, 0)


@pytest.mark.parametrize(
    "forge",
    [
        "no token",
        "tampered token",
        "another invoice's token",
        "another submission id",
        "no cookie",
        "another browser's cookie",
    ],
)
async def test_a_post_without_a_valid_csrf_token_is_403_and_creates_nothing(
    portal: Portal, forge: str
) -> None:
    _, ticket = await _form(portal)
    data = _fields(ticket)
    if forge == "no token":
        del data["csrf"]
    elif forge == "tampered token":
        data["csrf"] = ticket["csrf"][:-3] + "abc"
    elif forge == "another invoice's token":
        cookie = portal.browser.cookies[COOKIE_NAME]
        other = issue(portal.settings, cookie, "inv_other", "dispute", ticket["submission_id"])
        data["csrf"] = other.csrf
    elif forge == "another submission id":
        data["submission_id"] = "someone-elses-submission"
    elif forge == "no cookie":
        portal.browser.cookies.clear()
    else:
        portal.browser.cookies.set(COOKIE_NAME, "z" * 43, path="/portal")
    response = await _post(portal, data, files=[("note.pdf", PDF)])
    assert response.status_code == 403
    assert "This form cannot be sent" in text(response.text)
    assert "Back to invoice" in text(response.text)
    assert portal.fake.opened == []
    assert await portal.counts() == (0, 0, 0)


async def test_the_forbidden_page_is_in_the_customers_language(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_portal(sqlite_url, tmp_path, monkeypatch, locale="fr_CA") as portal:
        _, ticket = await _form(portal)
        amount = await _post(portal, _fields(ticket, amount="1 234,50"))
        assert amount.status_code == 303
        assert portal.fake.opened[0].intake.amount_minor == 123450
        response = await _post(portal, {**_fields(ticket), "csrf": ""})
        assert response.status_code == 403
        assert '<html lang="fr-CA">' in response.text
        assert "Ce formulaire ne peut pas être envoyé" in text(response.text)


async def test_opening_the_pages_changes_nothing(portal: Portal) -> None:
    for _ in range(2):
        assert (await portal.browser.get(portal.url)).status_code == 200
        assert (await portal.browser.get(portal.path("/disputes/new"))).status_code == 200
    assert portal.fake.opened == [] and portal.fake.replies == []
    assert await portal.counts() == (0, 0, 0)
