"""Invoice PDFs at volume: ``make bench-documents`` (``python -m bench.documents``).

Renders BENCH_PDFS (default 1,000) invoice PDFs one after another, as the delivery step
does (the same template and WeasyPrint call, an invoice of six lines with two tax rates),
then BENCH_FACTURX (default 100) Factur-X PDFs (the PDF plus its CII XML built from the
EN 16931 model and embedded), and prints the wall time, the time per document (median and
p95) and the process's peak memory (RSS) and what Python allocated at most (tracemalloc)
per phase (measured on 20 more documents, apart, since tracemalloc slows Python down
several times over). Pure CPU in one process: no stack, nothing to clean up.
"""

from __future__ import annotations

import os
import resource
import statistics
import time
import tracemalloc
from collections.abc import Callable

from domain.documents import invoice_document, seller_party, to_cii
from rendering.pdf import PdfParty, render_invoice_pdf, with_factur_x
from schemas.invoice import InvoiceSnapshot
from tests.rendering.samples import sample_invoice

PDFS = int(os.environ.get("BENCH_PDFS", "1000"))
FACTURX = int(os.environ.get("BENCH_FACTURX", "100"))
TRACED = 20  # documents rendered again under tracemalloc, for the allocation peak
SELLER = PdfParty.of(
    "Northwind Consulting Ltd",
    "12 Harbour Street\nBristol BS1 4RN\nUnited Kingdom",
    "GB284193702",
    "accounts@northwind.test",
)


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _phase(name: str, count: int, render: Callable[[int], bytes]) -> None:
    render(-1)  # warm-up: fonts, templates, the first layout
    times: list[float] = []
    size = 0
    started = time.perf_counter()
    for n in range(count):
        t0 = time.perf_counter()
        size += len(render(n))
        times.append(time.perf_counter() - t0)
    wall = time.perf_counter() - started
    # memory on a few more, apart: tracemalloc slows Python down several times over
    tracemalloc.start()
    for n in range(min(count, TRACED)):
        render(n)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    times.sort()
    p95 = times[max(int(len(times) * 0.95) - 1, 0)]
    print(
        f"{name}: {count} in {wall:.1f} s ({count / wall:.1f}/s); per document median"
        f" {statistics.median(times) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms; average"
        f" {size / count / 1024:.0f} KiB; Python allocations at most"
        f" {traced_peak / 2**20:.1f} MiB; process peak RSS {_peak_rss_mib():.0f} MiB"
    )


def _numbered(invoice: InvoiceSnapshot, n: int) -> InvoiceSnapshot:
    return invoice.model_copy(update={"number": f"INV-2026-{n + 10_000:05d}"})


def main() -> None:
    invoice = sample_invoice("en_GB")
    buyer = PdfParty.of(invoice.customer_name, "4 Dock Road\nLeeds LS1 4AP", None, None)
    seller = seller_party(
        name=SELLER.name,
        address="12 Harbour Street\nBristol BS1 4RN\nUnited Kingdom",
        tax_id=SELLER.tax_id,
        email=SELLER.email,
    )
    print(f"process RSS before rendering: {_peak_rss_mib():.0f} MiB (imports)")
    _phase("invoice PDF", PDFS, lambda n: render_invoice_pdf(_numbered(invoice, n), SELLER, buyer))

    def factur_x(n: int) -> bytes:
        numbered = _numbered(invoice, n)
        pdf = render_invoice_pdf(numbered, SELLER, buyer)
        return with_factur_x(pdf, to_cii(invoice_document(numbered, seller=seller)))

    _phase("Factur-X PDF", FACTURX, factur_x)


if __name__ == "__main__":
    main()
