"""What the payload codec costs per invoice: ``make bench-codec`` (``python -m bench.codec``).

Takes every payload of a real happy-path invoice (the recorded history
tests/workflows/histories/invoice_paid_in_full.json: the start input, activity inputs and
results, local activity markers, signals) and times sealing them all with AES-256-GCM and
opening them again, BENCH_CODEC_ROUNDS times (default 2,000). Each payload is sealed once
by the process that makes it and opened once by the one that reads it (with the workflow
cache warm), so one round is the codec's cost for one invoice across the API and workers;
a replay after a cache eviction opens the history once more. Also prints the size each
payload gains (nonce, tag, the key id in its metadata). Pure CPU in one process.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from pathlib import Path

from google.protobuf import json_format
from temporalio.api.common.v1 import Payload
from temporalio.api.history.v1 import History

from core.codec import EncryptionCodec, new_key_text, parse_keys, payloads_in

HISTORY = (
    Path(__file__).resolve().parents[1]
    / "tests"
    / "workflows"
    / "histories"
    / "invoice_paid_in_full.json"
)
ROUNDS = int(os.environ.get("BENCH_CODEC_ROUNDS", "2000"))


def invoice_payloads() -> list[Payload]:
    history = json_format.Parse(HISTORY.read_text(), History(), ignore_unknown_fields=True)
    return [p for event in history.events for p in payloads_in(event)]


async def one_invoice(codec: EncryptionCodec, payloads: list[Payload]) -> float:
    started = time.perf_counter()
    sealed = await codec.encode(payloads)
    opened = await codec.decode(sealed)
    elapsed = time.perf_counter() - started
    assert [p.data for p in opened] == [p.data for p in payloads]
    return elapsed


async def main() -> None:
    keys = parse_keys(new_key_text("bench"))
    codec = EncryptionCodec(keys, "bench")
    payloads = invoice_payloads()
    clear = sum(p.ByteSize() for p in payloads)
    sealed = sum(p.ByteSize() for p in await codec.encode(payloads))
    for _ in range(50):  # warm up
        await one_invoice(codec, payloads)
    times = [await one_invoice(codec, payloads) for _ in range(ROUNDS)]
    median_us = statistics.median(times) * 1e6
    p95_us = statistics.quantiles(times, n=20)[18] * 1e6
    print(f"payload codec (AES-256-GCM), one happy-path invoice, {ROUNDS} rounds")
    print(f"  payloads per invoice:     {len(payloads)}")
    print(
        f"  bytes clear -> sealed:    {clear:,} -> {sealed:,} (+{sealed - clear:,},"
        f" {100 * (sealed - clear) / clear:.1f}%, {(sealed - clear) / len(payloads):.0f} per payload)"
    )
    print(f"  seal + open per invoice:  median {median_us:.0f} us, p95 {p95_us:.0f} us")
    print(f"  per payload:              {median_us / len(payloads):.1f} us")


if __name__ == "__main__":
    asyncio.run(main())
