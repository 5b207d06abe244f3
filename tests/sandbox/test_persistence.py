"""With a data_dir, the sandbox remembers across restarts, as a real provider would."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import httpx

from sandbox.runner import running_sandbox
from tests.sandbox.support import auth, sandbox_settings

LINK = {"reference": "INV-3", "amount_minor": 500, "currency": "EUR", "description": "INV-3"}


async def test_idempotent_replay_and_mail_survive_a_restart(tmp_path: Path) -> None:
    settings = sandbox_settings(data_dir=tmp_path / "sandbox")
    async with running_sandbox(settings) as before:
        async with httpx.AsyncClient(base_url=before.http_url) as http:
            first = await http.post("/payments/v1/links", json=LINK, headers=auth("link-1"))
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "a@x.test", "b@x.test", "kept"
        msg["Message-ID"] = "<kept@x.test>"
        msg.set_content("hello")
        await aiosmtplib.send(msg, hostname=before.smtp_host, port=before.smtp_port)

    async with running_sandbox(settings) as after:
        async with httpx.AsyncClient(base_url=after.http_url) as http:
            replay = await http.post("/payments/v1/links", json=LINK, headers=auth("link-1"))
            links = (await http.get("/payments/v1/links", headers=auth())).json()
            mail = (await http.get("/mailbox/api/messages")).json()
        await aiosmtplib.send(msg, hostname=after.smtp_host, port=after.smtp_port)
        async with httpx.AsyncClient(base_url=after.http_url) as http:
            mail_after_resend = (await http.get("/mailbox/api/messages")).json()

    assert first.status_code == replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert [link["id"] for link in links] == [first.json()["id"]]
    assert [m["subject"] for m in mail] == ["kept"]
    assert mail_after_resend[0]["duplicate_deliveries"] == 1
    assert (tmp_path / "sandbox" / "sandbox.sqlite3").exists()
