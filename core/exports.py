"""An invoice export as a file, for the API (`GET /exports/invoices`) and the CLI
(`invoiceflow export invoices`): the request checked once for both, and the writers of
CSV, JSON and XLSX that take the store's rows one at a time.

Every format has the same columns in the same order (`header`): the document, its date
and customer, net, tax and gross, one column per (tax, rate) seen in the period (fixed by
a first pass, `store.exports.tax_columns`), status, balance and the linked invoice's
number. Amounts are exact decimals in major units with the currency's digits:

- CSV (RFC 4180, UTF-8 without a byte-order mark, CRLF): amounts as text, "1234.56";
  a cell the row has nothing for (a payment's tax) is empty.
- JSON: one array of objects keyed by the header, amounts as strings, empty cells null.
  An array rather than JSON Lines because `json.load` reads it whole and most tools
  expect one document; it is still written (and can be read) row by row.
- XLSX: amounts are number cells (a spreadsheet must be able to sum them) written from
  the Decimal, so the file holds the exact decimal text ("1234.56"); dates are date cells.

CSV and JSON are streamed as they are written. XLSX cannot be: its zip is assembled only
when the workbook closes, so it is written to a temporary file (xlsxwriter's
constant_memory mode keeps one row in memory) and that file is then streamed.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import xlsxwriter

from domain.exports import TaxColumn, major_units
from domain.money import exponent
from store.db import SessionFactory
from store.exports import ExportPeriod, ExportRow, export_rows, tax_columns


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    JSON = "json"


MEDIA_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.JSON: "application/json",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")  # fromisoformat alone also takes 20260101, 2026-W01


class InvalidExport(ValueError):
    """The request cannot be exported; `code` is stable (the API's problem code)."""

    def __init__(self, detail: str, *, code: str, field: str) -> None:
        super().__init__(detail)
        self.detail, self.code, self.field = detail, code, field


@dataclass(frozen=True)
class ExportRequest:
    period: ExportPeriod
    format: ExportFormat

    @property
    def filename(self) -> str:
        return f"invoices-{self.period.first}-{self.period.last}.{self.format.value}"


def _day(text: str, field: str) -> dt.date:
    try:
        if _DAY.fullmatch(text):
            return dt.date.fromisoformat(text)
    except ValueError:
        pass
    raise InvalidExport(
        f"{field} must be a date as YYYY-MM-DD (e.g. 2026-01-31), not {text!r}",
        code="invalid_date",
        field=field,
    )


def parse_request(start: str, end: str, file_format: str) -> ExportRequest:
    """The export asked for, or `InvalidExport` saying what is wrong with it."""
    first, last = _day(start, "from"), _day(end, "to")
    if first > last:
        raise InvalidExport(
            f"from ({first}) is after to ({last})", code="invalid_period", field="from"
        )
    if last >= dt.date.max:
        raise InvalidExport("to must be before 9999-12-31", code="invalid_period", field="to")
    try:
        chosen = ExportFormat(file_format.lower())
    except ValueError:
        known = ", ".join(f.value for f in ExportFormat)
        raise InvalidExport(
            f"format {file_format!r} is not one of {known}", code="unknown_format", field="format"
        ) from None
    return ExportRequest(ExportPeriod(first, last), chosen)


BEFORE_TAXES = (
    "document_type",
    "number",
    "date",
    "due_date",
    "customer_id",
    "customer_name",
    "currency",
    "net",
    "tax",
    "gross",
)
AFTER_TAXES = ("status", "balance", "invoice_number")

Cell = str | dt.date | Decimal | None


def header(columns: Sequence[TaxColumn]) -> list[str]:
    return [*BEFORE_TAXES, *(column.label for column in columns), *AFTER_TAXES]


def cells(row: ExportRow, columns: Sequence[TaxColumn]) -> list[Cell]:
    """The row's values in `header` order; amounts as exact major-unit Decimals."""

    def amount(minor: int | None) -> Decimal | None:
        return None if minor is None else major_units(minor, row.currency)

    return [
        row.document_type,
        row.number,
        row.date,
        row.due_date,
        row.customer_id,
        row.customer_name,
        row.currency,
        amount(row.net_minor),
        amount(row.tax_minor),
        amount(row.gross_minor),
        *(amount(row.taxes.get(column)) for column in columns),
        row.status,
        amount(row.balance_minor),
        row.invoice_number,
    ]


# a text cell a spreadsheet would read as a formula (a customer named "=HYPERLINK(...)"):
# prefixed with an apostrophe, as OWASP advises for CSV; amounts and dates are never text
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_text(cell: Cell) -> str:
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return f"'{cell}"
    return _text(cell) or ""


def _text(cell: Cell) -> str | None:
    if cell is None or isinstance(cell, str):
        return cell
    if isinstance(cell, Decimal):
        return f"{cell:f}"
    return cell.isoformat()


# rows per chunk handed to the response: large enough that a chunk is not a syscall per
# row, small enough that the client sees bytes early and memory stays flat
ROWS_PER_CHUNK = 500


async def csv_chunks(
    rows: AsyncIterator[ExportRow], columns: Sequence[TaxColumn]
) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # the excel dialect: RFC 4180 quoting, CRLF
    writer.writerow(header(columns))
    count = 0
    async for row in rows:
        writer.writerow([_csv_text(cell) for cell in cells(row, columns)])
        count += 1
        if count % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


async def json_chunks(
    rows: AsyncIterator[ExportRow], columns: Sequence[TaxColumn]
) -> AsyncIterator[bytes]:
    keys = header(columns)
    parts: list[str] = ["["]
    count = 0
    async for row in rows:
        values = [_text(cell) for cell in cells(row, columns)]
        parts.append(
            ("\n" if count == 0 else ",\n") + json.dumps(dict(zip(keys, values, strict=True)))
        )
        count += 1
        if count % ROWS_PER_CHUNK == 0:
            yield "".join(parts).encode()
            parts.clear()
    parts.append("\n]\n" if count else "]\n")
    yield "".join(parts).encode()


async def write_xlsx(
    rows: AsyncIterator[ExportRow], columns: Sequence[TaxColumn], path: Path
) -> None:
    """The workbook at `path`, one sheet "invoices", written a row at a time."""
    workbook: Any = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    try:
        sheet = workbook.add_worksheet("invoices")
        bold = workbook.add_format({"bold": True})
        day = workbook.add_format({"num_format": "yyyy-mm-dd"})
        amounts: dict[int, Any] = {}  # one number format per currency exponent
        sheet.write_row(0, 0, header(columns), bold)
        number = 0
        async for row in rows:
            number += 1
            digits = exponent(row.currency)
            if digits not in amounts:
                pattern = "0." + "0" * digits if digits else "0"
                amounts[digits] = workbook.add_format({"num_format": pattern})
            for index, cell in enumerate(cells(row, columns)):
                if isinstance(cell, Decimal):
                    sheet.write_number(number, index, cell, amounts[digits])
                elif isinstance(cell, dt.date):
                    sheet.write_datetime(number, index, cell, day)
                elif cell is not None:
                    sheet.write_string(number, index, cell)
    finally:
        # assembling the zip takes a while on a large sheet: not on the event loop
        await asyncio.to_thread(workbook.close)


async def write_export(sessions: SessionFactory, request: ExportRequest, path: Path) -> None:
    """The export written to `path` (the CLI's file, the API's XLSX)."""
    columns = await tax_columns(sessions, request.period)
    rows = export_rows(sessions, request.period)
    if request.format is ExportFormat.XLSX:
        await write_xlsx(rows, columns, path)
    else:
        chunks = csv_chunks if request.format is ExportFormat.CSV else json_chunks
        with path.open("wb") as out:
            async for chunk in chunks(rows, columns):
                out.write(chunk)


def stream_export(
    sessions: SessionFactory, request: ExportRequest, columns: Sequence[TaxColumn]
) -> AsyncIterator[bytes]:
    """A CSV or JSON export as it is written (XLSX: `write_export` to a file first). The
    caller reads `columns` first, so that a failing database answers an error before the
    response has begun."""
    rows = export_rows(sessions, request.period)
    chunks = csv_chunks if request.format is ExportFormat.CSV else json_chunks
    return chunks(rows, columns)
