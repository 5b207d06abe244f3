"""What an outgoing webhook says and when it is retried: pure functions, no I/O.

The events come from the audit trail (every step writes one row, once): `events_for`
turns one audit row (or a dispute's "resolved" timeline event) into the public events it
means. An event's id is a hash of the step that recorded it, so it is the same on every
read of the row, every retry and every resend, and a receiver can dedupe on it.

Three facts have more than one step that can record them, and are keyed by the invoice
instead, so they are sent once whichever step comes first:

- ``invoice.issued``: an invoice needing no approval is issued when it is generated, one
  needing approval when the last approver says yes, one held at a PO exception when that
  is resolved; the audit does not say which at generation time. Every issued invoice is
  then delivered (or fails to be), so the event comes from the ``invoice.issued`` step
  (approval) or else from the first delivery outcome, whichever is read first.
- ``invoice.paid``: a payment that clears the balance, or a dispute's outcome that does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

EVENT_TYPES = (
    "invoice.issued",
    "invoice.delivered",
    "invoice.delivery_failed",
    "invoice.paid",
    "invoice.partially_paid",
    "invoice.overdue",
    "invoice.reminder_sent",
    "invoice.disputed",
    "dispute.resolved",
    "credit_note.issued",
    "invoice.closed",
)
ALL_EVENTS = "*"

# the audit fields an upstream app may see (never a recipient's address or a link)
_PUBLIC_FIELDS = (
    "number",
    "total_minor",
    "channel",
    "payment_id",
    "amount_minor",
    "balance_minor",
    "dispute_id",
    "reason",
    "credit_note_id",
    "settlement",
    "resolution",
    "credit_note_number",
    "step",  # a reminder's step, its tone and the late charge it added
    "tone",
    "charge_minor",
)


@dataclass(frozen=True)
class SourceRow:
    """An audit row, or a dispute timeline event, as the dispatcher reads it."""

    step_key: str
    action: str
    invoice_id: str | None
    at: datetime
    data: dict[str, Any]


@dataclass(frozen=True)
class PublicEvent:
    id: str
    type: str
    invoice_id: str | None
    source_key: str
    occurred_at: datetime
    payload: dict[str, Any]


def event_id(key: str) -> str:
    """`evt_` and 32 hex digits of the key's SHA-256: stable, and says nothing of the key."""
    return "evt_" + hashlib.sha256(key.encode()).hexdigest()[:32]


def delivery_id(event: str, endpoint_id: str) -> str:
    """One delivery per (event, endpoint), the same id however often it is fanned out."""
    return "whd_" + hashlib.sha256(f"{event}|{endpoint_id}".encode()).hexdigest()[:24]


def _types_and_keys(row: SourceRow) -> list[tuple[str, str]]:
    """(public type, the key its id derives from), in the order they happened."""
    action, data, invoice = row.action, row.data, row.invoice_id
    if action == "invoice.issued" and invoice:
        return [("invoice.issued", f"{invoice}:issued")]
    if action in ("invoice.delivered", "invoice.delivery_failed") and invoice:
        return [("invoice.issued", f"{invoice}:issued"), (action, row.step_key)]
    if action == "payment.recorded" and invoice:
        if "balance_minor" not in data or data.get("status") == "CLOSED":
            return []  # recorded before webhooks existed, or a late extra on a closed one
        if int(data["balance_minor"]) <= 0:
            return [("invoice.paid", f"{invoice}:paid")]
        return [("invoice.partially_paid", row.step_key)]
    if action == "invoice.paid" and invoice:
        return [("invoice.paid", f"{invoice}:paid")]
    simple = {
        "invoice.overdue": "invoice.overdue",
        "invoice.reminder_sent": "invoice.reminder_sent",
        "invoice.closed": "invoice.closed",
        "dispute.opened": "invoice.disputed",
        "dispute.resolved": "dispute.resolved",
        "credit_note.issued": "credit_note.issued",
    }
    if action in simple:
        return [(simple[action], row.step_key)]
    return []


def events_for(row: SourceRow) -> list[PublicEvent]:
    """The public events one source row stands for (most rows: none)."""
    out = []
    for kind, key in _types_and_keys(row):
        fields = {k: row.data[k] for k in _PUBLIC_FIELDS if k in row.data}
        if kind == "invoice.issued":
            fields = {}  # a delivery's channel is the delivered event's business
        data: dict[str, Any] = {"invoice_id": row.invoice_id, **fields}
        identifier = event_id(key)
        out.append(
            PublicEvent(
                id=identifier,
                type=kind,
                invoice_id=row.invoice_id,
                source_key=key,
                occurred_at=row.at,
                # the Standard Webhooks payload shape: type, timestamp, data
                payload={"type": kind, "timestamp": _rfc3339(row.at), "data": data},
            )
        )
    return out


def subscribed(event_types: list[str], kind: str) -> bool:
    return ALL_EVENTS in event_types or kind in event_types


def _rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- retries ---------------------------------------------------------------------------

# A Retry-After longer than this is capped: the schedule as a whole is the bound
MAX_RETRY_AFTER = timedelta(hours=6)


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A Retry-After header (seconds, or an HTTP date) as a delay; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    delay: timedelta | None
    if value.isdigit():
        delay = timedelta(seconds=int(value))
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        delay = max(when - now, timedelta(0))
    return min(delay, MAX_RETRY_AFTER)


def outcome_of(status_code: int) -> str:
    """delivered (2xx), gone (410: the receiver says it will never take these again),
    or retry (anything else: 5xx, 429, and other 4xx too, which a fixed receiver may yet
    accept, as the Standard Webhooks spec's providers do)."""
    if 200 <= status_code < 300:
        return "delivered"
    if status_code == 410:
        return "gone"
    return "retry"
