"""Sending e-mail over SMTP with aiosmtplib.

SMTP has no idempotency keys, so the caller's deterministic ``message_id`` is the key: it
becomes the Message-ID (which receiving systems and our sandbox use to spot duplicates) and
an ``X-Idempotency-Key`` header. A retry after a lost "250 OK" still sends a second copy over
the wire; that window cannot be closed in SMTP, only made harmless by the stable Message-ID.

Sessions are kept open between messages (up to ``pool_size`` idle, each for at most
``idle_timeout`` seconds), as mail relays expect of a client sending in bursts: a new session
costs a TCP connect, a greeting, EHLO and, in production, a TLS handshake and AUTH; on the
benchmark machine the plain part alone cost 1.2 ms of CPU per message. A kept session the
server has since closed (its idle timer, a 421) is retried once on a new session, which is
no worse than the activity's own retry.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate

import aiosmtplib
import structlog
from pydantic import BaseModel, SecretStr

from integrations.errors import ProviderError

log = structlog.get_logger()

PROVIDER = "email"


class SmtpSettings(BaseModel):
    host: str
    port: int
    username: str | None = None
    password: SecretStr | None = None
    use_tls: bool = False
    start_tls: bool = False
    timeout: float = 10
    pool_size: int = 4  # sessions kept open between messages; 0 opens one per message
    idle_timeout: float = 30  # a kept session idle longer than this is closed, not reused


@dataclass(frozen=True)
class Attachment:
    """A file sent with a message (an invoice's PDF, its e-invoice XML)."""

    filename: str
    media_type: str  # e.g. application/pdf
    content: bytes

    @property
    def types(self) -> tuple[str, str]:
        """The media type's two halves (``application``, ``pdf``)."""
        maintype, _, subtype = self.media_type.partition("/")
        return maintype, subtype or "octet-stream"


def build_message(
    *,
    message_id: str,
    sender: str,
    to: list[str],
    subject: str,
    html: str,
    text: str,
    attachments: Sequence[Attachment] = (),
) -> Message:
    """multipart/alternative: the text part first, so clients prefer the HTML part.

    Built with the `email.mime` classes (the compat32 policy) rather than `EmailMessage`:
    the modern policy re-parses and re-folds every header and cost about four times the
    CPU per message (3.3 ms against 0.7 on the benchmark machine). That path is taken
    when every address is ASCII (the usual case: a configured sender, customers' plain
    addresses); a non-ASCII subject is RFC 2047 encoded and the bodies are UTF-8. A
    non-ASCII display name or address (SMTPUTF8) takes the modern policy, which encodes
    names per word and sends internationalised addresses raw, as SMTPUTF8 requires. A line
    break in the subject becomes a space, so no text can add a header. With attachments the
    message is multipart/mixed: the alternative bodies first, then each file (base64).
    """
    subject = " ".join(subject.split())
    addresses = [sender, *to]
    if any("\r" in a or "\n" in a for a in addresses):
        raise ValueError("an address contains a line break")
    if not all(a.isascii() for a in addresses):
        return _modern_message(message_id, sender, to, subject, html, text, attachments)
    bodies = MIMEMultipart("alternative")
    bodies.attach(MIMEText(text, "plain", "utf-8"))
    bodies.attach(MIMEText(html, "html", "utf-8"))
    msg: MIMEMultipart = bodies
    if attachments:
        msg = MIMEMultipart("mixed")
        msg.attach(bodies)
        for file in attachments:
            part = MIMEApplication(file.content, file.types[1])
            part.add_header("Content-Disposition", "attachment", filename=file.filename)
            msg.attach(part)
    # a Header object (documented for compat32 messages) folds into encoded words when
    # the message is flattened
    _add_headers(
        msg, message_id, sender, to, subject if subject.isascii() else Header(subject, "utf-8")
    )
    return msg


def _modern_message(
    message_id: str,
    sender: str,
    to: list[str],
    subject: str,
    html: str,
    text: str,
    attachments: Sequence[Attachment] = (),
) -> EmailMessage:
    msg = EmailMessage()
    _add_headers(msg, message_id, sender, to, subject)
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    for file in attachments:
        maintype, subtype = file.types
        msg.add_attachment(file.content, maintype=maintype, subtype=subtype, filename=file.filename)
    return msg


def _add_headers(
    msg: Message, message_id: str, sender: str, to: list[str], subject: str | Header
) -> None:
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject  # type: ignore[assignment]  # typeshed knows only str
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = message_id if message_id.startswith("<") else f"<{message_id}>"
    msg["X-Idempotency-Key"] = message_id


def _now() -> float:
    return time.monotonic()


@dataclass
class _IdleSession:
    client: aiosmtplib.SMTP
    since: float  # _now() when it went idle


class EmailSender:
    """Sends messages over a small pool of kept SMTP sessions; close it with `aclose`
    (or use it as an async context manager) so the kept sessions say QUIT.

    `pool_size` bounds the idle sessions kept, not the sessions in use: concurrent sends
    open as many as they need (the worker's activity slots bound them), and the extra ones
    are closed after their message.
    """

    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings
        self._idle: list[_IdleSession] = []  # the most recently used last
        self._loop: asyncio.AbstractEventLoop | None = None
        self._quitting: set[asyncio.Task[None]] = set()
        self._closed = False

    async def __aenter__(self) -> EmailSender:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """QUIT every kept session; a send still running closes its own when done."""
        self._closed = True
        idle, self._idle = self._idle, []
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            for session in idle:
                self._quit_later(session.client)
        else:
            _abandon(idle)
        await asyncio.gather(
            *(task for task in self._quitting if task.get_loop() is loop), return_exceptions=True
        )

    async def send(
        self,
        *,
        message_id: str,
        sender: str,
        to: list[str],
        subject: str,
        html: str,
        text: str,
        attachments: Sequence[Attachment] = (),
    ) -> None:
        """Deliver one message to the SMTP server, or raise ProviderError."""
        if not to:
            raise ProviderError(PROVIDER, None, "no recipients", retryable=False)
        try:
            msg = build_message(
                message_id=message_id,
                sender=sender,
                to=to,
                subject=subject,
                html=html,
                text=text,
                attachments=attachments,
            )
        except ValueError as bad:
            raise ProviderError(PROVIDER, None, str(bad), retryable=False) from bad
        try:
            refused = await self._send(msg)
        except aiosmtplib.SMTPException as exc:
            raise _provider_error(exc) from exc
        except OSError as exc:  # DNS failure, refused connection before aiosmtplib wraps it
            raise ProviderError(PROVIDER, None, f"connection: {exc!r}", retryable=True) from exc
        if refused:
            # Delivered to the others; raising would make a retry duplicate their copies.
            log.warning(
                "email.recipients_refused",
                message_id=message_id,
                refused={addr: r.code for addr, r in refused.items()},
            )
        log.info("email.sent", message_id=message_id, recipients=len(to))

    async def _send(self, msg: Message) -> dict[str, aiosmtplib.SMTPResponse]:
        kept = self._take_idle()
        if kept is not None:
            try:
                return await self._send_on(kept, msg)
            except aiosmtplib.SMTPServerDisconnected:
                pass  # the server closed the kept session meanwhile
            except aiosmtplib.SMTPResponseException as exc:
                if exc.code != 421:  # 421: the server is closing the session
                    raise
        return await self._send_on(await self._connect(), msg)

    async def _send_on(
        self, client: aiosmtplib.SMTP, msg: Message
    ) -> dict[str, aiosmtplib.SMTPResponse]:
        """Send on one session; it goes back to the pool only after a clean send."""
        try:
            refused, _ = await client.send_message(msg)
        except BaseException:
            client.close()
            raise
        # nothing awaited from here on: the message is accepted, and a cancellation now
        # (the activity's timeout, a worker shutting down) must not make a retry send it again
        self._put_idle(client)
        return refused

    async def _connect(self) -> aiosmtplib.SMTP:
        s = self._settings
        client = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            username=s.username,
            password=s.password.get_secret_value() if s.password else None,
            use_tls=s.use_tls,
            start_tls=s.start_tls,
            timeout=s.timeout,
        )
        await client.connect()  # greeting, EHLO, STARTTLS and AUTH as configured
        return client

    def _take_idle(self) -> aiosmtplib.SMTP | None:
        """The most recently used session still open and idle for less than the idle
        timeout; every other kept session that is past it is closed on the way."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # sessions belong to the loop that opened them
            _abandon(self._idle)
            self._idle, self._loop = [], loop
        now = _now()
        fresh = []
        for session in self._idle:
            if not session.client.is_connected:
                continue
            if now - session.since >= self._settings.idle_timeout:
                self._quit_later(session.client)
            else:
                fresh.append(session)
        self._idle = fresh
        return self._idle.pop().client if self._idle else None

    def _put_idle(self, client: aiosmtplib.SMTP) -> None:
        keep = not self._closed and len(self._idle) < self._settings.pool_size
        if keep and client.is_connected:
            self._idle.append(_IdleSession(client, _now()))
        else:
            self._quit_later(client)

    def _quit_later(self, client: aiosmtplib.SMTP) -> None:
        """QUIT in the background, so that no send waits for another session's goodbye."""
        task = asyncio.get_running_loop().create_task(_quit(client))
        self._quitting.add(task)
        task.add_done_callback(self._quitting.discard)


async def _quit(client: aiosmtplib.SMTP) -> None:
    with suppress(aiosmtplib.SMTPException, OSError):
        await client.quit()
    client.close()


def _abandon(sessions: list[_IdleSession]) -> None:
    """Close sessions opened on another event loop (a sender used again after its loop
    ended): their transports cannot be used, or politely closed, from this one."""
    for session in sessions:
        with suppress(RuntimeError):  # that loop is closed already
            session.client.close()


# 5xx replies about us, not the message or its recipient: authentication required (530),
# mechanism too weak (534), credentials refused (535), encryption required (538). An
# operator fixes the settings and the deliveries waiting on them go out.
_OUR_CONFIGURATION = frozenset({530, 534, 535, 538})


def _provider_error(exc: aiosmtplib.SMTPException) -> ProviderError:
    """Permanent: a 5xx refusal of the recipient or of the message. Retryable: 4xx replies,
    lost connections, and what our own configuration gets wrong (credentials, TLS, the
    sender address), which a fix of the settings cures without touching the invoice."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        return ProviderError(
            PROVIDER, max(codes, default=None), detail, retryable=any(400 <= c < 500 for c in codes)
        )
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        detail = f"sender {exc.sender} refused (check INVOICEFLOW_MAIL_FROM): {exc.message}"
        return ProviderError(PROVIDER, exc.code, detail, retryable=True)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        ours = exc.code in _OUR_CONFIGURATION or isinstance(exc, aiosmtplib.SMTPAuthenticationError)
        detail = f"{exc.message} (check the SMTP settings)" if ours else exc.message
        return ProviderError(PROVIDER, exc.code, detail, retryable=ours or 400 <= exc.code < 500)
    detail = f"{type(exc).__name__}: {exc.message}"
    if isinstance(exc, aiosmtplib.SMTPNotSupported) and "SMTPUTF8" in exc.message:
        # an internationalised address this relay cannot carry: the message's, not ours
        return ProviderError(PROVIDER, None, detail, retryable=False)
    # lost connections and timeouts; the server not offering what our settings ask for
    # (STARTTLS, AUTH)
    return ProviderError(PROVIDER, None, detail, retryable=True)
