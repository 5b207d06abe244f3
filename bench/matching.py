"""The PO matcher at scale: ``make bench-matching`` (``python -m bench.matching``).

Builds a PO of BENCH_MATCH_LINES (default 10,000) lines and two invoices billing every one
of them (each line named by item code, so the by-code index does the mapping): one that
matches exactly, one whose every other line is 0.5% over the PO's price within a 1%
tolerance (a price variance per such line, MATCHED_WITH_VARIANCE). Times `match_invoice`
on each, BENCH_MATCH_RUNS times (default 15) after a warm-up, and prints the best and the
median against the target as a process runs it (the garbage collector's collections as
they come), how many full collections the runs caused, and the median with the collector
off (the matcher's own work). Pure CPU in one process: no stack, nothing to clean up.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import statistics
import time
from decimal import Decimal

from domain.matching import (
    InvoiceToMatch,
    LineToMatch,
    MatchMode,
    POStatus,
    PurchaseOrderLine,
    PurchaseOrderSnapshot,
    Tolerances,
    match_invoice,
)
from domain.money import round_minor

LINES = int(os.environ.get("BENCH_MATCH_LINES", "10000"))
RUNS = int(os.environ.get("BENCH_MATCH_RUNS", "15"))
TARGET_MS = 100.0
TOLERANCES = Tolerances(
    price_over_pct=Decimal(1), quantity_over_pct=Decimal(5), total_over_pct=Decimal(1)
)


def build_po(count: int) -> PurchaseOrderSnapshot:
    return PurchaseOrderSnapshot(
        po_id="po_bench",
        number="PO-BENCH",
        customer_id="cus_bench",
        currency="GBP",
        status=POStatus.OPEN,
        match_mode=MatchMode.THREE_WAY,
        valid_from=dt.date(2026, 1, 1),
        valid_to=dt.date(2026, 12, 31),
        lines=tuple(
            PurchaseOrderLine(
                line_number=n,
                item_code=f"SKU-{n:05d}",
                description=f"Item {n}",
                quantity=Decimal(10 + n % 7),
                unit="each",
                unit_price_minor=1000 + n,
                invoiced_quantity=Decimal(n % 3),
                received_quantity=Decimal(10 + n % 7),
            )
            for n in range(1, count + 1)
        ),
    )


def build_invoice(po: PurchaseOrderSnapshot, with_variances: bool) -> InvoiceToMatch:
    lines = []
    for po_line in po.lines:
        price = po_line.unit_price_minor
        if with_variances and po_line.line_number % 2 == 0:
            price += round_minor(Decimal(price) / 200)  # 0.5% over, within the 1%
        quantity = po_line.quantity - po_line.invoiced_quantity
        lines.append(
            LineToMatch(
                position=po_line.line_number,
                item_code=po_line.item_code,
                description=po_line.description,
                quantity=quantity,
                unit="Each",
                unit_price_minor=price,
                net_minor=round_minor(quantity * price),
            )
        )
    net = sum(line.net_minor for line in lines)
    return InvoiceToMatch(
        invoice_id="inv_bench" + ("_var" if with_variances else ""),
        customer_id=po.customer_id,
        currency="GBP",
        issue_date=dt.date(2026, 6, 1),
        po_number=po.number,
        po_required=True,
        lines=tuple(lines),
        net_minor=net,
        total_minor=net,
    )


def time_match(
    invoice: InvoiceToMatch, po: PurchaseOrderSnapshot, collector: bool
) -> tuple[list[float], int]:
    """Milliseconds per run, and how many full (generation 2) collections the runs made;
    `collector` False switches the garbage collector off during each run, which leaves the
    matcher's own work."""
    full_collections = 0

    def count(phase: str, info: dict[str, int]) -> None:
        nonlocal full_collections
        if phase == "start" and info["generation"] == 2:
            full_collections += 1

    timings = []
    gc.callbacks.append(count)
    try:
        for _ in range(RUNS):
            if not collector:
                gc.disable()
            started = time.perf_counter()
            match_invoice(invoice, po, tolerances=TOLERANCES)
            timings.append((time.perf_counter() - started) * 1000)
            gc.enable()
    finally:
        gc.callbacks.remove(count)
    return timings, full_collections


def main() -> None:
    po = build_po(LINES)
    print(
        f"match_invoice: a {LINES:,}-line PO (3-way), {RUNS} runs each, target <= {TARGET_MS:.0f} ms"
    )
    print(
        f"{'invoice':<26}{'outcome':<23}{'variances':>9}{'best ms':>9}{'median ms':>11}"
        f"{'full GCs/run':>14}{'median ms, GC off':>19}"
    )
    for label, with_variances in (("exact", False), ("every other price +0.5%", True)):
        invoice = build_invoice(po, with_variances)
        result = match_invoice(invoice, po, tolerances=TOLERANCES)  # warm-up, and the outcome
        timings, full_collections = time_match(invoice, po, collector=True)
        without_collector, _ = time_match(invoice, po, collector=False)
        median = statistics.median(timings)
        verdict = "met" if median <= TARGET_MS else "NOT met"
        print(
            f"{label:<26}{result.outcome.value:<23}{len(result.variances):>9}"
            f"{min(timings):>9.1f}{median:>11.1f}{full_collections / RUNS:>14.1f}"
            f"{statistics.median(without_collector):>19.1f}  (target {verdict})"
        )


if __name__ == "__main__":
    main()
