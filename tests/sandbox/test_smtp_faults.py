"""The SMTP server's fault switches (the ``smtp`` profile) and its raw reception log: what
went over the wire, copies included, beside the mailbox that keeps one per Message-ID."""

from __future__ import annotations

import aiosmtplib
import httpx
import pytest

from sandbox.runner import SandboxHandle
from tests.sandbox.test_mailbox import deliver, message


async def receptions(http: httpx.AsyncClient, to: str | None = None) -> list[str]:
    params = {"to": to} if to else {}
    response = await http.get("/_sandbox/smtp/receptions", params=params)
    response.raise_for_status()
    return [r["outcome"] for r in response.json()]


async def test_every_copy_is_counted_raw_while_the_mailbox_keeps_one(
    http: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    await deliver(sandbox, message("<r1@x>", to="raw@acme.test"))
    await deliver(sandbox, message("<r1@x>", to="raw@acme.test"))
    await deliver(sandbox, message("<r2@x>", to="other@acme.test"))

    assert await receptions(http, "RAW@acme.test") == ["accepted", "duplicate"]
    assert len(await receptions(http)) == 3
    assert (
        len((await http.get("/mailbox/api/messages", params={"to": "raw@acme.test"})).json()) == 1
    )


async def test_an_smtp_outage_refuses_with_451_and_keeps_nothing(
    http: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    (await http.post("/_sandbox/faults", json={"api": "smtp", "outage": True})).raise_for_status()
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await deliver(sandbox, message("<o1@x>", to="down@acme.test"))
    assert refused.value.recipients[0].code == 451

    (await http.delete("/_sandbox/faults")).raise_for_status()
    await deliver(sandbox, message("<o1@x>", to="down@acme.test"))
    assert await receptions(http, "down@acme.test") == ["refused_rcpt", "accepted"]


async def test_an_http_wide_profile_leaves_smtp_alone(
    http: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    (await http.post("/_sandbox/faults", json={"api": "*", "outage": True})).raise_for_status()
    await deliver(sandbox, message("<star@x>", to="star@acme.test"))
    assert await receptions(http, "star@acme.test") == ["accepted"]


async def test_error_rate_refuses_at_data_and_fail_after_commit_keeps_then_answers_451(
    http: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    fault = {"api": "smtp", "error_rate": 1.0}
    (await http.post("/_sandbox/faults", json=fault)).raise_for_status()
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        await deliver(sandbox, message("<e1@x>", to="flaky@acme.test"))
    assert refused.value.code == 451

    fault = {"api": "smtp", "fail_after_commit": 1}
    (await http.post("/_sandbox/faults", json=fault)).raise_for_status()
    with pytest.raises(aiosmtplib.SMTPDataError):
        await deliver(sandbox, message("<e1@x>", to="flaky@acme.test"))
    await deliver(sandbox, message("<e1@x>", to="flaky@acme.test"))  # the retry

    assert await receptions(http, "flaky@acme.test") == ["refused", "lost", "duplicate"]
    [kept] = (await http.get("/mailbox/api/messages", params={"to": "flaky@acme.test"})).json()
    assert kept["duplicate_deliveries"] == 1


async def test_latency_holds_the_answer_to_data_past_the_clients_timeout(
    http: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    fault = {"api": "smtp", "latency_ms": 1500}
    (await http.post("/_sandbox/faults", json=fault)).raise_for_status()
    with pytest.raises(aiosmtplib.SMTPTimeoutError):
        await aiosmtplib.send(
            message("<t1@x>", to="slow@acme.test"),
            hostname=sandbox.smtp_host,
            port=sandbox.smtp_port,
            timeout=0.5,
        )
    # the server took it before the answer was late: the client cannot know it did
    assert await receptions(http, "slow@acme.test") == ["accepted"]
