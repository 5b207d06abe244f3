"""The staff dispute reads on SQLite and PostgreSQL, over disputes written through the
dispute store: the list's filters and keyset paging, one dispute with its timeline,
evidence and remedies, an evidence file served as a checked attachment, and every refusal
as problem+json. The report: tests/api/test_disputes_report_api.py."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from schemas.disputes import InstalmentPlan
from store import disputes
from store.db import transaction
from tests.api.test_invoices_api import assert_problem
from tests.support.disputes import Api, SeededInvoice, dispute_api, seed_dispute, seed_invoice

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture
async def api(temporal: Client, db_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    async with dispute_api(temporal, db_url, tmp_path / "evidence") as running:
        yield running


async def ids(api: Api, **params: Any) -> list[str]:
    response = await api.client.get("/disputes", params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def ago(**delta: float) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


async def test_the_list_shows_disputes_oldest_first_with_invoice_owner_and_amounts(
    api: Api,
) -> None:
    invoice = await seed_invoice(api.sessions)
    due = ago(hours=-30)
    older = await seed_dispute(
        api.sessions,
        invoice,
        intake_fields={"opened_at": ago(days=3, hours=12), "amount_minor": 24_000},
        owner_id="olivia",
        owner_name="Olivia Park",
        group_id="ar",
        sla_due_at=due,
        disputed_minor=14_000,
        credited_minor=10_000,
    )
    newer = await seed_dispute(api.sessions, invoice, intake_fields={"opened_at": ago(hours=2)})
    body = (await api.client.get("/disputes")).json()
    assert [item["id"] for item in body["items"]] == [older.id, newer.id]
    assert body["next_cursor"] is None and body["limit"] == 50
    first = body["items"][0]
    assert (first["number"], first["invoice_id"], first["invoice_number"]) == (
        older.number,
        invoice.invoice_id,
        invoice.number,
    )
    assert (first["customer_id"], first["customer_name"]) == (
        invoice.customer_id,
        "Northwind Traders Ltd",
    )
    assert (first["status"], first["reason"], first["level"], first["lines"]) == (
        "open",
        "pricing",
        1,
        [1],
    )
    assert (first["owner_id"], first["owner_name"], first["group_id"]) == (
        "olivia",
        "Olivia Park",
        "ar",
    )
    amounts = ("original_amount_minor", "disputed_minor", "credited_minor", "written_off_minor")
    assert [first[k] for k in amounts] == [24_000, 14_000, 10_000, 0]
    assert datetime.fromisoformat(first["sla_due_at"]) == due
    assert first["sla_breached"] is False and first["channel"] == "portal"
    assert 3.4 <= first["age_days"] <= 3.6
    assert first["resolution"] is None and first["resolved_at"] is None
    assert "description" not in first  # the list is a summary; the detail has it


async def test_the_list_filters_by_status_level_owner_reason_age_and_sla(api: Api) -> None:
    invoice = await seed_invoice(api.sessions)
    other = await seed_invoice(api.sessions, customer_name="Contoso GmbH")
    waiting = await seed_dispute(
        api.sessions,
        invoice,
        intake_fields={"opened_at": ago(days=12), "reason": "quantity"},
        status="waiting_on_customer",
        owner_id="oscar",
    )
    escalated = await seed_dispute(
        api.sessions,
        invoice,
        intake_fields={"opened_at": ago(days=6)},
        level=2,
        owner_id="sam",
        sla_breached=True,
    )
    fresh = await seed_dispute(api.sessions, other, intake_fields={"opened_at": ago(hours=3)})
    settled = await seed_dispute(
        api.sessions,
        invoice,
        intake_fields={"opened_at": ago(days=20), "reason": "duplicate"},
        status="resolved",
        resolution="credit_note",
        resolved_at=ago(days=15),
        resolved_level=1,
    )
    everything = [settled.id, waiting.id, escalated.id, fresh.id]
    assert await ids(api) == everything
    assert await ids(api, status="unresolved") == [waiting.id, escalated.id, fresh.id]
    assert await ids(api, status="open") == [escalated.id, fresh.id]
    assert await ids(api, status=["waiting_on_customer", "resolved"]) == [settled.id, waiting.id]
    assert await ids(api, level=2) == [escalated.id]
    assert await ids(api, owner="oscar") == [waiting.id]
    assert await ids(api, reason="quantity") == [waiting.id]
    assert await ids(api, reason="tax") == []
    assert await ids(api, min_age_days=5) == [settled.id, waiting.id, escalated.id]
    assert await ids(api, min_age_days=10, status="unresolved") == [waiting.id]
    assert await ids(api, sla_breached="true") == [escalated.id]
    assert await ids(api, sla_breached="false") == [settled.id, waiting.id, fresh.id]
    assert await ids(api, customer_id=other.customer_id) == [fresh.id]
    assert await ids(api, invoice_id=invoice.invoice_id, level=1) == [settled.id, waiting.id]
    resolved = (await api.client.get("/disputes", params={"status": "resolved"})).json()["items"]
    assert resolved[0]["resolution"] == "credit_note" and 4.9 <= resolved[0]["age_days"] <= 5.1
    for bad in (
        {"status": "closed"},
        {"reason": "late"},
        {"level": 0},
        {"min_age_days": -1},
        {"sla_breached": "maybe"},
        {"limit": 0},
    ):
        assert_problem(await api.client.get("/disputes", params=bad), 422, "validation_failed")


async def test_the_list_pages_by_cursor_without_skipping_when_disputes_move(api: Api) -> None:
    invoice = await seed_invoice(api.sessions)
    at = ago(days=2)
    seeded = []
    for hours in (0, 0, 1, 2, 3):  # two at the very same instant
        opened = {"opened_at": at + timedelta(hours=hours)}
        seeded.append(await seed_dispute(api.sessions, invoice, intake_fields=opened))
    tied = sorted(d.id for d in seeded[:2])
    assert await ids(api) == tied + [d.id for d in seeded[2:]]

    first = (await api.client.get("/disputes", params={"limit": 2})).json()
    assert [item["id"] for item in first["items"]] == tied and first["next_cursor"]
    async with transaction(api.sessions) as session:  # one of the first page moves on
        await disputes.update_dispute(session, tied[0], status="resolved")
    params = {"limit": 2, "cursor": first["next_cursor"], "status": "unresolved"}
    second = (await api.client.get("/disputes", params=params)).json()
    assert [item["id"] for item in second["items"]] == [seeded[2].id, seeded[3].id]
    third = await api.client.get("/disputes", params={**params, "cursor": second["next_cursor"]})
    assert [item["id"] for item in third.json()["items"]] == [seeded[4].id]
    assert third.json()["next_cursor"] is None
    for cursor in ("not-a-cursor", "WzEsMl0"):  # garbage; valid base64 JSON of the wrong shape
        response = await api.client.get("/disputes", params={"cursor": cursor})
        assert_problem(response, 422, "invalid_cursor")


async def _evidence(api: Api, dispute_id: str, content: bytes, filename: str) -> str:
    blob = await api.storage.put(content)
    async with transaction(api.sessions) as session:
        row, _ = await disputes.add_evidence(
            session,
            dispute_id=dispute_id,
            sha256=blob.sha256,
            size=blob.size,
            media_type="application/pdf",
            filename=filename,
            side="customer",
            added_by="customer",
            added_at=ago(hours=1),
        )
    return row.id


async def _timeline_and_remedies(api: Api, invoice: SeededInvoice, dispute_id: str) -> None:
    at = ago(hours=5)
    events = [
        ("opened", "customer", "Line 1 is billed at the wrong rate.", True),
        ("owner_assigned", "workflow", "Olivia Park owns it.", True),
        ("note", "olivia", "Rate card says 120.00.", False),
    ]
    async with transaction(api.sessions) as session:
        for n, (kind, actor, text, visible) in enumerate(events):
            await disputes.add_event(
                session,
                dispute_id=dispute_id,
                event_key=f"{dispute_id}:{kind}",
                at=at + timedelta(minutes=n),
                kind=kind,
                actor=actor,
                text=text,
                visible_to_customer=visible,
            )
        await disputes.issue_credit_note(
            session,
            credit_note_id=f"cn_{dispute_id}",
            invoice_id=invoice.invoice_id,
            dispute_id=dispute_id,
            currency="GBP",
            amount_minor=12_000,
            reason="order_change",
            settlement="balance",
            created_at=at + timedelta(hours=1),
        )
        await disputes.insert_instalments(
            session,
            dispute_id=dispute_id,
            invoice_id=invoice.invoice_id,
            instalments=[InstalmentPlan(due_date=date(2027, 1, 15), amount_minor=50_000)],
        )
        await disputes.update_dispute(session, dispute_id, root_cause="outdated rate card")


async def test_one_dispute_shows_its_timeline_evidence_and_remedies(api: Api) -> None:
    invoice = await seed_invoice(api.sessions)
    dispute = await seed_dispute(api.sessions, invoice, owner_id="olivia")
    await _timeline_and_remedies(api, invoice, dispute.id)
    evidence_id = await _evidence(api, dispute.id, PDF, "delivery-note.pdf")

    response = await api.client.get(f"/disputes/{dispute.id}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["id"], body["number"], body["invoice_number"]) == (
        dispute.id,
        "DSP-2026-0001",
        invoice.number,
    )
    assert body["description"] == dispute.description
    assert body["root_cause"] == "outdated rate card"
    assert [(e["kind"], e["actor"], e["visible_to_customer"]) for e in body["events"]] == [
        ("opened", "customer", True),
        ("owner_assigned", "workflow", True),
        ("note", "olivia", False),  # staff see the internal notes too
    ]
    [file] = body["evidence"]
    assert (file["evidence_id"], file["filename"], file["media_type"], file["size"]) == (
        evidence_id,
        "delivery-note.pdf",
        "application/pdf",
        len(PDF),
    )
    assert file["sha256"] == hashlib.sha256(PDF).hexdigest() and file["side"] == "customer"
    [note] = body["credit_notes"]
    assert (note["credit_note_id"], note["number"], note["amount_minor"]) == (
        f"cn_{dispute.id}",
        "CN-2026-0001",
        12_000,
    )
    assert body["credited_minor"] == 12_000  # the credit note moved the dispute's figure
    assert body["instalments"] == [
        {
            "sequence": 1,
            "due_date": "2027-01-15",
            "amount_minor": 50_000,
            "paid_minor": 0,
            "status": "due",
        }
    ]
    invoice_body = (await api.client.get(f"/invoices/{invoice.invoice_id}")).json()["invoice"]
    assert invoice_body["credited_minor"] == 12_000
    assert invoice_body["balance_minor"] == invoice.total_minor - 12_000

    assert_problem(await api.client.get("/disputes/dsp_nope"), 404, "not_found")


async def test_an_evidence_file_is_served_as_a_checked_attachment(api: Api) -> None:
    invoice = await seed_invoice(api.sessions)
    dispute = await seed_dispute(api.sessions, invoice)
    other = await seed_dispute(api.sessions, invoice)
    evidence_id = await _evidence(api, dispute.id, PDF, 'Lieferschein "März".pdf')

    response = await api.client.get(f"/disputes/{dispute.id}/evidence/{evidence_id}")
    assert response.status_code == 200, response.text
    assert response.content == PDF
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["x-content-type-options"] == "nosniff"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="Lieferschein _M_rz_.pdf"')
    assert "filename*=UTF-8''Lieferschein%20%22M%C3%A4rz%22.pdf" in disposition
    assert "sandbox" in response.headers["content-security-policy"]

    # only under its own dispute, and only evidence that exists
    assert_problem(
        await api.client.get(f"/disputes/{other.id}/evidence/{evidence_id}"), 404, "not_found"
    )
    assert_problem(
        await api.client.get(f"/disputes/{dispute.id}/evidence/evd_nope"), 404, "not_found"
    )
    # a file listed but damaged on disk is never served
    damaged = b"%PDF-1.7\n% another\n%%EOF\n"
    damaged_id = await _evidence(api, dispute.id, damaged, "scan.pdf")
    api.storage.path_for(hashlib.sha256(damaged).hexdigest()).write_bytes(b"tampered")
    response = await api.client.get(f"/disputes/{dispute.id}/evidence/{damaged_id}")
    assert_problem(response, 410, "evidence_missing")
    api.storage.path_for(hashlib.sha256(damaged).hexdigest()).unlink()
    response = await api.client.get(f"/disputes/{dispute.id}/evidence/{damaged_id}")
    assert_problem(response, 410, "evidence_missing")


async def test_every_dispute_read_needs_an_api_key(api: Api) -> None:
    invoice = await seed_invoice(api.sessions)
    dispute = await seed_dispute(api.sessions, invoice)
    evidence_id = await _evidence(api, dispute.id, PDF, "a.pdf")
    paths = [
        "/disputes",
        f"/disputes/{dispute.id}",
        f"/disputes/{dispute.id}/evidence/{evidence_id}",
        "/reports/disputes?from=2026-11-01&to=2026-11-30",
    ]
    for path in paths:
        response = await api.client.get(path, headers={"Authorization": ""})
        assert_problem(response, 401, "unauthorized")
