"""The worker's Prometheus endpoint: the Temporal SDK's own metrics and ours on one
`/metrics` (core/metrics.py, activities/metrics.py), after one invoice ran to CLOSED."""

from __future__ import annotations

import re

import httpx
from temporalio.client import Client

from core.metrics import OpsGauges, read_gauges_once, worker_runtime
from core.settings import Settings
from tests.e2e.test_lifecycle import customer_and_contract
from tests.support.servers import bound_socket
from tests.support.stack import running_stack

SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def free_port() -> int:
    with bound_socket() as sock:
        return int(sock.getsockname()[1])


def scrape(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Samples by their name as exposed (prometheus_client's parser renames counters)."""
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for line in text.splitlines():
        matched = SAMPLE.match(line)
        if matched:
            labels = dict(LABEL.findall(matched["labels"] or ""))
            found.setdefault(matched["name"], []).append((labels, float(matched["value"])))
    return found


def total(found: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    return sum(
        value
        for sample_labels, value in found.get(name, [])
        if all(sample_labels.get(k) == v for k, v in labels.items())
    )


def test_the_endpoint_is_on_in_development_only_unless_configured() -> None:
    assert Settings(environment="development").effective_worker_metrics_address == (
        "127.0.0.1:9464"
    )
    assert Settings(environment="test").effective_worker_metrics_address is None
    assert Settings(worker_metrics_address="").effective_worker_metrics_address is None
    assert worker_runtime(Settings(environment="test")) is None
    configured = Settings(environment="test", worker_metrics_address="0.0.0.0:9500")
    assert configured.effective_worker_metrics_address == "0.0.0.0:9500"


async def test_one_endpoint_has_the_sdk_metrics_and_ours_after_an_invoice_closed(
    temporal: Client, sqlite_url: str
) -> None:
    address = f"127.0.0.1:{free_port()}"
    runtime = worker_runtime(Settings(environment="test", worker_metrics_address=address))
    assert runtime is not None
    client = await Client.connect(
        temporal.service_client.config.target_host,
        namespace=temporal.namespace,
        data_converter=temporal.data_converter,
        runtime=runtime,
    )
    async with running_stack(client, sqlite_url) as stack:
        customer, contract = await customer_and_contract(stack, email="ap@metered.test")
        response = await stack.api.post(
            "/invoices",
            json={
                "customer_id": customer["id"],
                "contract_id": contract["id"],
                "items": [{"rate_code": "senior", "quantity": "1"}],
            },
        )
        assert response.status_code == 202, response.text
        invoice_id = response.json()["invoice_id"]
        issued = await stack.wait_until_awaiting_payment(invoice_id)
        link_id = issued["live"]["payment_url"].rstrip("/").rsplit("/", 1)[-1]
        await stack.pay(link_id, issued["invoice"]["total_minor"])
        await stack.wait_for_status(invoice_id, "CLOSED")
        figures = await read_gauges_once(OpsGauges(runtime.metric_meter), stack.sessions)
        assert figures.invoices_by_status["CLOSED"] == 1

        async with httpx.AsyncClient() as http:
            scraped = await http.get(f"http://{address}/metrics")
    assert scraped.status_code == 200
    found = scrape(scraped.text)

    # the SDK's own, under Temporal's names
    assert total(found, "temporal_workflow_completed", workflow_type="Invoice") >= 1
    assert total(found, "temporal_activity_execution_latency_count") >= 3
    assert "temporal_workflow_task_execution_latency_count" in found

    # ours: the e-mail, the two posts, no failure; the activity's labels come with them
    deliveries = found["invoiceflow_deliveries_total"]
    assert total(found, "invoiceflow_deliveries_total", channel="email", kind="invoice") == 1
    assert deliveries[0][0]["activity_type"] == "invoice.deliver"
    assert total(found, "invoiceflow_delivery_failures_total") == 0
    posts = "invoiceflow_accounting_posts_total"
    assert total(found, posts, kind="invoice", outcome="posted") == 1
    assert total(found, posts, kind="payment", outcome="posted") == 1

    # the gauges, from the database
    assert total(found, "invoiceflow_invoices", status="CLOSED") == 1
    assert total(found, "invoiceflow_invoices", status="ISSUED") == 0
    assert total(found, "invoiceflow_po_exceptions_open") == 0
    assert total(found, "invoiceflow_disputes_open", status="open") == 0
    assert total(found, "invoiceflow_accounting_sync_lag_seconds") == 0
