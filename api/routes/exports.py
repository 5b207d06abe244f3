"""`GET /exports/invoices`: a period's invoices, credit notes and payments as a CSV, XLSX
or JSON file, for the accountant (the columns and formats: `core.exports`).

The file is streamed: rows are read in keyset batches, each in a short read transaction
of its own (`store.exports`), and the request's own session is not used, so a slow
download holds no transaction open and never stands in a writer's way. The request is
checked before anything is read, and the tax columns are read before the response
starts, so a bad request or an unreachable database is a problem+json answer, not a
truncated file. XLSX is written to a temporary file first (constant memory) and then
streamed; the file is removed when the response ends, however it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from api.deps import ApiKeyDep
from api.errors import Unprocessable
from api.openapi import problems
from core.exports import (
    MEDIA_TYPES,
    ExportFormat,
    ExportRequest,
    InvalidExport,
    parse_request,
    stream_export,
    write_export,
)
from store.db import SessionFactory
from store.exports import tax_columns

router = APIRouter(tags=["reports"])

FILE_CHUNK = 64 * 1024


def _request(start: str, end: str, file_format: str) -> ExportRequest:
    try:
        return parse_request(start, end, file_format)
    except InvalidExport as bad:
        raise Unprocessable(bad.detail, code=bad.code, field=bad.field) from bad


async def _xlsx(sessions: SessionFactory, request: ExportRequest) -> AsyncIterator[bytes]:
    """The workbook written to a temporary file, which is streamed and then removed."""
    handle, name = tempfile.mkstemp(prefix="invoiceflow-export-", suffix=".xlsx")
    os.close(handle)

    def remove() -> None:
        # synchronous on purpose: it runs in `finally` while the response is being
        # cancelled (client gone), where an await would be cancelled before it ran
        with contextlib.suppress(OSError):
            os.unlink(name)

    try:
        await write_export(sessions, request, Path(name))
        file = await asyncio.to_thread(open, name, "rb")
    except BaseException:
        remove()
        raise

    async def chunks() -> AsyncIterator[bytes]:
        try:
            while chunk := await asyncio.to_thread(file.read, FILE_CHUNK):
                yield chunk
        finally:
            file.close()
            remove()

    return chunks()


@router.get(
    "/exports/invoices",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The file, as an attachment named invoices-FROM-TO.EXT",
            "content": {media_type: {} for media_type in MEDIA_TYPES.values()},
        },
        **problems(
            s422="A date that is not YYYY-MM-DD (`invalid_date`), `from` after `to`"
            " (`invalid_period`), or a format other than csv, xlsx, json (`unknown_format`)"
        ),
    },
)
async def export_invoices(
    request: Request,
    _: ApiKeyDep,
    start: Annotated[
        str, Query(alias="from", description="first day (UTC), inclusive", examples=["2026-01-01"])
    ],
    end: Annotated[
        str, Query(alias="to", description="last day (UTC), inclusive", examples=["2026-12-31"])
    ],
    file_format: Annotated[
        str, Query(alias="format", description="csv, xlsx or json", examples=["csv"])
    ] = "csv",
) -> StreamingResponse:
    """The period's documents, one row each: invoices by issue date (those with a number:
    a PENDING or REJECTED invoice has none and is left out), credit notes and payments by
    the UTC day they were made, with the invoice they belong to. Net, tax, one column per
    tax and rate, gross, status and balance; amounts in major units as exact decimals
    (credit notes negative). CSV and JSON (one array) are streamed as they are read."""
    export = _request(start, end, file_format)
    sessions: SessionFactory = request.app.state.sessions
    if export.format is ExportFormat.XLSX:
        body = await _xlsx(sessions, export)
    else:
        columns = await tax_columns(sessions, export.period)
        body = stream_export(sessions, export, columns)
    return StreamingResponse(
        body,
        media_type=MEDIA_TYPES[export.format],
        headers={
            "Content-Disposition": f"attachment; filename={export.filename}",
            "Cache-Control": "private, no-store",
        },
    )
