"""The Temporal UI with the codec server, in a real browser: Debian's Chromium, driven by
Playwright, against the stack as `make run` starts it (separate processes; the dev server's
Web UI started with --ui-codec-endpoint {api}/codec). An operator signed in to the ops pages
reads an invoice's input in clear on its workflow page; a browser that has signed in to
nothing, set up the same way, sees ciphertext only, and the raw history the UI's own API
serves holds no customer data, every payload under `binary/encrypted`.

The dev server's UI has no server-side switch for "include cross-origin credentials" (its
start-dev passes the codec endpoint only), so the operator ticks it in the UI's codec dialog,
as a person does; the browser then sends the ops session cookie (same site: 127.0.0.1) with
each POST /codec/decode.

docs/screenshots/temporal-ui-decoded.png comes from the first test:

    INVOICEFLOW_SCREENSHOTS=docs/screenshots .venv/bin/pytest -q -p no:randomly \\
        tests/browser/test_temporal_ui_codec.py -k clear
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from google.protobuf import json_format
from playwright.async_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    Response,
    ViewportSize,
    expect,
)
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryResponse

from core.codec import ENCODING, KEY_ID
from tests.browser.test_dashboards_in_chromium import sign_in
from tests.e2e.test_encrypted_history import EMAIL, NAME, carried, invoice_in_temporal, payloads_in
from tests.support.codec import TEST_KEY_ID
from tests.support.operators import add_operator
from tests.support.processes import ProcessStack, running_processes
from tests.support.stack import Stack

WAIT = 30_000  # ms, for every wait: a loaded 2-core machine renders the UI's pages slowly
SEALED = re.compile(r'^\s*"[A-Za-z0-9+/]{40,}={0,2}"\s*$')
VIEWPORT: ViewportSize = {"width": 1400, "height": 1000}


@pytest.fixture
async def ui_stack(tmp_path: Path, sqlite_url: str) -> AsyncIterator[tuple[ProcessStack, Stack]]:
    async with running_processes(tmp_path, sqlite_url, ui=True) as pair:
        yield pair


def ui_url(processes: ProcessStack) -> str:
    return f"http://127.0.0.1:{processes.settings.temporal_ui_port}"


def workflow_page(processes: ProcessStack, workflow_id: str) -> str:
    return f"{ui_url(processes)}/namespaces/default/workflows/{workflow_id}"


def input_card(page: Page) -> Locator:
    """The workflow's Input (beside its Result) on the workflow page."""
    return (
        page.get_by_test_id("input-and-result")
        .locator(":scope > div")
        .filter(has=page.get_by_role("heading", name="Input", exact=True))
    )


async def expect_sealed(card: Locator) -> None:
    """The Input shows the sealed payload: one base64 string where the JSON object would be."""
    await expect(card.locator(".cm-content")).to_have_text(SEALED, timeout=WAIT)


def codec_answers(page: Page, api_url: str) -> list[int]:
    """The status of every answer of the codec server to this page, as they come."""
    statuses: list[int] = []

    def seen(response: Response) -> None:
        if response.url.startswith(f"{api_url}/codec/decode"):
            statuses.append(response.status)

    page.on("response", seen)
    return statuses


async def include_credentials_in_codec_dialog(page: Page, endpoint: str) -> None:
    """What an operator does once per browser: the codec badge opens the dialog; the
    browser's own endpoint (the same one) with cross-origin credentials; Apply."""
    await page.get_by_test_id("data-encoder-status-error").click()
    await page.get_by_test_id("use-local-endpoint-input").check()
    await page.get_by_placeholder("Paste your endpoint here").fill(endpoint)
    # the switch itself is a visually hidden checkbox: its label is what a person clicks
    await page.get_by_text("Include cross-origin credentials", exact=True).click()
    switch = page.get_by_role("switch", name="Include cross-origin credentials")
    await expect(switch).to_be_checked(timeout=WAIT)
    await page.locator("[data-testid=confirm-modal-button]:visible").click()
    await expect(page.locator("[data-testid=confirm-modal-button]:visible")).to_have_count(
        0, timeout=WAIT
    )


async def codec_with_credentials_preset(context: BrowserContext, ui: str, endpoint: str) -> None:
    """The UI's codec settings as that dialog leaves them (its localStorage on the UI's
    origin), before any page loads: a browser set up like the operator's."""
    settings = {
        "endpoint": json.dumps(endpoint),
        "includeCredentials": "true",
        "overrideRemoteCodecConfiguration": "true",
        "passAccessToken": "false",
    }
    await context.add_init_script(
        f"if (location.origin === {json.dumps(ui)}) {{"
        f" for (const [k, v] of Object.entries({json.dumps(settings)}))"
        " localStorage.setItem(k, v); }"
    )


async def test_a_signed_in_operator_reads_the_invoice_input_in_clear_in_the_temporal_ui(
    ui_stack: tuple[ProcessStack, Stack], browser: Browser, tmp_path: Path
) -> None:
    processes, view = ui_stack
    invoice_id = await invoice_in_temporal(view)
    workflow_id = f"invoice-{invoice_id}"
    operator = await add_operator(view.sessions)

    context = await browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    page.set_default_timeout(WAIT)
    answers = codec_answers(page, processes.api_url)
    await sign_in(page, processes.api_url, operator.email, "/ops/queues")

    # signed in, but the UI calls the codec server without the cookie: still ciphertext
    await page.goto(workflow_page(processes, workflow_id))
    await expect(page.get_by_test_id("data-encoder-status-error")).to_be_visible(timeout=WAIT)
    await expect_sealed(input_card(page))

    await include_credentials_in_codec_dialog(page, f"{processes.api_url}/codec")
    await page.reload()
    card = input_card(page)
    await expect(card).to_contain_text(f'"customer_name": "{NAME}"', timeout=WAIT)
    await expect(card).to_contain_text(f'"invoice_id": "{invoice_id}"', timeout=WAIT)
    await expect(page.get_by_test_id("data-encoder-status-error")).to_have_count(0, timeout=WAIT)
    assert 200 in answers  # opened by the codec server, for the operator's cookie

    shots = Path(os.environ.get("INVOICEFLOW_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(shots / "temporal-ui-decoded.png"))
    await context.close()


async def test_without_signing_in_the_ui_and_the_raw_history_hold_no_customer_data(
    ui_stack: tuple[ProcessStack, Stack], browser: Browser
) -> None:
    processes, view = ui_stack
    invoice_id = await invoice_in_temporal(view)
    workflow_id = f"invoice-{invoice_id}"
    ui = ui_url(processes)

    # a fresh browser, its UI set up to send credentials to the codec server, but no session
    context = await browser.new_context(viewport=VIEWPORT)
    await codec_with_credentials_preset(context, ui, f"{processes.api_url}/codec")
    page = await context.new_page()
    page.set_default_timeout(WAIT)
    answers = codec_answers(page, processes.api_url)
    await page.goto(workflow_page(processes, workflow_id))

    await expect(page.get_by_role("heading", name=workflow_id)).to_be_visible(timeout=WAIT)
    await expect(page.get_by_test_id("data-encoder-status-error")).to_be_visible(timeout=WAIT)
    banner = page.locator("#content").get_by_text("Codec Server could not connect")
    await expect(banner).to_be_visible(timeout=WAIT)
    card = input_card(page)
    await expect_sealed(card)
    assert answers and set(answers) == {401}  # the codec server refused: nobody signed in
    assert await page.evaluate("localStorage.getItem('includeCredentials')") == "true"
    for secret in (NAME, EMAIL):
        assert secret not in await page.locator("body").inner_text()
        assert secret not in await page.content()

    # the raw history as the UI's own API serves it to this browser (no codec on the way)
    answer = await page.request.get(
        f"{ui}/api/v1/namespaces/{view.settings.temporal_namespace}/workflows/{workflow_id}/history"
    )
    assert answer.ok, await answer.text()
    text = await answer.text()
    history = json_format.Parse(
        text, GetWorkflowExecutionHistoryResponse(), ignore_unknown_fields=True
    ).history
    assert history.events[0].HasField("workflow_execution_started_event_attributes")
    [start_input] = history.events[0].workflow_execution_started_event_attributes.input.payloads
    assert start_input.metadata["encoding"] == ENCODING
    found = [p for event in history.events for p in payloads_in(carried(event))]
    assert len(found) >= 5  # input, local activity results, activity inputs and results
    assert {p.metadata["encoding"] for p in found} == {ENCODING}
    assert {p.metadata[KEY_ID] for p in found} == {TEST_KEY_ID.encode()}
    assert base64.b64encode(ENCODING).decode() in text  # `binary/encrypted`, as JSON carries it
    wire = b"".join(event.SerializeToString() for event in history.events)
    for secret in (NAME, EMAIL):
        assert secret not in text
        assert secret.encode() not in wire  # nor inside any base64 field, decoded
    await context.close()
