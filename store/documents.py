"""Rows of the documents issued (`schemas.document_tables.DocumentRow`): found by what they
are of, recorded once (the first rendering wins a race), each recording audited with its
checksum."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from schemas.document_tables import DocumentRow
from schemas.ids import new_id
from store import audit
from store.db import insert_if_absent


async def find(
    session: AsyncSession, subject_id: str, kind: str, version: int = 1
) -> DocumentRow | None:
    query = select(DocumentRow).where(
        DocumentRow.subject_id == subject_id,
        DocumentRow.kind == kind,
        DocumentRow.version == version,
    )
    return (await session.exec(query.execution_options(populate_existing=True))).first()


async def record(
    session: AsyncSession,
    *,
    subject_id: str,
    invoice_id: str,
    kind: str,
    media_type: str,
    filename: str,
    sha256: str,
    size: int,
    at: datetime,
    version: int = 1,
) -> DocumentRow:
    """The document's row: this one, or the one a concurrent rendering recorded first."""
    created = await insert_if_absent(
        session,
        DocumentRow,
        id=new_id("doc"),
        subject_id=subject_id,
        invoice_id=invoice_id,
        kind=kind,
        version=version,
        media_type=media_type,
        filename=filename,
        sha256=sha256,
        size=size,
        created_at=at,
    )
    if created:
        await audit.record(
            session,
            step_key=f"{subject_id}:document:{kind}:{version}",
            invoice_id=invoice_id,
            entity="document",
            action="document.issued",
            actor="workflow",
            data={"kind": kind, "version": version, "sha256": sha256, "size": size},
            at=at,
        )
    found = await find(session, subject_id, kind, version)
    assert found is not None
    return found
