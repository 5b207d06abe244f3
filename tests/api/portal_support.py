"""The portal served for route tests: a real API (uvicorn) on a migrated database with one
issued invoice, the evidence store in a temporary folder, and the two dispute-service
calls that need Temporal (`open_dispute`, `customer_reply`) replaced by a fake that
keeps their contract: a request id acts once, and the intake is stored through the real
`store.disputes`. Evidence goes through the real `dispute_service.store_evidence`.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from html import unescape
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from sqlmodel import func, select
from temporalio.client import Client

from api import dispute_service
from api.app import create_app
from api.dispute_service import DisputeRefused
from core.links import portal_view_url
from core.settings import Settings
from schemas.dispute_tables import DisputeEventRow, DisputeEvidenceRow, DisputeRow
from schemas.disputes import (
    CustomerReply,
    DisputeActionResult,
    DisputeOpened,
    DisputeStatus,
    OpenDisputeInput,
)
from schemas.ids import new_id
from schemas.tables import Invoice, InvoiceLineRow
from store import disputes
from store.db import SessionFactory, create_engine, session_factory, transaction
from tests.support.factories import customer_and_contract
from tests.support.servers import serve

# (description, quantity, unit, unit price): £1,200 + £900 + £60 net, VAT 20%
LINES = [
    ("Senior consultant", "8", "hour", 15000),
    ("Workshop", "1", "day", 90000),
    ("Licences", "3", "unit", 2000),
]
FORM = re.compile(r"<form[^>]*method=\"post\"[^>]*>.*?</form>", re.S)


def text(html: str) -> str:
    """What a person reads: no markup, no style sheet."""
    html = re.sub(r"<style>.*?</style>", " ", html, flags=re.S)
    # ASCII whitespace only: the no-break spaces of French and of amounts stay
    return re.sub(r"[ \t\r\n]+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def hidden(html: str, name: str, form_action: str = "") -> str:
    """A hidden field's value in the (first) form whose action contains `form_action`."""
    for form in FORM.findall(html):
        if form_action in unescape(form.split(">", 1)[0]):
            found = re.search(rf'name="{name}" value="([^"]*)"', form)
            assert found, f"no hidden {name} in the form"
            return unescape(found.group(1))
    raise AssertionError(f"no form posting to {form_action!r}")


def _gross(lines: list[int], invoice: Invoice) -> int:
    """What named lines come to with their 20% VAT (the whole invoice for none)."""
    if not lines:
        return invoice.total_minor
    net = sum(int(Decimal(LINES[p - 1][1]) * LINES[p - 1][3]) for p in lines)
    return net + net // 5


@dataclass
class FakeDisputes:
    """`open_dispute` and `customer_reply` as the workflows answer them, without Temporal."""

    sessions: SessionFactory
    opened: list[OpenDisputeInput] = field(default_factory=list)
    replies: list[tuple[str, CustomerReply]] = field(default_factory=list)
    refusal: Exception | None = None
    answered: set[str] = field(default_factory=set)

    async def open_dispute(
        self, client: Client, settings: Settings, invoice_id: str, data: OpenDisputeInput
    ) -> DisputeOpened:
        self.opened.append(data)
        if self.refusal is not None:
            raise self.refusal
        async with transaction(self.sessions) as session:
            invoice = await session.get(Invoice, invoice_id)
            assert invoice is not None
            row, created = await disputes.insert_dispute(
                session,
                request_id=data.request_id,
                invoice_id=invoice_id,
                customer_id=invoice.customer_id,
                currency=invoice.currency,
                reason=data.intake.reason,
                description=data.intake.description,
                lines=data.intake.lines,
                amount_minor=data.intake.amount_minor or _gross(data.intake.lines, invoice),
                level=1,
                channel=data.channel,
                opened_by=data.opened_by,
                opened_at=datetime.now(UTC),
            )
            if created:
                await disputes.add_event(
                    session,
                    dispute_id=row.id,
                    event_key=f"{row.id}:opened",
                    at=row.opened_at,
                    kind="opened",
                    actor="customer",
                    text="opened",
                    visible_to_customer=True,
                )
        return DisputeOpened(
            dispute_id=row.id,
            number=row.number,
            invoice_id=invoice_id,
            amount_minor=row.original_amount_minor,
            currency=row.currency,
            created=created,
        )

    async def customer_reply(
        self, client: Client, settings: Settings, dispute_id: str, reply: CustomerReply
    ) -> DisputeActionResult:
        """As the dispute workflow's `customer_reply` update: the request id is the update
        id (a repeat gets the first answer), the validator refuses what nothing waits for,
        and the answer moves the dispute back to its owner with a timeline event."""
        self.replies.append((dispute_id, reply))
        if self.refusal is not None:
            raise self.refusal
        first = DisputeActionResult(
            dispute_id=dispute_id, status=DisputeStatus.OPEN, level=1, message="recorded"
        )
        if reply.request_id in self.answered:
            return first
        async with transaction(self.sessions) as session:
            row = await session.get(DisputeRow, dispute_id)
            assert row is not None
            waits = "waiting_on_customer" if reply.accept is None else "remedy_proposed"
            if row.status != waits:
                raise DisputeRefused(
                    "there is no question or proposal waiting for your answer",
                    code="nothing_to_answer",
                )
            kind = "customer_replied"
            if reply.accept is not None:
                kind = "remedy_accepted" if reply.accept else "remedy_declined"
            await disputes.update_dispute(session, dispute_id, status="open")
            await disputes.add_event(
                session,
                dispute_id=dispute_id,
                event_key=f"{dispute_id}:{reply.request_id}",
                at=datetime.now(UTC),
                kind=kind,
                actor="customer",
                text=reply.text,
                visible_to_customer=True,
                data={"evidence_ids": reply.evidence_ids, "request_id": reply.request_id},
            )
        self.answered.add(reply.request_id)
        return first


@dataclass
class Portal:
    settings: Settings
    sessions: SessionFactory
    browser: httpx.AsyncClient
    fake: FakeDisputes
    invoice_id: str
    url: str  # the invoice page's signed link (path and query)

    def path(self, suffix: str = "", invoice_id: str | None = None) -> str:
        base, query = self.url.split("?", 1)
        if invoice_id:
            base = base.replace(self.invoice_id, invoice_id)
        return f"{base}{suffix}?{query}"

    async def counts(self) -> tuple[int, int, int]:
        """Disputes, timeline events and evidence rows stored."""
        found = []
        async with transaction(self.sessions, writes=False) as session:
            for table in (DisputeRow, DisputeEventRow, DisputeEvidenceRow):
                found.append((await session.exec(select(func.count()).select_from(table))).one())
        return found[0], found[1], found[2]

    async def dispute(self, dispute_id: str) -> DisputeRow:
        async with transaction(self.sessions, writes=False) as session:
            row = await session.get(DisputeRow, dispute_id)
        assert row is not None
        return row

    async def set_status(self, dispute_id: str, status: str, **event: Any) -> None:
        """Move the dispute as its workflow would, with a timeline event if given."""
        async with transaction(self.sessions) as session:
            await disputes.update_dispute(session, dispute_id, status=status)
            if event:
                await disputes.add_event(
                    session,
                    dispute_id=dispute_id,
                    event_key=f"{dispute_id}:{new_id('e')}",
                    at=datetime.now(UTC),
                    actor="olivia",
                    visible_to_customer=event.pop("visible", True),
                    **event,
                )


async def seed_invoice(sessions: SessionFactory, locale: str = "en_GB", **fields: Any) -> str:
    currency, region = {"en_GB": ("GBP", "GB"), "fr_CA": ("CAD", "CA-QC")}[locale]
    customer, contract = await customer_and_contract(
        sessions,
        locale=locale,
        currency=currency,
        tax_region=region,
        customer_name="Érable & Fils" if locale == "fr_CA" else "ACME Trading Ltd",
        email="compta@erable.test" if locale == "fr_CA" else "accounts@acme.test",
    )
    invoice_id = new_id("inv")
    net = sum(int(Decimal(q) * price) for _, q, _, price in LINES)
    tax = net // 5
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "id": invoice_id,
        "customer_id": customer.id,
        "contract_id": contract.id,
        "number": f"INV-2026-{invoice_id.removeprefix('inv_').upper()}",
        "status": "ISSUED",
        "currency": currency,
        "tax_region": region,
        "po_number": "PO-77",
        "issue_date": date(2026, 11, 2),
        "due_date": date(2099, 11, 17),
        "subtotal_minor": net,
        "tax_minor": tax,
        "total_minor": net + tax,
        "tax_lines": [
            {
                "name": "VAT",
                "rate": "0.2",
                "category": "standard",
                "taxable_minor": net,
                "tax_minor": tax,
            }
        ],
        "payment_url": "https://pay.test/p/1",
        "created_by": "test",
        "created_at": now,
        "updated_at": now,
        **fields,
    }
    async with transaction(sessions) as session:
        session.add(Invoice(**values))
        await session.flush()
        for position, (description, quantity, unit, price) in enumerate(LINES, start=1):
            session.add(
                InvoiceLineRow(
                    invoice_id=invoice_id,
                    position=position,
                    description=description,
                    quantity=quantity,
                    unit=unit,
                    unit_price_minor=price,
                    net_minor=int(Decimal(quantity) * price),
                    tax_category="standard",
                )
            )
    return invoice_id


@contextlib.asynccontextmanager
async def running_portal(
    database_url: str, evidence_dir: Path, monkeypatch: pytest.MonkeyPatch, locale: str = "en_GB"
) -> AsyncIterator[Portal]:
    settings = Settings(
        environment="test",
        database_url=database_url,
        evidence_dir=str(evidence_dir),
        evidence_max_bytes=64 * 1024,
        seller_name="Northwind Consulting Ltd",
        seller_address="12 Harbour Street\nBristol BS1 4RN",
        seller_tax_id="GB 284 1937 02",
        seller_email="accounts@northwind.test",
    )
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    fake = FakeDisputes(sessions)
    monkeypatch.setattr(dispute_service, "open_dispute", fake.open_dispute)
    monkeypatch.setattr(dispute_service, "customer_reply", fake.customer_reply)
    invoice_id = await seed_invoice(sessions, locale)
    secret = settings.link_signing_secret.get_secret_value()
    link = portal_view_url("", secret, invoice_id)
    # any object will do for the Temporal client: the fake never uses it
    app = create_app(settings, temporal=cast(Client, object()))
    try:
        async with (
            serve(app) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as browser,
        ):
            yield Portal(settings, sessions, browser, fake, invoice_id, link)
    finally:
        await engine.dispose()
