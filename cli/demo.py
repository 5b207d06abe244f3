"""``make demo``: a few sample invoices driven through the lifecycle against the running stack.

Three customers (London in GBP, Montréal in CAD with fr-CA e-mails, Sydney in AUD); one pays
in full, one in two parts, one stays open so the Temporal UI shows it waiting.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from cli.failures import api_errors
from core.settings import get_settings
from domain.money import format_amount

console = Console()


def _any_hour(tz: str) -> dict[str, Any]:
    """The customer's zone, with quiet hours off: the demo runs at any hour, and an invoice
    would otherwise wait for 08:00 on the next working day in that zone."""
    return {"timezone": tz, "quiet_hours": {"enabled": False}}


SAMPLES: list[dict[str, Any]] = [
    {
        "customer": {
            "name": "ACME Ltd",
            "email": "accounts@acme.example",
            "locale": "en_GB",
            **_any_hour("Europe/London"),
        },
        "contract": {"currency": "GBP", "tax_region": "GB", "payment_terms_days": 30},
        "items": [
            {"rate_code": "consulting", "quantity": "12.5"},
            {"rate_code": "workshop", "quantity": "1"},
        ],
        "payments": ["full"],
    },
    {
        "customer": {
            "name": "Érable & Fils",
            "email": "compta@erable.example",
            "locale": "fr_CA",
            **_any_hour("America/Toronto"),
        },
        "contract": {"currency": "CAD", "tax_region": "CA-QC", "payment_terms_days": 15},
        "items": [{"rate_code": "consulting", "quantity": "8"}],
        "payments": ["half", "rest"],
    },
    {
        "customer": {
            "name": "Harbour Pty",
            "email": "ap@harbour.example",
            "locale": "en_AU",
            **_any_hour("Australia/Sydney"),
        },
        "contract": {"currency": "AUD", "tax_region": "AU", "payment_terms_days": 14},
        "items": [{"rate_code": "consulting", "quantity": "3"}],
        "payments": [],
    },
]

RATES = [
    {"code": "consulting", "description": "Consulting", "unit": "hour", "unit_price_minor": 15000},
    {"code": "workshop", "description": "Workshop day", "unit": "day", "unit_price_minor": 90000},
]


async def _wait(
    api: httpx.AsyncClient,
    invoice_id: str,
    *,
    status: str | None = None,
    waiting_for: str | None = None,
    timeout: float = 60,
) -> dict[str, Any]:
    """Poll the invoice until the process reports the status (or the wait) asked for."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        body = (await api.get(f"/invoices/{invoice_id}")).raise_for_status().json()
        live = body.get("live") or {}
        stored = body.get("invoice") or {}
        if (status is None or live.get("status") == stored.get("status") == status) and (
            waiting_for is None or live.get("waiting_for") == waiting_for
        ):
            return body
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(
                f"{invoice_id} did not reach {status or waiting_for} in {timeout:.0f}s"
            )
        await asyncio.sleep(0.3)


async def run_demo(api_url: str, sandbox_url: str, api_key: str | None) -> int:
    key_file = Path(".data/dev-api-key")
    if not api_key and not key_file.exists():
        console.print(
            "[red]No API key: pass --api-key (or INVOICEFLOW_API_KEY), or start the stack"
            f" with `make run`, which writes {key_file}.[/red]"
        )
        return 1
    key = api_key or key_file.read_text().strip()
    with api_errors(api_url):
        return await _drive(api_url, sandbox_url, key)


async def _drive(api_url: str, sandbox_url: str, key: str) -> int:
    headers = {"Authorization": f"Bearer {key}"}
    provider_auth = {
        "Authorization": f"Bearer {get_settings().payments_api_key.get_secret_value()}"
    }
    table = Table(title="Demo invoices")
    for column in ("customer", "number", "total", "paid", "status", "e-mail subject"):
        table.add_column(column)
    async with (
        httpx.AsyncClient(base_url=api_url, headers=headers, timeout=15) as api,
        httpx.AsyncClient(base_url=sandbox_url, headers=provider_auth, timeout=15) as sandbox,
    ):
        try:
            await api.get("/healthz")
        except httpx.ConnectError:
            console.print(f"[red]No API at {api_url}: start the stack with `make run` first.[/red]")
            return 1
        for sample in SAMPLES:
            customer = (
                (await api.post("/customers", json=sample["customer"])).raise_for_status().json()
            )
            contract = (
                (
                    await api.post(
                        "/contracts",
                        json={**sample["contract"], "customer_id": customer["id"], "rates": RATES},
                    )
                )
                .raise_for_status()
                .json()
            )
            accepted = (
                (
                    await api.post(
                        "/invoices",
                        json={
                            "customer_id": customer["id"],
                            "contract_id": contract["id"],
                            "items": sample["items"],
                        },
                    )
                )
                .raise_for_status()
                .json()
            )
            invoice_id = accepted["invoice_id"]
            body = await _wait(api, invoice_id, waiting_for="payment")
            mail = (
                await sandbox.get("/mailbox/api/messages", params={"to": customer["email"]})
            ).json()
            link_id = body["invoice"]["payment_url"].rstrip("/").rsplit("/", 1)[-1]
            total = body["invoice"]["total_minor"]
            for part in sample["payments"]:
                amount = (
                    total // 2 if part == "half" else total - (total // 2 if part == "rest" else 0)
                )
                # what the customer's "Pay now" page does, through the provider's API
                paid = await sandbox.post(
                    f"/payments/v1/links/{link_id}/payments",
                    json={"amount_minor": amount},
                    headers={"Idempotency-Key": uuid.uuid4().hex},
                )
                paid.raise_for_status()
            if sample["payments"]:
                body = await _wait(api, invoice_id, status="CLOSED")
            invoice = body["invoice"]
            console.print(
                f"{invoice['number']}: {body['live']['status']}"
                f" · waits on: {body['live']['waiting_for']}"
            )
            table.add_row(
                customer["name"],
                invoice["number"],
                format_amount(invoice["total_minor"], invoice["currency"]),
                format_amount(body["live"]["paid_minor"], invoice["currency"]),
                body["live"]["status"],
                mail[-1]["subject"] if mail else "(no e-mail yet)",
            )
    console.print(table)
    console.print(
        "Open the Temporal UI at http://127.0.0.1:8233 and the mailbox at http://127.0.0.1:8025/mailbox"
    )
    return 0
