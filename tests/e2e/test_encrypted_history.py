"""Customer data encrypted in Temporal, end to end: a real invoice's history holds no
clear payload and no customer name or e-mail (read without the codec), reads back whole
through the codec, and the codec server opens it for a signed-in operator or a codec
token only, answering CORS for the Temporal UI's origin."""

from __future__ import annotations

import json

import httpx
from google.protobuf import json_format
from pydantic import SecretStr
from temporalio.api.common.v1 import Payloads
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from core.codec import ENCODING, KEY_ID, payloads_in
from tests.e2e.test_lifecycle import customer_and_contract
from tests.support.codec import TEST_KEY_ID
from tests.support.operators import add_operator, operator_cookies
from tests.support.stack import Stack, running_stack

NAME = "Northwind Confidential Ltd"
EMAIL = "ap@northwind-confidential.test"
UI = "http://127.0.0.1:8233"


def carried(event: HistoryEvent) -> HistoryEvent:
    """The event without what Temporal keeps clear by design: search attributes (indexed
    by the server; tests/e2e/test_search_attributes_privacy.py keeps them free of personal
    data) and the SDK core's own bookkeeping of a local activity (its `data` detail: seq,
    attempt, activity id and type, times). Every other payload is the application's."""
    copy = HistoryEvent()
    copy.CopyFrom(event)
    kind = copy.WhichOneof("attributes")
    if kind in (
        "workflow_execution_started_event_attributes",
        "upsert_workflow_search_attributes_event_attributes",
    ):
        getattr(copy, kind).ClearField("search_attributes")
    elif kind == "marker_recorded_event_attributes":
        marker = copy.marker_recorded_event_attributes
        if marker.marker_name == "core_local_activity":
            del marker.details["data"]
    return copy


async def invoice_in_temporal(stack: Stack) -> str:
    customer, contract = await customer_and_contract(stack, name=NAME, email=EMAIL)
    response = await stack.api.post(
        "/invoices",
        json={
            "customer_id": customer["id"],
            "contract_id": contract["id"],
            "items": [{"rate_code": "senior", "quantity": "3"}],
        },
    )
    assert response.status_code == 202, response.text
    invoice_id: str = response.json()["invoice_id"]
    await stack.wait_until_awaiting_payment(invoice_id)
    return invoice_id


async def test_the_history_holds_no_clear_payload_and_reads_back_through_the_codec(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        invoice_id = await invoice_in_temporal(stack)
        workflow_id = f"invoice-{invoice_id}"

        raw_client = Client(temporal.service_client, namespace=temporal.namespace)
        raw = await raw_client.get_workflow_handle(workflow_id).fetch_history()
        found = [p for event in raw.events for p in payloads_in(carried(event))]
        assert len(found) >= 5  # input, local activity results, activity inputs and results
        assert {p.metadata["encoding"] for p in found} == {ENCODING}
        assert {p.metadata[KEY_ID] for p in found} == {TEST_KEY_ID.encode()}
        wire = b"".join(event.SerializeToString() for event in raw.events)
        for secret in (NAME.encode(), EMAIL.encode(), b"Senior consultant"):
            assert secret not in wire

        codec = temporal.data_converter.payload_codec
        assert codec is not None
        opened = b"".join(p.data for p in await codec.decode(found))
        assert EMAIL.encode() in opened and NAME.encode() in opened

        # what the UI shows as the workflow's input comes back readable through the client
        decoded = await temporal.get_workflow_handle(workflow_id).fetch_history()
        started = decoded.events[0].workflow_execution_started_event_attributes
        [start_input] = await codec.decode(list(started.input.payloads))
        assert invoice_id in json.loads(start_input.data)["invoice_id"]


async def test_the_codec_server_opens_payloads_for_an_operator_or_a_codec_token_only(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(
        temporal, sqlite_url, codec_auth_tokens=SecretStr("cli-token-1,cli-token-2")
    ) as stack:
        invoice_id = await invoice_in_temporal(stack)
        raw_client = Client(temporal.service_client, namespace=temporal.namespace)
        history = await raw_client.get_workflow_handle(f"invoice-{invoice_id}").fetch_history()
        sealed = [p for event in history.events for p in payloads_in(event)]
        body = json_format.MessageToJson(Payloads(payloads=sealed))
        headers = {"Content-Type": "application/json", "X-Namespace": "default", "Origin": UI}

        operator = await add_operator(stack.sessions)
        cookies = operator_cookies(stack.settings, operator)
        async with httpx.AsyncClient(base_url=stack.api_url, headers=headers) as plain:
            answered = await plain.post("/codec/decode", content=body, cookies=cookies)
            assert answered.status_code == 200, answered.text
            assert answered.headers["access-control-allow-origin"] == UI
            assert answered.headers["access-control-allow-credentials"] == "true"
            opened = json_format.Parse(answered.text, Payloads()).payloads
            assert len(opened) == len(sealed)
            assert all(p.metadata["encoding"] != ENCODING for p in opened)
            assert EMAIL.encode() in b"".join(p.data for p in opened)

            by_token = await plain.post(
                "/codec/decode",
                content=body,
                headers={"Authorization": "Bearer cli-token-2"},
            )
            assert by_token.status_code == 200
            # and encode gives payloads the workers can read
            encoded = await plain.post(
                "/codec/encode",
                content=answered.text,
                headers={"Authorization": "Bearer cli-token-1"},
            )
            again = json_format.Parse(encoded.text, Payloads()).payloads
            assert all(p.metadata["encoding"] == ENCODING for p in again)
            codec = temporal.data_converter.payload_codec
            assert codec is not None
            assert list(await codec.decode(list(again))) == list(opened)

            refused = [
                await plain.post("/codec/decode", content=body),  # nobody
                await plain.post(
                    "/codec/decode",
                    content=body,
                    headers={"Authorization": stack.api.headers["Authorization"]},  # API key
                ),
                await plain.post(
                    "/codec/decode", content=body, headers={"Authorization": "Bearer nope"}
                ),
            ]
            for answer in refused:
                assert answer.status_code == 401
                assert answer.headers["content-type"] == "application/problem+json"
                assert answer.json()["code"] == "codec_unauthorized"
                assert EMAIL not in answer.text

            preflight = await plain.options(
                "/codec/decode",
                headers={
                    "Origin": UI,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "content-type,x-namespace",
                },
            )
            assert preflight.status_code == 204
            assert preflight.headers["access-control-allow-origin"] == UI
            assert "X-Namespace" in preflight.headers["access-control-allow-headers"]
            foreign = await plain.options("/codec/decode", headers={"Origin": "https://evil.test"})
            assert "access-control-allow-origin" not in foreign.headers

            malformed = await plain.post(
                "/codec/decode",
                content=b"{not json",
                headers={"Authorization": "Bearer cli-token-1"},
            )
            assert malformed.status_code == 422
            assert malformed.json()["code"] == "codec_malformed"
