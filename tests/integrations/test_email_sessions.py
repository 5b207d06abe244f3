"""EmailSender keeps SMTP sessions open between messages, and never loses a message to a
session the server has closed meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from integrations import email
from integrations.email import EmailSender, SmtpSettings
from integrations.errors import ProviderError
from tests.sandbox.support import unused_port


class Recording:
    """Accepts every message and records which session (connection) carried it."""

    def __init__(self) -> None:
        self.delivered: list[tuple[int, str]] = []  # (session number, Message-ID)
        self.quits = 0
        self.closing_after: int | None = None  # answer MAIL with 421 after this many
        self.dropping_after: int | None = None  # hang up on MAIL after this many
        self.refusing_after: int | None = None  # answer MAIL with 451 after this many
        self._sessions: dict[int, int] = {}  # id(session) -> session number
        self._mails: dict[int, int] = {}  # id(session) -> MAIL commands seen

    def session_no(self, session: Session) -> int:
        return self._sessions.setdefault(id(session), len(self._sessions) + 1)

    @property
    def sessions(self) -> int:
        return len({number for number, _ in self.delivered})

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.session_no(session)
        seen = self._mails[id(session)] = self._mails.get(id(session), 0) + 1
        if self.closing_after is not None and seen > self.closing_after:
            return "421 4.4.2 Idle too long, closing"
        if self.refusing_after is not None and seen > self.refusing_after:
            return "451 4.3.0 Try again later"
        if self.dropping_after is not None and seen > self.dropping_after:
            server.transport.close()  # no answer: the client reads end-of-file
            return "421 4.4.2 gone"
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        message_id = next(
            line.split(b":", 1)[1].strip().decode()
            for line in (envelope.original_content or b"").splitlines()
            if line.lower().startswith(b"message-id:")
        )
        self.delivered.append((self.session_no(session), message_id))
        return "250 OK"

    async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.quits += 1
        return "221 Bye"


@asynccontextmanager
async def smtp_server(handler: Recording, port: int | None = None) -> AsyncIterator[int]:
    port = port or unused_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    await asyncio.to_thread(controller.start)
    try:
        yield port
    finally:
        await asyncio.to_thread(controller.stop)


async def eventually(condition: Callable[[], bool], timeout: float = 5) -> None:
    """Wait for the server thread to have seen what the sender did in the background."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 (set on the SMTP server's thread)
            await asyncio.sleep(0.01)


async def send(sender: EmailSender, n: int) -> None:
    await sender.send(
        message_id=f"<m{n}@invoiceflow>",
        sender="billing@invoiceflow.test",
        to=["accounts@acme.test"],
        subject=f"Invoice {n}",
        html=f"<p>Invoice {n}</p>",
        text=f"Invoice {n}",
    )


def settings(port: int, **changes: float) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=port, timeout=5).model_copy(update=changes)


async def test_consecutive_messages_share_one_session_and_close_says_quit() -> None:
    handler = Recording()
    async with smtp_server(handler) as port:
        async with EmailSender(settings(port)) as sender:
            for n in range(3):
                await send(sender, n)
            assert handler.quits == 0  # still open between messages

    assert handler.delivered == [
        (1, "<m0@invoiceflow>"),
        (1, "<m1@invoiceflow>"),
        (1, "<m2@invoiceflow>"),
    ]
    assert handler.quits == 1


async def test_pool_size_zero_opens_one_session_per_message() -> None:
    handler = Recording()
    async with smtp_server(handler) as port:
        async with EmailSender(settings(port, pool_size=0)) as sender:
            for n in range(3):
                await send(sender, n)

    assert [session for session, _ in handler.delivered] == [1, 2, 3]
    assert handler.quits == 3


async def test_concurrent_sends_open_sessions_as_needed_and_keep_at_most_pool_size() -> None:
    handler = Recording()
    async with smtp_server(handler) as port:
        sender = EmailSender(settings(port, pool_size=2))
        await asyncio.gather(*(send(sender, n) for n in range(8)))
        await eventually(lambda: handler.quits == 6)  # six closed at once (in the background)
        kept = handler.quits
        await sender.aclose()

    assert sorted(mid for _, mid in handler.delivered) == sorted(
        f"<m{n}@invoiceflow>" for n in range(8)
    )
    assert handler.sessions == 8  # none was free while all eight were sending
    assert kept == 6  # and two kept
    assert handler.quits == 8


async def test_a_session_the_server_closed_is_replaced_and_the_message_delivered() -> None:
    handler = Recording()
    port = unused_port()
    async with EmailSender(settings(port)) as sender:
        async with smtp_server(handler, port):
            await send(sender, 1)
        # the server went away (a restart drops every connection) and came back
        async with smtp_server(handler, port):
            await send(sender, 2)

    assert [mid for _, mid in handler.delivered] == ["<m1@invoiceflow>", "<m2@invoiceflow>"]


async def test_a_421_on_a_kept_session_is_retried_once_on_a_new_one() -> None:
    handler = Recording()
    handler.closing_after = 1  # every session takes one message, then says 421
    async with smtp_server(handler) as port, EmailSender(settings(port)) as sender:
        await send(sender, 1)
        await send(sender, 2)

    assert handler.delivered == [(1, "<m1@invoiceflow>"), (2, "<m2@invoiceflow>")]


async def test_a_kept_session_that_hangs_up_on_the_next_message_is_replaced() -> None:
    handler = Recording()
    handler.dropping_after = 1
    async with smtp_server(handler) as port, EmailSender(settings(port)) as sender:
        await send(sender, 1)
        await send(sender, 2)

    assert handler.delivered == [(1, "<m1@invoiceflow>"), (2, "<m2@invoiceflow>")]


async def test_a_421_on_a_new_session_is_a_retryable_error() -> None:
    handler = Recording()
    handler.closing_after = 0
    async with smtp_server(handler) as port, EmailSender(settings(port)) as sender:
        with pytest.raises(ProviderError) as caught:
            await send(sender, 1)

    assert (caught.value.status, caught.value.retryable) == (421, True)
    assert handler.delivered == []


async def test_an_idle_session_past_the_idle_timeout_is_not_reused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(email, "_now", lambda: clock[0])
    handler = Recording()
    async with smtp_server(handler) as port:
        async with EmailSender(settings(port, idle_timeout=30)) as sender:
            await send(sender, 1)
            clock[0] += 29
            await send(sender, 2)  # idle for 29 s: the same session
            clock[0] += 30
            await send(sender, 3)  # idle for 30 s: a new one, and the old one says QUIT
            await eventually(lambda: handler.quits == 1)

    assert [session for session, _ in handler.delivered] == [1, 1, 2]
    assert handler.quits == 2  # and the kept one at close


async def test_a_refusal_on_a_kept_session_is_not_retried_and_the_session_not_reused() -> None:
    handler = Recording()
    handler.refusing_after = 1  # every session takes one message, then answers 451
    async with smtp_server(handler) as port, EmailSender(settings(port)) as sender:
        await send(sender, 1)
        with pytest.raises(ProviderError) as caught:
            await send(sender, 2)
        await send(sender, 3)

    assert (caught.value.status, caught.value.retryable) == (451, True)
    assert handler.delivered == [(1, "<m1@invoiceflow>"), (2, "<m3@invoiceflow>")]


async def test_a_session_that_finishes_after_close_is_not_kept() -> None:
    handler = Recording()
    async with smtp_server(handler) as port:
        sender = EmailSender(settings(port))
        await sender.aclose()
        await send(sender, 1)  # e.g. an activity still running while the worker stops
        await sender.aclose()  # again: waits for that session's QUIT

    assert handler.delivered == [(1, "<m1@invoiceflow>")]
    assert handler.quits == 1
