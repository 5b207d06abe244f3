"""The accounting documents an invoice should have at the provider (`AccountingDocumentRow`):
written with each post's outcome, read by a re-sync."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schemas.sync_tables import AccountingDocumentRow
from store.db import insert_if_absent


async def record_document(
    session: AsyncSession,
    *,
    key: str,
    invoice_id: str,
    kind: str,
    path: str,
    idempotency_key: str,
    body: dict[str, Any],
    status: str,
    external_id: str | None = None,
    detail: str | None = None,
) -> None:
    """Insert the document's row, or bring it up to date (a refused one posted later)."""
    values: dict[str, Any] = {
        "invoice_id": invoice_id,
        "kind": kind,
        "path": path,
        "idempotency_key": idempotency_key,
        "body": body,
        "status": status,
        "external_id": external_id,
        "detail": detail,
        "updated_at": datetime.now(UTC),
    }
    if await insert_if_absent(session, AccountingDocumentRow, key=key, **values):
        return
    row = await session.get(AccountingDocumentRow, key)
    if row is None or (row.status == "posted" and status != "posted"):
        return  # a posted document stays posted
    for name, value in values.items():
        setattr(row, name, value)
    session.add(row)


async def documents_of(session: AsyncSession, invoice_id: str) -> list[AccountingDocumentRow]:
    rows = await session.exec(
        select(AccountingDocumentRow)
        .where(AccountingDocumentRow.invoice_id == invoice_id)
        .order_by(col(AccountingDocumentRow.updated_at), col(AccountingDocumentRow.key))
    )
    return list(rows)
