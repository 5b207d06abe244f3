"""The mail catcher: real SMTP in, JSON and pages out, one copy per Message-ID."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib
import httpx

from sandbox.runner import SandboxHandle


def message(
    message_id: str, to: str = "ap@acme.test", subject: str = "Invoice INV-1"
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Billing <billing@invoiceflow.test>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    msg.set_content("Please pay INV-1.")
    msg.add_alternative("<p>Please pay <b>INV-1</b>.</p>", subtype="html")
    return msg


async def deliver(sandbox: SandboxHandle, msg: EmailMessage) -> None:
    await aiosmtplib.send(msg, hostname=sandbox.smtp_host, port=sandbox.smtp_port, timeout=5)


async def test_delivered_message_appears_in_the_json_api(
    http: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    await deliver(sandbox, message("<m1@invoiceflow.test>"))

    [stored] = (await http.get("/mailbox/api/messages")).json()

    assert stored["from"] == "Billing <billing@invoiceflow.test>"
    assert stored["to"] == ["ap@acme.test"]
    assert stored["subject"] == "Invoice INV-1"
    assert stored["text"].strip() == "Please pay INV-1."
    assert stored["html"].strip() == "<p>Please pay <b>INV-1</b>.</p>"
    assert stored["headers"]["Message-ID"] == "<m1@invoiceflow.test>"
    assert stored["duplicate_deliveries"] == 0


async def test_messages_come_oldest_first_and_filter_by_recipient(
    http: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    await deliver(sandbox, message("<a@x>", to="one@acme.test", subject="first"))
    await deliver(sandbox, message("<b@x>", to="two@acme.test", subject="second"))
    await deliver(sandbox, message("<c@x>", to="One@Acme.test", subject="third"))

    everything = (await http.get("/mailbox/api/messages")).json()
    for_one = (await http.get("/mailbox/api/messages", params={"to": "one@acme.test"})).json()

    assert [m["subject"] for m in everything] == ["first", "second", "third"]
    assert [m["subject"] for m in for_one] == ["first", "third"]


async def test_same_message_id_is_kept_once_and_counted_as_a_duplicate(
    http: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    await deliver(sandbox, message("<same@x>", subject="original"))
    await deliver(sandbox, message("<same@x>", subject="retry"))
    await deliver(sandbox, message("<same@x>", subject="retry again"))

    [stored] = (await http.get("/mailbox/api/messages")).json()

    assert stored["subject"] == "original"
    assert stored["duplicate_deliveries"] == 2


async def test_mailbox_pages_list_and_show_a_message(
    http: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    await deliver(sandbox, message("<page@x>", subject="Invoice <INV-9>"))
    [stored] = (await http.get("/mailbox/api/messages")).json()

    listing = await http.get("/mailbox")
    detail = await http.get(f"/mailbox/{stored['id']}")
    body = await http.get(f"/mailbox/{stored['id']}/html")

    assert "Invoice &lt;INV-9&gt;" in listing.text, "subjects are escaped"
    assert f'href="/mailbox/{stored["id"]}"' in listing.text
    assert detail.status_code == 200
    assert f'src="/mailbox/{stored["id"]}/html"' in detail.text
    assert "<b>INV-1</b>" in body.text
    assert body.headers["content-security-policy"].startswith("sandbox")


async def test_unknown_message_is_404(http: httpx.AsyncClient) -> None:
    assert (await http.get("/mailbox/999999")).status_code == 404


async def test_delete_clears_the_mailbox(http: httpx.AsyncClient, sandbox: SandboxHandle) -> None:
    await deliver(sandbox, message("<gone@x>"))

    response = await http.delete("/mailbox/api/messages")

    assert response.status_code == 204
    assert (await http.get("/mailbox/api/messages")).json() == []
    # A cleared mailbox also forgets Message-IDs: the same message is new again.
    await deliver(sandbox, message("<gone@x>"))
    [stored] = (await http.get("/mailbox/api/messages")).json()
    assert stored["duplicate_deliveries"] == 0


async def test_a_bounce_address_is_refused_and_the_others_still_get_the_message(
    http: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    msg = message("<bounce@x>", to="bounce+alice@corp.test, ok@corp.test")

    refused, _ = await aiosmtplib.send(
        msg, hostname=sandbox.smtp_host, port=sandbox.smtp_port, timeout=5
    )

    assert {address: reply.code for address, reply in refused.items()} == {
        "bounce+alice@corp.test": 550
    }
    [stored] = (await http.get("/mailbox/api/messages")).json()
    assert stored["to"] == ["ok@corp.test"]


async def test_only_the_bounce_local_part_bounces(sandbox: SandboxHandle) -> None:
    for address in ("bouncer@corp.test", "alice@bounce.test", "a.bounce@corp.test"):
        refused, _ = await aiosmtplib.send(
            message(f"<{address}>", to=address),
            hostname=sandbox.smtp_host,
            port=sandbox.smtp_port,
            timeout=5,
        )
        assert refused == {}, address
