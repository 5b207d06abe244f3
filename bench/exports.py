"""Time and memory to export a year of invoices: ``make bench-exports``
(``python -m bench.exports``).

Seeds a scratch SQLite file (migrated, then bulk-inserted with sqlite3: BENCH_EXPORT_INVOICES
invoices, default 100,000, over 2026, a tenth with two VAT rates; a payment for every
second invoice and a credit note for every hundredth), then writes each format through
`core.exports.write_export` (the store's keyset batches and the file writers the API and
the CLI use) in a fresh child process, so each figure is that export's alone: wall time,
the child's peak RSS, and the same for a child that only imports and connects (the
baseline the export adds to). BENCH_EXPORT_API=1 also downloads the CSV through the API
app in process (ASGI, no network). The (date, id) indexes the batches read by come with the
migrations (0010).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any, cast

INVOICES = int(os.environ.get("BENCH_EXPORT_INVOICES", "100000"))
CUSTOMERS = 1000
STAMP = "2026-01-01 00:00:00.000000"


def _invoices(rng: random.Random) -> Iterator[tuple[Any, ...]]:
    for n in range(INVOICES):
        customer = n % CUSTOMERS
        issued = date(2026, 1, 1) + timedelta(days=rng.randrange(365))
        net = rng.randrange(1_000, 2_000_000)
        lines: list[dict[str, Any]] = [
            {"name": "VAT", "rate": "0.20", "category": "standard", "taxable_minor": net}
        ]
        lines[0]["tax_minor"] = round(net * 0.2)
        if n % 10 == 0:
            reduced = rng.randrange(100, 50_000)
            lines.append(
                {
                    "name": "VAT",
                    "rate": "0.05",
                    "category": "reduced",
                    "taxable_minor": reduced,
                    "tax_minor": round(reduced * 0.05),
                }
            )
            net += reduced
        tax = sum(int(line["tax_minor"]) for line in lines)
        paid = net + tax if n % 2 == 0 else 0
        yield (
            f"inv_{n:07d}",
            f"cus_{customer:05d}",
            f"con_{customer:05d}",
            f"INV-2026-{n + 1:06d}",
            "PAID" if paid else "ISSUED",
            "GBP",
            "GB",
            issued.isoformat(),
            (issued + timedelta(days=30)).isoformat(),
            net,
            tax,
            net + tax,
            paid,
            json.dumps(lines),
            "bench",
            STAMP,
            STAMP,
        )


def seed(path: Path) -> dict[str, int]:
    from store.migrations import upgrade

    upgrade(f"sqlite:///{path}")
    rng = random.Random(16)
    db = sqlite3.connect(path)
    with db:
        db.executemany(
            "INSERT INTO customers (id, name, email, locale, created_at, po_required)"
            " VALUES (?, ?, ?, 'en_GB', ?, 0)",
            (
                (f"cus_{c:05d}", f"Customer {c}", f"c{c}@bench.test", STAMP)
                for c in range(CUSTOMERS)
            ),
        )
        db.executemany(
            "INSERT INTO contracts (id, customer_id, currency, tax_region, payment_terms_days,"
            " rates, invoice_series, created_at, po_required)"
            " VALUES (?, ?, 'GBP', 'GB', 30, '[]', 'INV', ?, 0)",
            ((f"con_{c:05d}", f"cus_{c:05d}", STAMP) for c in range(CUSTOMERS)),
        )
        db.executemany(
            "INSERT INTO invoices (id, customer_id, contract_id, number, status, currency,"
            " tax_region, issue_date, due_date, subtotal_minor, tax_minor, total_minor,"
            " paid_minor, tax_lines, created_by, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            _invoices(rng),
        )
        db.execute(
            "INSERT INTO payments (id, invoice_id, amount_minor, currency, paid_at, recorded_at)"
            " SELECT 'pay_' || id, id, total_minor, currency, issue_date || ' 12:00:00.000000',"
            " issue_date || ' 12:00:00.000000' FROM invoices WHERE paid_minor > 0"
        )
        db.execute(
            "INSERT INTO credit_notes (id, number, invoice_id, currency, amount_minor, reason,"
            " settlement, status, created_at)"
            " SELECT 'cn_' || id, 'CN-' || number, id, currency, total_minor / 10, 'pricing',"
            " 'balance', 'issued', issue_date || ' 15:00:00.000000'"
            " FROM invoices WHERE CAST(substr(id, 5) AS INTEGER) % 100 = 1"
        )
    counts = {
        table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in ("invoices", "payments", "credit_notes")
    }
    db.close()
    return counts


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def _export_once(db: Path, file_format: str, out: Path) -> None:
    from core.exports import parse_request, write_export
    from store.db import create_engine, session_factory

    engine = create_engine(f"sqlite:///{db}")
    try:
        if file_format == "none":  # the baseline: imports, engine, one query
            from store.exports import ExportPeriod, tax_columns

            await tax_columns(
                session_factory(engine), ExportPeriod(date(2027, 1, 1), date(2027, 1, 1))
            )
            return
        if file_format == "api":
            await _through_api(db, out)
            return
        request = parse_request("2026-01-01", "2026-12-31", file_format)
        await write_export(session_factory(engine), request, out)
    finally:
        await engine.dispose()


async def _through_api(db: Path, out: Path) -> None:
    import httpx
    from temporalio.client import Client

    from api.app import create_app
    from core.settings import Settings
    from store import api_keys
    from store.db import create_engine, session_factory, transaction

    engine = create_engine(f"sqlite:///{db}")
    async with transaction(session_factory(engine)) as session:
        _, key = await api_keys.create(session, "bench")
    await engine.dispose()
    app = create_app(
        Settings(environment="test", database_url=f"sqlite:///{db}"),
        temporal=cast(Client, object()),
    )
    params = {"from": "2026-01-01", "to": "2026-12-31", "format": "csv"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client,
        client.stream(
            "GET", "/exports/invoices", params=params, headers={"X-API-Key": key}
        ) as response,
    ):
        response.raise_for_status()
        with out.open("wb") as file:
            async for chunk in response.aiter_bytes():
                file.write(chunk)


def child(db: str, file_format: str, out: str) -> None:
    """One export in this process; prints its figures as JSON for the parent."""
    started = time.perf_counter()
    asyncio.run(_export_once(Path(db), file_format, Path(out)))
    wall = time.perf_counter() - started
    size = Path(out).stat().st_size if Path(out).exists() else 0
    print(json.dumps({"wall_s": wall, "peak_rss_mib": _peak_rss_mib(), "bytes": size}))


def _run_child(db: Path, file_format: str, out: Path) -> dict[str, float]:
    argv = [sys.executable, "-m", "bench.exports", "--child", str(db), file_format, str(out)]
    done = subprocess.run(argv, check=True, capture_output=True, text=True)
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-exports-") as scratch:
        db = Path(scratch) / "invoices.db"
        started = time.perf_counter()
        counts = seed(db)
        print(
            f"seeded {counts['invoices']:,} invoices, {counts['payments']:,} payments, "
            f"{counts['credit_notes']:,} credit notes in {time.perf_counter() - started:.1f} s "
            f"({db.stat().st_size / 2**20:.0f} MiB SQLite file)"
        )
        formats = ["none", "csv", "xlsx", "json"]
        if os.environ.get("BENCH_EXPORT_API") == "1":
            formats.append("api")
        print(f"{'export':<10} {'wall s':>8} {'peak RSS MiB':>13} {'file MiB':>9}")
        for file_format in formats:
            figures = _run_child(db, file_format, Path(scratch) / f"out.{file_format}")
            label = {"none": "baseline", "api": "csv (API)"}.get(file_format, file_format)
            print(
                f"{label:<10} {figures['wall_s']:>8.2f} {figures['peak_rss_mib']:>13.1f} "
                f"{figures['bytes'] / 2**20:>9.1f}"
            )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:5])
    else:
        main()
