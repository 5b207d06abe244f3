"""Dispute records on SQLite and PostgreSQL: DSP numbers gapless under concurrency with
each intake request opening one dispute, idempotent timeline events and evidence, and the
open disputes of an invoice."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

from schemas.dispute_tables import DisputeEventRow, DisputeEvidenceRow, DisputeRow
from schemas.tables import AuditEvent
from store import disputes
from store.db import SessionFactory, create_engine, session_factory, transaction
from tests.support.disputes import OPENED, intake, seed_dispute, seed_invoice


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(db_url)
    yield session_factory(engine)
    await engine.dispose()


async def _open(sessions: SessionFactory, **values: object) -> tuple[DisputeRow, bool]:
    async with transaction(sessions) as session:
        return await disputes.insert_dispute(session, **values)  # type: ignore[arg-type]


async def test_dispute_numbers_are_gapless_under_concurrency_and_each_request_opens_one(
    sessions: SessionFactory,
) -> None:
    invoice = await seed_invoice(sessions)
    requests = [intake(invoice) for _ in range(8)]
    # every request sent twice at once, as a double submit or a retried activity would
    outcomes = await asyncio.gather(*(_open(sessions, **r) for r in requests + requests))
    created = [row for row, new in outcomes if new]
    assert len(created) == 8
    async with transaction(sessions, writes=False) as session:
        rows = list(await session.exec(select(DisputeRow).order_by(col(DisputeRow.number))))
    assert [r.number for r in rows] == [f"DSP-2026-{n:04d}" for n in range(1, 9)]
    assert {r.request_id for r in rows} == {r["request_id"] for r in requests}
    for row, _ in outcomes:  # both answers to one request name the same dispute
        twin = next(r for r in rows if r.request_id == row.request_id)
        assert (row.id, row.number) == (twin.id, twin.number)


async def test_a_repeated_request_returns_the_first_dispute_and_takes_no_number(
    sessions: SessionFactory,
) -> None:
    invoice = await seed_invoice(sessions)
    first = intake(invoice, amount_minor=38_400, lines=[1, 2])
    row, created = await _open(sessions, **first)
    again, created_again = await _open(sessions, **{**first, "description": "sent twice"})
    other, _ = await _open(sessions, **intake(invoice))
    next_year, _ = await _open(
        sessions, **intake(invoice, opened_at=datetime(2027, 1, 4, 8, tzinfo=UTC))
    )

    assert (created, created_again) == (True, False)
    assert again.id == row.id == disputes.dispute_id_for(first["request_id"])
    assert again.description == row.description  # the first intake's, not the repeat's
    assert (row.number, other.number, next_year.number) == (
        "DSP-2026-0001",
        "DSP-2026-0002",
        "DSP-2027-0001",
    )
    assert row.id.startswith("dsp_")
    assert (row.status, row.level, row.lines) == ("open", 1, [1, 2])
    assert (row.original_amount_minor, row.disputed_minor) == (38_400, 38_400)
    assert (row.credited_minor, row.written_off_minor, row.sla_breached) == (0, 0, False)
    assert row.opened_at == OPENED and row.opened_at.tzinfo is not None
    async with transaction(sessions, writes=False) as session:
        audit = list(
            await session.exec(select(AuditEvent).where(AuditEvent.step_key == f"{row.id}:opened"))
        )
    assert [(a.action, a.data["number"]) for a in audit] == [("dispute.opened", "DSP-2026-0001")]


async def test_a_timeline_event_is_written_once_per_key(sessions: SessionFactory) -> None:
    dispute = await seed_dispute(sessions, await seed_invoice(sessions))

    async def add(key: str, kind: str, text: str) -> bool:
        async with transaction(sessions) as session:
            return await disputes.add_event(
                session,
                dispute_id=dispute.id,
                event_key=key,
                at=OPENED,
                kind=kind,
                actor="olivia",
                text=text,
                visible_to_customer=True,
                data={"respond_by": "2026-12-08"},
            )

    outcomes = [
        await add(f"{dispute.id}:info:1", "information_requested", "Please send the PO."),
        await add(f"{dispute.id}:info:1", "information_requested", "retried"),
        await add(f"{dispute.id}:note:1", "note", "Called the customer."),
    ]
    with pytest.raises(ValueError, match="unknown dispute event kind"):
        await add(f"{dispute.id}:x", "escalated_twice", "")
    async with transaction(sessions, writes=False) as session:
        rows = list(
            await session.exec(
                select(DisputeEventRow)
                .where(DisputeEventRow.dispute_id == dispute.id)
                .order_by(col(DisputeEventRow.id))
            )
        )
    assert outcomes == [True, False, True]
    assert [(r.kind, r.text, r.data) for r in rows] == [
        ("information_requested", "Please send the PO.", {"respond_by": "2026-12-08"}),
        ("note", "Called the customer.", {"respond_by": "2026-12-08"}),
    ]


async def test_the_same_file_twice_on_one_dispute_is_one_evidence_row(
    sessions: SessionFactory,
) -> None:
    invoice = await seed_invoice(sessions)
    first = await seed_dispute(sessions, invoice)
    second = await seed_dispute(sessions, invoice)
    sha = uuid.uuid4().hex * 2

    async def add(dispute_id: str, filename: str) -> tuple[DisputeEvidenceRow, bool]:
        async with transaction(sessions) as session:
            return await disputes.add_evidence(
                session,
                dispute_id=dispute_id,
                sha256=sha,
                size=2048,
                media_type="application/pdf",
                filename=filename,
                side="customer",
                added_by="customer",
                added_at=OPENED,
            )

    row, created = await add(first.id, "delivery-note.pdf")
    again, created_again = await asyncio.gather(
        add(first.id, "delivery-note (1).pdf"), add(first.id, "copy.pdf")
    )
    elsewhere, created_elsewhere = await add(second.id, "delivery-note.pdf")
    assert created and created_elsewhere
    assert not again[1] and not created_again[1]
    assert again[0].id == created_again[0].id == row.id and row.id.startswith("evd_")
    assert again[0].filename == "delivery-note.pdf"  # the first upload's name stays
    assert elsewhere.id != row.id
    with pytest.raises(ValueError, match="customer or staff"):
        await _bad_side(sessions, first.id)


async def _bad_side(sessions: SessionFactory, dispute_id: str) -> None:
    async with transaction(sessions) as session:
        await disputes.add_evidence(
            session,
            dispute_id=dispute_id,
            sha256="0" * 64,
            size=1,
            media_type="text/plain",
            filename="x.txt",
            side="operator",
            added_by="x",
            added_at=OPENED,
        )


async def test_update_sets_fields_and_open_disputes_leaves_out_resolved_ones(
    sessions: SessionFactory,
) -> None:
    invoice = await seed_invoice(sessions)
    older = await seed_dispute(sessions, invoice, intake_fields={"lines": [1]})
    newer = await seed_dispute(
        sessions, invoice, intake_fields={"lines": [2], "opened_at": OPENED + timedelta(hours=1)}
    )
    resolved = await seed_dispute(sessions, invoice, intake_fields={"lines": [3]})
    due = OPENED + timedelta(days=5)
    async with transaction(sessions) as session:
        moved = await disputes.update_dispute(
            session,
            newer.id,
            status="waiting_on_customer",
            owner_id="olivia",
            owner_name="Olivia Park",
            sla_due_at=due,
            updated_at=OPENED + timedelta(hours=2),
        )
        await disputes.update_dispute(
            session, resolved.id, status="resolved", resolution="rejection", resolved_level=1
        )
        missing = await disputes.update_dispute(session, "dsp_none", status="resolved")
        with pytest.raises(ValueError, match="number"):
            await disputes.update_dispute(session, older.id, number="DSP-2026-9999")
    async with transaction(sessions, writes=False) as session:
        still_open = await disputes.open_disputes(session, invoice.invoice_id)
    assert missing is None
    assert moved is not None and moved.sla_due_at == due
    assert [(d.id, d.status) for d in still_open] == [
        (older.id, "open"),
        (newer.id, "waiting_on_customer"),
    ]
    assert still_open[1].owner_id == "olivia" and still_open[1].sla_due_at == due
