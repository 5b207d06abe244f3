"""Delivery records: a customer's preferences, each invoice's plan, the tries of channels.

The plan is resolved once, in the transaction that generates the invoice (the customer's
preferences, read fresh, over the defaults the worker was given), and kept per invoice:
every later snapshot of the invoice reads the same plan back, so a correction cannot
change when or how it goes out, and no step after generation needs the settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.delivery_window import QuietHours
from schemas.delivery import DeliveryAttemptOut, DeliveryPlan, DeliveryPreferencesOut
from schemas.delivery_tables import CustomerDeliveryRow, DeliveryAttemptRow, InvoiceDeliveryRow
from store.db import insert_if_absent


def resolve(preferences: CustomerDeliveryRow | None, defaults: DeliveryPlan) -> DeliveryPlan:
    """The customer's own choices where they made one, the defaults elsewhere."""
    if preferences is None:
        return defaults
    return DeliveryPlan(
        timezone=preferences.timezone or defaults.timezone,
        quiet_hours=(
            QuietHours.model_validate(preferences.quiet_hours)
            if preferences.quiet_hours is not None
            else defaults.quiet_hours
        ),
        channel_order=preferences.channel_order or defaults.channel_order,  # type: ignore[arg-type]
    )


async def preferences(session: AsyncSession, customer_id: str) -> CustomerDeliveryRow | None:
    return await session.get(CustomerDeliveryRow, customer_id)


async def preferences_of(
    session: AsyncSession, customer_ids: Sequence[str]
) -> dict[str, CustomerDeliveryRow]:
    """Several customers' preferences in one query (a page of customers)."""
    if not customer_ids:
        return {}
    rows = await session.exec(
        select(CustomerDeliveryRow).where(col(CustomerDeliveryRow.customer_id).in_(customer_ids))
    )
    return {row.customer_id: row for row in rows}


def preferences_out(
    row: CustomerDeliveryRow | None, defaults: DeliveryPlan
) -> DeliveryPreferencesOut:
    """As the API shows them: the zone and order in force, the customer's own window."""
    plan = resolve(row, defaults)
    own = row.quiet_hours if row is not None else None
    return DeliveryPreferencesOut(
        timezone=plan.timezone,
        quiet_hours=QuietHours.model_validate(own) if own is not None else None,
        channel_order=plan.channel_order,
    )


async def set_preferences(
    session: AsyncSession, customer_id: str, changes: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Apply the fields given (a null clears the customer's own value); the stored
    preferences before and after, for the audit trail."""
    row = await session.get(CustomerDeliveryRow, customer_id)
    if row is None:
        row = CustomerDeliveryRow(customer_id=customer_id, updated_at=datetime.now(UTC))
    before = _stored(row)
    for name, value in changes.items():
        setattr(row, name, value)
    row.updated_at = datetime.now(UTC)
    session.add(row)
    await session.flush()
    return before, _stored(row)


def _stored(row: CustomerDeliveryRow) -> dict[str, Any]:
    return {
        "timezone": row.timezone,
        "quiet_hours": row.quiet_hours,
        "channel_order": row.channel_order,
    }


async def fix_plan(session: AsyncSession, invoice_id: str, plan: DeliveryPlan) -> None:
    """Keep the invoice's plan (once: a retried generation finds it there)."""
    await insert_if_absent(
        session,
        InvoiceDeliveryRow,
        invoice_id=invoice_id,
        timezone=plan.timezone,
        quiet_hours=plan.quiet_hours.model_dump(mode="json") if plan.quiet_hours else None,
        channel_order=list(plan.channel_order),
    )


async def plan_of(session: AsyncSession, invoice_id: str) -> DeliveryPlan:
    """The invoice's plan; an invoice from before plans: any hour, e-mail then SMS."""
    row = await session.get(InvoiceDeliveryRow, invoice_id)
    if row is None:
        return DeliveryPlan()
    return DeliveryPlan(
        timezone=row.timezone,
        quiet_hours=QuietHours.model_validate(row.quiet_hours) if row.quiet_hours else None,
        channel_order=row.channel_order,  # type: ignore[arg-type]
    )


async def attempts(session: AsyncSession, invoice_id: str) -> list[DeliveryAttemptOut]:
    """Every channel tried for the invoice's messages, in the order they were tried."""
    rows = await session.exec(
        select(DeliveryAttemptRow)
        .where(DeliveryAttemptRow.invoice_id == invoice_id)
        .order_by(
            col(DeliveryAttemptRow.at),
            col(DeliveryAttemptRow.activity_attempt),
            col(DeliveryAttemptRow.position),
        )
    )
    return [DeliveryAttemptOut.model_validate(row, from_attributes=True) for row in rows]
