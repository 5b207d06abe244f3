"""GET /exports/invoices and `invoiceflow export invoices` on SQLite and PostgreSQL: every
format round-trips (the exported invoices' gross per currency is the stored invoices'
total), credit notes and payments carry their invoice, the period's edges hold, the tax
columns add up, bad requests are refused, and the CLI writes the API's file."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from temporalio.client import Client
from typer.testing import CliRunner

from cli.main import app as cli_app
from core.exports import AFTER_TAXES, BEFORE_TAXES
from core.settings import get_settings
from domain.money import exponent
from store.exports import ExportPeriod, export_rows
from tests.api.test_invoices_api import assert_problem
from tests.exports.seeding import FIRST, LAST, seed_year
from tests.support.disputes import Api, dispute_api

PERIOD = {"from": FIRST.isoformat(), "to": LAST.isoformat()}
Table = list[dict[str, str]]


@pytest.fixture
async def api(temporal: Client, db_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    async with dispute_api(temporal, db_url, tmp_path / "evidence") as running:
        yield running


def _from_csv(content: bytes) -> Table:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8"), newline="")))


def _from_json(content: bytes) -> Table:
    rows = json.loads(content)
    assert isinstance(rows, list)
    return [{k: "" if v is None else v for k, v in row.items()} for row in rows]


def _from_xlsx(content: bytes) -> Table:
    """Cells as the CSV has them: numbers at their currency's digits, dates ISO."""
    sheet = openpyxl.load_workbook(io.BytesIO(content), read_only=True)["invoices"]
    rows = list(sheet.iter_rows(values_only=True))
    keys = [str(k) for k in rows[0]]
    table: Table = []
    for values in rows[1:]:
        row = dict(zip(keys, values, strict=True))
        digits = exponent(str(row["currency"]))
        for key, value in row.items():
            if isinstance(value, datetime):
                row[key] = value.date().isoformat()
            elif isinstance(value, int | float):
                row[key] = f"{Decimal(repr(value)).quantize(Decimal(1).scaleb(-digits)):f}"
            elif value is None:
                row[key] = ""
        table.append({k: str(v) for k, v in row.items()})
    return table


PARSERS = {"csv": _from_csv, "json": _from_json, "xlsx": _from_xlsx}


async def _export(api: Api, file_format: str, **params: str) -> Table:
    query = {**PERIOD, "format": file_format, **params}
    response = await api.client.get("/exports/invoices", params=query)
    assert response.status_code == 200, response.text
    disposition = response.headers["content-disposition"]
    name = f"invoices-{query['from']}-{query['to']}.{file_format}"
    assert disposition == f"attachment; filename={name}"
    return PARSERS[file_format](response.content)


def _tax_labels(table: Table) -> list[str]:
    return [k for k in table[0] if k not in BEFORE_TAXES and k not in AFTER_TAXES]


@pytest.mark.parametrize("file_format", ["csv", "xlsx", "json"])
async def test_an_export_round_trips_the_stored_invoices(api: Api, file_format: str) -> None:
    seeded = await seed_year(api.sessions)
    table = await _export(api, file_format)

    invoices = [row for row in table if row["document_type"] == "invoice"]
    assert {row["number"] for row in invoices} == seeded.invoice_numbers  # no PENDING, no edge
    gross: dict[str, int] = {}
    for row in invoices:
        minor = int(Decimal(row["gross"]).scaleb(exponent(row["currency"])))
        gross[row["currency"]] = gross.get(row["currency"], 0) + minor
    assert gross == seeded.totals
    assert "Kyoto Works" in {row["customer_name"] for row in invoices}
    assert {row["gross"] for row in invoices if row["currency"] == "JPY"} == {"5000"}

    # every tax, at every rate, that the period's documents carry; the older invoice's
    # 17.5% only because a credit note of the period credits it
    assert _tax_labels(table) == ["GST 5%", "PST 7%", "VAT 0%", "VAT 5%", "VAT 17.5%", "VAT 20%"]
    for row in table:
        if row["document_type"] == "payment":
            assert row["tax"] == "" and all(row[label] == "" for label in _tax_labels(table))
            continue
        per_rate = sum(Decimal(row[label] or "0") for label in _tax_labels(table))
        assert per_rate == Decimal(row["tax"]), row
        assert Decimal(row["net"]) + Decimal(row["tax"]) == Decimal(row["gross"]), row

    numbers = {row["number"] for row in table}
    assert not numbers & seeded.outside


@pytest.mark.parametrize("file_format", ["csv", "xlsx", "json"])
async def test_credit_notes_and_payments_carry_their_invoice(api: Api, file_format: str) -> None:
    seeded = await seed_year(api.sessions)
    table = await _export(api, file_format)
    notes = {r["number"]: r for r in table if r["document_type"] == "credit_note"}
    payments = {r["number"]: r for r in table if r["document_type"] == "payment"}
    assert {n: r["invoice_number"] for n, r in notes.items()} == seeded.credit_note_numbers
    assert {p: r["invoice_number"] for p, r in payments.items()} == seeded.payment_ids

    canadian = next(r for r in notes.values() if r["currency"] == "CAD")
    # half of the invoice credited: half of each tax, negative, as of its own day
    assert (canadian["gross"], canadian["net"], canadian["tax"]) == ("-560.00", "-500.00", "-60.00")
    assert (canadian["GST 5%"], canadian["PST 7%"], canadian["date"]) == (
        "-25.00",
        "-35.00",
        "2026-06-15",
    )
    assert canadian["customer_name"] == "Maple Leaf Supplies" and canadian["balance"] == ""

    by_invoice = {r["invoice_number"]: r for r in payments.values()}
    assert sorted(r["gross"] for r in by_invoice.values()) == ["10.00", "500.00"]
    assert {r["date"] for r in payments.values()} == {"2026-03-20", "2026-12-31"}

    invoices = {r["number"]: r for r in table if r["document_type"] == "invoice"}
    assert {r["status"]: r["balance"] for r in invoices.values() if r["currency"] == "GBP"} == {
        "PARTIALLY_PAID": "805.00",  # 1305.00 less 500.00 paid
        "VOID": "0.00",  # owes nothing, whatever its total
    }
    assert {r["customer_name"] for r in invoices.values()} >= {'Smith, "Jones" & Co', "Müller GmbH"}


async def test_all_formats_hold_the_same_rows(api: Api) -> None:
    await seed_year(api.sessions)
    tables = [await _export(api, file_format) for file_format in ("csv", "json", "xlsx")]
    assert tables[0] == tables[1] == tables[2]
    kinds = [row["document_type"] for row in tables[0]]
    assert kinds == sorted(kinds, key=["invoice", "credit_note", "payment"].index)


async def test_a_narrower_period_leaves_out_what_is_outside_it(api: Api) -> None:
    await seed_year(api.sessions)
    table = await _export(api, "csv", **{"from": "2026-03-10", "to": "2026-03-20"})
    assert [(r["document_type"], r["date"]) for r in table] == [
        ("invoice", "2026-03-10"),
        ("invoice", "2026-03-10"),
        ("payment", "2026-03-20"),
    ]
    assert _tax_labels(table) == ["VAT 5%", "VAT 20%"]


async def test_batches_read_every_row_once_across_ties(api: Api) -> None:
    """The same rows whether read two at a time (a batch ends inside a tie on the date)
    or all in one."""
    await seed_year(api.sessions)
    period = ExportPeriod(FIRST, LAST)
    small = [row async for row in export_rows(api.sessions, period, batch_size=2)]
    whole = [row async for row in export_rows(api.sessions, period, batch_size=1000)]
    assert small == whole and len(whole) == 8


async def test_an_empty_period_is_a_file_with_only_its_header(api: Api) -> None:
    response = await api.client.get("/exports/invoices", params={**PERIOD, "format": "json"})
    assert response.status_code == 200 and response.json() == []
    response = await api.client.get("/exports/invoices", params=PERIOD)
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.text == ",".join((*BEFORE_TAXES, *AFTER_TAXES)) + "\r\n"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"from": "2026-02-30", "to": "2026-12-31"}, "invalid_date"),
        ({"from": "20260101", "to": "2026-12-31"}, "invalid_date"),
        ({"from": "2026-01-01", "to": "next week"}, "invalid_date"),
        ({"from": "2026-12-31", "to": "2026-01-01"}, "invalid_period"),
        ({**PERIOD, "format": "pdf"}, "unknown_format"),
        ({"from": "2026-01-01"}, "validation_failed"),
    ],
)
async def test_bad_requests_are_refused_with_their_code(
    api: Api, params: dict[str, str], code: str
) -> None:
    body = assert_problem(await api.client.get("/exports/invoices", params=params), 422, code)
    assert body["detail"]


async def test_an_export_needs_an_api_key(api: Api) -> None:
    response = await api.client.get(
        "/exports/invoices", params=PERIOD, headers={"Authorization": ""}
    )
    assert_problem(response, 401, "unauthorized")


async def test_the_cli_writes_the_file_the_api_answers(
    api: Api, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed_year(api.sessions)
    from_api = await api.client.get("/exports/invoices", params={**PERIOD, "format": "csv"})
    monkeypatch.setenv("INVOICEFLOW_DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        out = tmp_path / "year.csv"
        argv = ["export", "invoices", "--from", str(FIRST), "--to", str(LAST), "--out", str(out)]
        result = await asyncio.to_thread(CliRunner().invoke, cli_app, argv)
        assert result.exit_code == 0, result.output
        assert out.read_bytes() == from_api.content
        xlsx = tmp_path / "year.xlsx"
        argv = [*argv[:-1], str(xlsx), "--format", "xlsx"]
        result = await asyncio.to_thread(CliRunner().invoke, cli_app, argv)
        assert result.exit_code == 0, result.output
        assert _from_xlsx(xlsx.read_bytes()) == _from_csv(from_api.content)
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--from", "2026-01-01", "--to", "2026-13-01"], "to must be a date"),
        (["--from", "2026-02-01", "--to", "2026-01-01"], "is after to"),
        (["--from", "2026-01-01", "--to", "2026-01-31", "--format", "ods"], "is not one of"),
    ],
)
def test_the_cli_refuses_bad_input(argv: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli_app, ["export", "invoices", *argv, "--out", str(tmp_path / "x")]
    )
    assert result.exit_code == 2
    assert message in " ".join(result.output.split()) and not (tmp_path / "x").exists()
