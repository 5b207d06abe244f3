"""A dispute's portal page: its figures, the timeline the customer may see, the evidence,
and per status the form to answer a question, to accept or decline a proposal, to add
evidence; every POST checked (CSRF, status, files) and idempotent, a GET changing nothing."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from api.dispute_service import DisputeRefused
from api.portal_dispute_view import render_dispute
from tests.api.portal_samples import (
    OPENED,
    event,
    remedy_data,
    sample_dispute,
    sample_lines,
    sample_portal,
    tickets,
)
from tests.api.portal_support import Portal, hidden, running_portal, seed_invoice, text

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 48


@pytest.fixture
async def portal(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    async with running_portal(sqlite_url, tmp_path, monkeypatch) as running:
        yield running


async def _open_dispute(portal: Portal) -> str:
    form = await portal.browser.get(portal.path("/disputes/new"))
    data = {
        "csrf": hidden(form.text, "csrf", "/disputes?"),
        "submission_id": hidden(form.text, "submission_id", "/disputes?"),
        "reason": "pricing",
        "lines": ["2"],
        "description": "The workshop was quoted at £800.",
    }
    response = await portal.browser.post(portal.path("/disputes"), data=data)
    assert response.status_code == 303
    return str(response.headers["location"]).split("/disputes/")[1].split("?")[0]


async def _page(portal: Portal, dispute_id: str) -> str:
    page = await portal.browser.get(portal.path(f"/disputes/{dispute_id}"))
    assert page.status_code == 200
    return page.text


async def _post(
    portal: Portal,
    dispute_id: str,
    action: str,
    html: str,
    files: list[tuple[str, bytes]] | None = None,
    **fields: str,
) -> Any:
    suffix = f"/disputes/{dispute_id}/{action}"
    data = {name: hidden(html, name, suffix + "?") for name in ("csrf", "submission_id")}
    return await portal.browser.post(
        portal.path(suffix),
        data={**data, **fields},
        files=[("attachments", (name, content)) for name, content in files or []] or None,
    )


async def test_the_page_shows_figures_the_visible_timeline_and_the_evidence(
    portal: Portal,
) -> None:
    dispute_id = await _open_dispute(portal)
    await portal.set_status(
        dispute_id, "open", kind="note", text="internal: call their CFO", visible=False
    )
    html = await _page(portal, dispute_id)
    words = text(html)
    number = (await portal.dispute(dispute_id)).number
    assert f"Dispute {number}" in words and "Being reviewed" in words
    assert "Reason Pricing Amount disputed £1,080.00" in words  # the line's gross
    assert "Workshop · £900.00" in words and "The workshop was quoted at £800." in words
    assert "Dispute opened" in words
    assert "internal" not in words  # staff-only events stay staff-only
    assert "No files yet." in words
    assert 'action="' in html and "/evidence?" in html  # evidence can always be added
    assert "/reply?" not in html and "/remedy?" not in html  # nothing asked, nothing proposed


async def test_another_invoices_dispute_is_not_found(portal: Portal) -> None:
    dispute_id = await _open_dispute(portal)
    other_invoice = await seed_invoice(portal.sessions)
    # the other invoice's own link does not open this invoice's dispute
    from core.links import portal_view_url

    secret = portal.settings.link_signing_secret.get_secret_value()
    base, query = portal_view_url("", secret, other_invoice).split("?")
    page = await portal.browser.get(f"{base}/disputes/{dispute_id}?{query}")
    assert page.status_code == 404 and "We could not find this dispute." in text(page.text)
    unknown = await portal.browser.get(portal.path("/disputes/dsp_nope"))
    assert unknown.status_code == 404


async def test_an_information_request_is_answered_with_text_and_a_file_once(
    portal: Portal,
) -> None:
    dispute_id = await _open_dispute(portal)
    await portal.set_status(
        dispute_id,
        "waiting_on_customer",
        kind="information_requested",
        text="Please send us the quote.",
        data={"respond_by": "2099-11-20"},
    )
    html = await _page(portal, dispute_id)
    words = text(html)
    assert "Waiting for your answer" in words and "We need more information" in words
    assert "Please send us the quote." in words and "Please answer by 20 November 2099." in words
    first = await _post(
        portal, dispute_id, "reply", html, files=[("quote.pdf", PDF)], text="Quote attached."
    )
    second = await _post(
        portal, dispute_id, "reply", html, files=[("quote.pdf", PDF)], text="Quote attached."
    )
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert first.headers["location"].endswith("&done=reply")
    # the second post finds its answer on the timeline: nothing is sent or stored again
    [(sent_to, reply)] = portal.fake.replies
    assert sent_to == dispute_id and reply.text == "Quote attached." and reply.accept is None
    assert reply.request_id == hidden(html, "submission_id", "/reply?")
    assert len(reply.evidence_ids) == 1
    assert (await portal.counts())[2] == 1
    done = text((await portal.browser.get(first.headers["location"])).text)
    assert "Your answer has been sent." in done and "quote.pdf PDF" in done


async def test_an_empty_answer_or_one_when_nothing_is_asked_is_refused(portal: Portal) -> None:
    dispute_id = await _open_dispute(portal)
    await portal.set_status(dispute_id, "waiting_on_customer")
    html = await _page(portal, dispute_id)
    empty = await _post(portal, dispute_id, "reply", html, text="")
    assert empty.status_code == 422 and "Write an answer or attach a file." in text(empty.text)
    await portal.set_status(dispute_id, "open")
    late = await _post(
        portal, dispute_id, "reply", html, files=[("late.pdf", PDF)], text="Here it is"
    )
    assert late.status_code == 409  # the process refuses it; no file stored before it did
    assert "There is no question or proposal waiting for your answer." in text(late.text)
    assert [r.evidence_ids for _, r in portal.fake.replies] == [[]]
    assert (await portal.counts())[2] == 0


@pytest.mark.parametrize("decision", ["accept", "decline"])
async def test_a_proposed_remedy_is_shown_and_accepted_or_declined(
    portal: Portal, decision: str
) -> None:
    dispute_id = await _open_dispute(portal)
    await portal.set_status(
        dispute_id,
        "remedy_proposed",
        kind="remedy_proposed",
        text="We credit the difference.",
        data=remedy_data(amount_minor=12000, note="We credit the £100 difference plus VAT."),
    )
    html = await _page(portal, dispute_id)
    words = text(html)
    assert "Our proposal A credit note: £120.00 We credit the £100 difference plus VAT." in words
    assert "Accept the proposal" in words and "Decline" in words
    comment = "Thanks" * (decision == "decline")
    response = await _post(portal, dispute_id, "remedy", html, decision=decision, comment=comment)
    assert response.status_code == 303
    assert response.headers["location"].endswith(
        "&done=accepted" if decision == "accept" else "&done=declined"
    )
    twice = await _post(portal, dispute_id, "remedy", html, decision=decision, comment=comment)
    assert twice.headers["location"] == response.headers["location"]
    [(_, reply)] = portal.fake.replies  # the double click was one answer
    assert reply.accept is (decision == "accept")
    assert reply.text == ("Thanks" if decision == "decline" else "")


async def test_evidence_is_added_once_and_a_disguised_file_is_refused(portal: Portal) -> None:
    dispute_id = await _open_dispute(portal)
    html = await _page(portal, dispute_id)
    bad = await _post(portal, dispute_id, "evidence", html, files=[("scan.pdf", EXE)])
    assert bad.status_code == 422 and "scan.pdf" in text(bad.text)
    assert (await portal.counts())[2] == 0
    for _ in range(2):
        added = await _post(portal, dispute_id, "evidence", html, files=[("scan.pdf", PDF)])
        assert added.status_code == 303 and added.headers["location"].endswith("&done=evidence")
    assert (await portal.counts())[2] == 1
    words = text(await _page(portal, dispute_id))
    assert "scan.pdf PDF · 48 bytes PDF 48 bytes You" in words
    assert re.search(r"Evidence added \d+ \w+ \d{4}, [\d:]+ UTC scan\.pdf", words)


async def test_a_forged_form_on_the_dispute_page_is_403_and_changes_nothing(
    portal: Portal,
) -> None:
    dispute_id = await _open_dispute(portal)
    await portal.set_status(dispute_id, "waiting_on_customer")
    html = await _page(portal, dispute_id)
    before = await portal.counts()
    # the evidence form's token does not post a reply
    evidence_ticket = {n: hidden(html, n, "/evidence?") for n in ("csrf", "submission_id")}
    response = await portal.browser.post(
        portal.path(f"/disputes/{dispute_id}/reply"), data={**evidence_ticket, "text": "hi"}
    )
    assert response.status_code == 403
    no_token = await portal.browser.post(
        portal.path(f"/disputes/{dispute_id}/evidence"),
        files=[("attachments", ("a.pdf", PDF))],
    )
    assert no_token.status_code == 403
    assert portal.fake.replies == [] and await portal.counts() == before


async def test_a_refusal_of_the_process_is_shown_on_the_page(portal: Portal) -> None:
    dispute_id = await _open_dispute(portal)
    await portal.set_status(dispute_id, "waiting_on_customer")
    html = await _page(portal, dispute_id)
    portal.fake.refusal = DisputeRefused("nothing waits for your answer", code="nothing_to_answer")
    response = await _post(portal, dispute_id, "reply", html, text="Here")
    assert response.status_code == 409
    assert "Nothing waits for your answer." in text(response.text)


async def test_opening_the_dispute_page_changes_nothing(portal: Portal) -> None:
    dispute_id = await _open_dispute(portal)
    before = await portal.counts()
    for _ in range(3):
        await _page(portal, dispute_id)
    assert await portal.counts() == before and portal.fake.replies == []
    assert len(portal.fake.opened) == 1


def test_a_resolved_dispute_reads_in_french_with_its_outcome_and_no_forms() -> None:
    portal = sample_portal("fr_CA")
    detail = sample_dispute(status="resolved")
    detail.resolution = "credit_note"
    detail.resolution_note = "Nous créditons les 3 heures en trop."
    detail.events.append(
        event(
            "resolved",
            OPENED + timedelta(days=3),
            "credit note: 3 hours",  # the workflow's own words are English
            data=remedy_data(amount_minor=36000, note="Nous créditons les 3 heures en trop."),
        )
    )
    html = bytes(
        render_dispute(portal, detail, sample_lines("fr_CA"), tickets(), 10 * 1024 * 1024).body
    ).decode()
    words = text(html)
    assert '<html lang="fr-CA">' in html
    assert "Contestation DSP-2026-0007 Concernant la facture INV-2026-0042 Réglée" in words
    assert "Motif Quantité Montant contesté 360,00\u00a0$" in words
    assert "Résultat\u00a0: Une note de crédit. Nous créditons les 3 heures en trop." in words
    assert "Contestation réglée" in words
    assert "Une note de crédit\u00a0: 360,00\u00a0$. Nous créditons les 3 heures en trop." in words
    assert "credit note" not in words and "internal" not in words
    assert "timesheet-october.pdf PDF · 180 ko" in words and "Vous" in words
    assert "<form" not in html  # nothing to answer, no evidence to add once resolved
