"""The customer's path through the real portal pages, against the real invoice and dispute
workflows, the SMTP catcher and the provider sandbox: a browser (an httpx client with a
cookie jar and no API key) follows the link in the invoice e-mail, opens a dispute with an
attachment, answers a question, and accepts or declines a proposed credit note. Staff act
through the API (`stack.api`) as they would.

What is checked is what a customer would see and what must hold behind it: one dispute per
submitted form however often it is posted, forms refused without their CSRF token or
cookie, files refused by content with nothing stored, and a remedy's effect on the invoice
and on accounting, once.
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from temporalio.client import Client

from api.portal_forms import COOKIE_NAME, FORM_MAX_AGE_S, FORM_SALT, _browser_hash
from core.links import PORTAL_VIEW_MAX_AGE_S, PORTAL_VIEW_SALT, portal_view_url
from schemas.dispute_flow import DisputeLive
from tests.support.dispute_flow import act, dispute_groups, issued_invoice, live, wait_for_dispute
from tests.support.stack import Stack, running_stack

DISPUTE_PAGE = re.compile(r"^/portal/invoices/(?P<invoice>[^/?]+)/disputes/(?P<dispute>dsp_\w+)\?")
NUMBER = re.compile(r"DSP-2026-\d{4}")


def pdf_bytes() -> bytes:
    """A one-page PDF with a correct cross-reference table, as a scanner writes one."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>",
        b"<< /Length 44 >>\nstream\nBT /F1 12 Tf 20 100 Td (Timesheet) Tj ET\nendstream",
    ]
    out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


PNG = (  # a 1x1 PNG's signature and header: enough for any content check to call it PNG
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
    b"\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe"
    b"\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82"
)
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>\n"


# --- reading pages as a browser does ------------------------------------------------------


@dataclass
class Form:
    action: str
    hidden: dict[str, str] = field(default_factory=dict)
    fields: dict[str, list[str]] = field(default_factory=dict)  # checkbox and button values


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._form: Form | None = None
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {name: value or "" for name, value in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "form" and a.get("method", "").lower() == "post":
            self._form = Form(a.get("action", ""))
            self.forms.append(self._form)
        elif self._form is not None and tag in ("input", "button") and a.get("name"):
            if a.get("type") == "hidden":
                self._form.hidden[a["name"]] = a.get("value", "")
            else:
                self._form.fields.setdefault(a["name"], []).append(a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None


def parsed(html: str) -> _Forms:
    parser = _Forms()
    parser.feed(html)
    return parser


def form(html: str, action: str) -> Form:
    """The page's POST form whose action's path ends with `action`."""
    for found in parsed(html).forms:
        if urlsplit(found.action).path.endswith(action):
            return found
    raise AssertionError(f"no form posting to …{action} on the page")


def words(html: str) -> str:
    """What a person reads on the page."""
    html = re.sub(r"<style>.*?</style>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def timeline(html: str) -> list[str]:
    """The kinds of the timeline's entries, in order (``<li class="event opened">``)."""
    return re.findall(r'<li class="event ([a-z_]+)">', html)


# --- the stack and the customer's browser -------------------------------------------------


@dataclass
class Customer:
    stack: Stack
    browser: httpx.AsyncClient
    invoice_id: str
    invoice_url: str  # path and query of the invoice page's signed link
    email: str
    evidence_dir: Path

    @property
    def token(self) -> str:
        return parse_qs(urlsplit(self.invoice_url).query)["token"][0]

    def url(self, suffix: str = "", token: str | None = None) -> str:
        return f"/portal/invoices/{self.invoice_id}{suffix}?token={token or self.token}"

    async def dispute_form(self) -> Form:
        response = await self.browser.get(self.url("/disputes/new"))
        assert response.status_code == 200, response.text
        return form(response.text, f"/portal/invoices/{self.invoice_id}/disputes")

    async def post(
        self,
        filled: Form,
        data: dict[str, Any],
        files: Sequence[tuple[str, bytes, str]] = (),
        browser: httpx.AsyncClient | None = None,
        **hidden: str | None,
    ) -> httpx.Response:
        """Post `filled` as the browser would: its hidden fields (or `hidden` instead;
        None leaves one out), `data`, and `files` in the file input."""
        fields = {**filled.hidden, **hidden}
        body = {name: value for name, value in {**fields, **data}.items() if value is not None}
        parts = [("attachments", (name, content, media)) for name, content, media in files]
        return await (browser or self.browser).post(filled.action, data=body, files=parts or None)

    async def open_dispute(self, **data: Any) -> tuple[str, httpx.Response]:
        filled = await self.dispute_form()
        posted = await self.post(filled, intake(**data), [attachment()])
        assert posted.status_code == 303, posted.text
        found = DISPUTE_PAGE.match(posted.headers["location"])
        assert found, posted.headers["location"]
        return found["dispute"], posted

    async def page(self, dispute_id: str) -> str:
        response = await self.browser.get(self.url(f"/disputes/{dispute_id}"))
        assert response.status_code == 200, response.text
        return response.text

    async def page_when(self, dispute_id: str, *kinds: str) -> str:
        """The dispute's page once its timeline shows every one of `kinds`."""

        async def shown() -> str | None:
            html = await self.page(dispute_id)
            return html if set(kinds) <= set(timeline(html)) else None

        return await self.stack.wait_for(shown)  # type: ignore[no-any-return]

    async def disputes(self) -> list[dict[str, Any]]:
        response = await self.stack.api.get("/disputes", params={"invoice_id": self.invoice_id})
        assert response.status_code == 200, response.text
        return response.json()["items"]  # type: ignore[no-any-return]

    async def acknowledgements(self, number: str) -> list[dict[str, Any]]:
        return [m for m in await self.stack.mailbox(self.email) if number in m["subject"]]

    def blobs(self) -> list[Path]:
        return [p for p in self.evidence_dir.rglob("*") if p.is_file()]


def intake(**data: Any) -> dict[str, Any]:
    return {
        "reason": "quantity",
        "lines": ["1"],
        "amount": "",
        "description": "We agreed on 7 hours, not 10: see the signed timesheet.",
        **data,
    }


def attachment() -> tuple[str, bytes, str]:
    return ("timesheet-october.pdf", pdf_bytes(), "application/pdf")


async def link_from_invoice_email(stack: Stack, email: str, invoice_id: str) -> str:
    """The portal link of the invoice e-mail, as the customer clicks it (path and query)."""
    pattern = re.compile(rf"https?://[^\s\"'<>]+/portal/invoices/{invoice_id}\?token=[\w.\-]+")

    async def found() -> str | None:
        for mail in await stack.mailbox(email):
            match = pattern.search(mail.get("text") or "") or pattern.search(
                unescape(mail.get("html") or "")
            )
            if match:
                return match.group(0)
        return None

    link = await stack.wait_for(found)
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}" == stack.api_url
    return f"{parts.path}?{parts.query}"


@contextlib.asynccontextmanager
async def customer_portal(
    temporal: Client, database_url: str, tmp_path: Path, **overrides: Any
) -> AsyncIterator[Customer]:
    evidence_dir = tmp_path / "evidence"
    async with running_stack(
        temporal, database_url, evidence_dir=str(evidence_dir), **overrides
    ) as stack:
        await dispute_groups(stack)
        email = f"ap-{uuid.uuid4().hex[:8]}@portal-dispute.test"
        invoice_id, _ = await issued_invoice(stack, email)
        url = await link_from_invoice_email(stack, email, invoice_id)
        # a browser: keeps cookies, follows nothing by itself, carries no API key
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as browser:
            yield Customer(stack, browser, invoice_id, url, email, evidence_dir)


async def with_owner(stack: Stack, dispute_id: str) -> DisputeLive:
    """The dispute once its owner holds it (their task open, so they can act)."""

    async def ready() -> DisputeLive | None:
        try:
            state = await live(stack, dispute_id)
        except Exception:  # not started yet
            return None
        return state if state.status.value == "open" and state.task else None

    return await stack.wait_for(ready)  # type: ignore[no-any-return]


async def detail(stack: Stack, dispute_id: str) -> dict[str, Any]:
    response = await stack.api.get(f"/disputes/{dispute_id}")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def stored_status(stack: Stack, dispute_id: str, status: str) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        body = await detail(stack, dispute_id)
        return body if body["status"] == status else None

    return await stack.wait_for(reached)  # type: ignore[no-any-return]


def signed_long_ago(secret: str, salt: str, claims: Any, age_s: int) -> str:
    """A token as `URLSafeTimedSerializer` would have signed it `age_s` seconds ago."""

    class Then(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age_s

    return URLSafeTimedSerializer(secret, salt=salt, signer=Then).dumps(claims)


# --- 1. intake ------------------------------------------------------------------------------


async def test_a_customer_opens_a_dispute_from_the_invoice_email_with_a_pdf(
    temporal: Client, sqlite_url: str, tmp_path: Path
) -> None:
    async with customer_portal(temporal, sqlite_url, tmp_path) as customer:
        stack = customer.stack
        secret = stack.settings.link_signing_secret.get_secret_value()
        built = portal_view_url(stack.api_url, secret, customer.invoice_id)
        assert urlsplit(built).path == urlsplit(customer.invoice_url).path

        invoice_page = await customer.browser.get(customer.invoice_url)
        assert invoice_page.status_code == 200, invoice_page.text
        read = words(invoice_page.text)
        assert "Pay now" in read and "Dispute this invoice" in read
        payment_url = (await stack.invoice(customer.invoice_id))["invoice"]["payment_url"]
        assert payment_url in parsed(invoice_page.text).links
        new_form = [link for link in parsed(invoice_page.text).links if "/disputes/new" in link]
        assert new_form == [customer.url("/disputes/new")]

        form_page = await customer.browser.get(new_form[0])
        assert form_page.status_code == 200, form_page.text
        assert COOKIE_NAME in form_page.headers.get("set-cookie", "")
        filled = form(form_page.text, f"/portal/invoices/{customer.invoice_id}/disputes")
        assert filled.hidden["csrf"] and filled.hidden["submission_id"]
        assert filled.fields["lines"] == ["1", "2"]  # one checkbox per invoice line

        posted = await customer.post(filled, intake(), [attachment()])
        assert posted.status_code == 303, posted.text
        location = posted.headers["location"]
        found = DISPUTE_PAGE.match(location)
        assert found and found["invoice"] == customer.invoice_id, location
        assert "done=opened" in location
        dispute_id = found["dispute"]

        html = await customer.page_when(dispute_id, "opened", "owner_assigned")
        read = words(html)
        number = NUMBER.search(read)
        assert number, read
        assert f"Dispute {number.group(0)}" in read
        assert "timesheet-october.pdf" in read and "PDF" in read
        assert "We agreed on 7 hours, not 10" in read
        assert "Senior consultant" in read  # the disputed line, in the customer's words
        shown = await customer.browser.get(location)
        assert "Your dispute is open" in words(shown.text)

        body = await stack.wait_for_status(customer.invoice_id, "DISPUTED")
        assert body["live"]["disputed_minor"] == 144_000  # line 1 with its VAT

        mails = await stack.wait_for(lambda: customer.acknowledgements(number.group(0)))
        assert len(mails) == 1, [m["subject"] for m in mails]
        # the e-mail's link opens the dispute's page in the same browser
        link = re.search(
            rf"{re.escape(stack.api_url)}/portal/\S+/disputes/{dispute_id}\?token=[\w.\-]+",
            mails[0]["text"],
        )
        assert link, mails[0]["text"]
        from_mail = await customer.browser.get(link.group(0))
        assert from_mail.status_code == 200 and number.group(0) in words(from_mail.text)
        assert len(customer.blobs()) == 1  # the PDF, stored content-addressed
        evidence = (await detail(stack, dispute_id))["evidence"]
        assert [(e["filename"], e["media_type"], e["side"]) for e in evidence] == [
            ("timesheet-october.pdf", "application/pdf", "customer")
        ]
        assert customer.blobs()[0].name == evidence[0]["sha256"]


# --- 2. double submit -----------------------------------------------------------------------


async def test_the_same_dispute_form_posted_twice_is_one_dispute_and_one_email(
    temporal: Client, db_url: str, tmp_path: Path
) -> None:
    async with customer_portal(temporal, db_url, tmp_path) as customer:
        filled = await customer.dispute_form()
        first = await customer.post(filled, intake(), [attachment()])
        second = await customer.post(filled, intake(), [attachment()])
        assert first.status_code == second.status_code == 303, (first.text, second.text)
        assert first.headers["location"] == second.headers["location"]

        disputes = await customer.disputes()
        assert len(disputes) == 1, disputes
        number = disputes[0]["number"]
        await with_owner(customer.stack, disputes[0]["id"])
        mails = await customer.stack.wait_for(lambda: customer.acknowledgements(number))
        assert len(mails) == 1, [m["subject"] for m in mails]
        body = await detail(customer.stack, disputes[0]["id"])
        assert len(body["evidence"]) == 1
        assert [e["kind"] for e in body["events"]].count("opened") == 1
        assert len(customer.blobs()) == 1


# --- 3. refusals ----------------------------------------------------------------------------


async def test_forged_disguised_tampered_and_expired_posts_create_nothing(
    temporal: Client, sqlite_url: str, tmp_path: Path
) -> None:
    async with customer_portal(temporal, sqlite_url, tmp_path) as customer:
        stack = customer.stack
        secret = stack.settings.link_signing_secret.get_secret_value()
        filled = await customer.dispute_form()

        async def refused(response: httpx.Response, status: int) -> None:
            assert response.status_code == status, (response.status_code, response.text)
            assert await customer.disputes() == []
            assert customer.blobs() == []

        # no token, a made-up one, and the real one posted by another browser (no cookie:
        # what a cross-site form gets, SameSite=Lax keeping the cookie home)
        no_token = await customer.post(filled, intake(), [attachment()], csrf=None)
        await refused(no_token, 403)
        assert "This form cannot be sent" in words(no_token.text)
        await refused(await customer.post(filled, intake(), csrf="forged.token.value"), 403)
        forged = signed_long_ago(
            "not-our-secret",
            FORM_SALT,
            {"i": customer.invoice_id, "p": "dispute", "s": filled.hidden["submission_id"]},
            0,
        )
        await refused(await customer.post(filled, intake(), csrf=forged), 403)
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as elsewhere:
            await refused(await customer.post(filled, intake(), browser=elsewhere), 403)
        other_submission = await customer.post(filled, intake(), submission_id="another-one")
        await refused(other_submission, 403)
        # a token of our own, signed before the form's lifetime: refused as any bad token
        cookie = customer.browser.cookies[COOKIE_NAME]
        stale = await customer.post(
            filled,
            intake(),
            csrf=signed_long_ago(
                secret,
                FORM_SALT,
                {
                    "i": customer.invoice_id,
                    "p": "dispute",
                    "s": filled.hidden["submission_id"],
                    "b": _browser_hash(cookie),
                },
                FORM_MAX_AGE_S + 60,
            ),
        )
        await refused(stale, 403)

        # files that are not what their names say: the form again (422), nothing stored
        png_as_pdf = await customer.post(
            filled, intake(), [("delivery-note.pdf", PNG, "application/pdf")]
        )
        await refused(png_as_pdf, 422)
        assert "delivery-note.pdf" in words(png_as_pdf.text)
        html_as_text = await customer.post(filled, intake(), [("notes.txt", HTML, "text/plain")])
        await refused(html_as_text, 422)
        assert "notes.txt" in words(html_as_text.text)

        # the invoice link itself, tampered with or expired
        tampered = customer.token[:-2] + ("AA" if not customer.token.endswith("AA") else "BB")
        tampered_url = customer.url("/disputes", token=tampered)
        tampered_post = await customer.browser.post(
            tampered_url, data={**filled.hidden, **intake()}
        )
        await refused(tampered_post, 403)
        assert (await customer.browser.get(customer.url(token=tampered))).status_code == 403
        expired = signed_long_ago(
            secret,
            PORTAL_VIEW_SALT,
            {"invoice_id": customer.invoice_id},
            PORTAL_VIEW_MAX_AGE_S + 3600,
        )
        expired_post = await customer.browser.post(
            customer.url("/disputes", token=expired), data={**filled.hidden, **intake()}
        )
        await refused(expired_post, 410)
        assert (await customer.browser.get(customer.url(token=expired))).status_code == 410
        expired_form = await customer.browser.get(customer.url("/disputes/new", token=expired))
        assert expired_form.status_code == 410

        # more than can be disputed: the form again, with the amount it may say
        too_much = await customer.post(filled, intake(lines=[], amount="99,999.00"))
        await refused(too_much, 422)
        assert "more than the" in words(too_much.text)

        # and the form as it was rendered still opens the dispute: the refusals were its own
        opened = await customer.post(filled, intake(), [attachment()])
        assert opened.status_code == 303, opened.text
        assert len(await customer.disputes()) == 1
        assert len(customer.blobs()) == 1

        # a second open dispute on the same line: refused by the process, nothing more
        again = await customer.post(await customer.dispute_form(), intake())
        assert again.status_code == 409, again.text
        assert "already disputed" in words(again.text).lower()
        assert len(await customer.disputes()) == 1


# --- 4. an information request answered on the portal ----------------------------------------


async def test_the_customer_answers_an_information_request_on_the_dispute_page(
    temporal: Client, sqlite_url: str, tmp_path: Path
) -> None:
    async with customer_portal(temporal, sqlite_url, tmp_path) as customer:
        stack = customer.stack
        dispute_id, _ = await customer.open_dispute()
        await with_owner(stack, dispute_id)
        page = await customer.page(dispute_id)
        assert "/reply" not in " ".join(f.action for f in parsed(page).forms)

        await act(
            stack,
            dispute_id,
            "information-requests",
            person_id="ann",
            text="Which days were the 3 hours you dispute?",
        )
        page = await customer.page_when(dispute_id, "information_requested")
        read = words(page)
        assert "We need more information" in read
        assert "Which days were the 3 hours you dispute?" in read
        reply = form(page, f"/disputes/{dispute_id}/reply")

        answer = {"text": "The 14th and 15th of October."}
        first = await customer.post(reply, answer)
        second = await customer.post(reply, answer)
        assert first.status_code == second.status_code == 303, (first.text, second.text)
        assert first.headers["location"] == second.headers["location"]
        assert "done=reply" in first.headers["location"]

        body = await stored_status(stack, dispute_id, "open")
        replies = [e for e in body["events"] if e["kind"] == "customer_replied"]
        assert len(replies) == 1, body["events"]
        assert replies[0]["text"] == "The 14th and 15th of October."
        assert replies[0]["data"]["request_id"] == reply.hidden["submission_id"]
        state = await live(stack, dispute_id)
        assert state.status.value == "open"
        page = await customer.page(dispute_id)
        assert timeline(page).count("customer_replied") == 1
        assert "The 14th and 15th of October." in words(page)
        assert "/reply" not in " ".join(f.action for f in parsed(page).forms)


async def test_an_answer_that_is_only_a_file_is_recorded_as_an_answer_not_a_decline(
    temporal: Client, sqlite_url: str, tmp_path: Path
) -> None:
    """The customer answers a question with a file and no words. KNOWN BUG (see the
    report): `DisputeCase._customer` (workflows/dispute_case.py) records an empty answer's
    text as ``"accepted" if reply.accept else "declined"``, which for an answer to a
    question (accept None) is "declined": the staff timeline then says the customer
    declined when they sent a timesheet. The portal hides it (`_FILLER`), staff do not."""
    async with customer_portal(temporal, sqlite_url, tmp_path) as customer:
        stack = customer.stack
        dispute_id, _ = await customer.open_dispute()
        await with_owner(stack, dispute_id)
        await act(stack, dispute_id, "information-requests", person_id="ann", text="Which days?")
        reply = form(await customer.page_when(dispute_id, "information_requested"), "/reply")
        hours = b"date,hours\n2026-10-14,3\n2026-10-15,4\n"
        answered = await customer.post(reply, {"text": ""}, [("hours.csv", hours, "text/csv")])
        assert answered.status_code == 303, answered.text

        body = await stored_status(stack, dispute_id, "open")
        filed = [e for e in body["evidence"] if e["filename"] == "hours.csv"]
        assert len(filed) == 1 and filed[0]["media_type"] == "text/csv"
        replies = [e for e in body["events"] if e["kind"] == "customer_replied"]
        assert len(replies) == 1
        assert replies[0]["data"]["evidence_ids"] == [filed[0]["evidence_id"]]
        assert replies[0]["text"] != "declined", (
            "an answer with only a file is recorded on the staff timeline as 'declined'"
            " (workflows/dispute_case.py, DisputeCase._customer: the empty text's filler"
            " treats accept=None as a decline)"
        )


# --- 5. a credit note accepted --------------------------------------------------------------


async def propose_credit(customer: Customer, dispute_id: str) -> Form:
    """Ann proposes a credit note of 300.00; the customer's page, and its remedy form."""
    await with_owner(customer.stack, dispute_id)
    await act(
        customer.stack,
        dispute_id,
        "remedies",
        person_id="ann",
        kind="credit_note",
        amount_minor=30_000,
        credit_reason="product_unsatisfactory",
        note="We credit the 3 hours you did not agree to.",
    )
    await wait_for_dispute(customer.stack, dispute_id, "remedy_proposed")
    page = await customer.page_when(dispute_id, "remedy_proposed")
    read = words(page)
    assert "Our proposal" in read and "£300.00" in read
    assert "We credit the 3 hours you did not agree to." in read
    remedy = form(page, f"/disputes/{dispute_id}/remedy")
    assert remedy.fields["decision"] == ["accept", "decline"]
    assert "Accept the proposal" in read and "Decline" in read
    return remedy


async def test_a_credit_note_accepted_twice_on_the_portal_is_credited_and_posted_once(
    temporal: Client, sqlite_url: str, tmp_path: Path
) -> None:
    async with customer_portal(temporal, sqlite_url, tmp_path) as customer:
        stack = customer.stack
        dispute_id, _ = await customer.open_dispute()
        remedy = await propose_credit(customer, dispute_id)
        total = (await stack.invoice(customer.invoice_id))["invoice"]["total_minor"]

        first = await customer.post(remedy, {"decision": "accept"})
        second = await customer.post(remedy, {"decision": "accept"})
        assert first.status_code == second.status_code == 303, (first.text, second.text)
        assert first.headers["location"] == second.headers["location"]
        assert "done=accepted" in first.headers["location"]

        body = await stored_status(stack, dispute_id, "resolved")
        assert [e["kind"] for e in body["events"]].count("remedy_accepted") == 1
        assert [n["amount_minor"] for n in body["credit_notes"]] == [30_000]

        async def credited() -> dict[str, Any] | None:
            invoice = await stack.invoice(customer.invoice_id)
            return invoice if (invoice.get("live") or {}).get("credited_minor") else None

        invoice = await stack.wait_for(credited)
        assert invoice["live"]["credited_minor"] == 30_000
        assert invoice["live"]["balance_minor"] == total - 30_000
        invoice = await stack.wait_for_status(customer.invoice_id, "ISSUED")  # collected again
        assert invoice["live"]["disputed_minor"] == 0

        async def posted() -> list[dict[str, Any]]:
            notes = await stack.provider_records("/accounting/v1/credit-notes")
            return [n for n in notes if n.get("invoice_reference") == customer.invoice_id]

        notes = await stack.wait_for(posted)
        assert len(notes) == 1 and notes[0]["amount_minor"] == 30_000
        number = body["number"]
        resolved = [
            m for m in await customer.acknowledgements(number) if "resolved" in m["subject"].lower()
        ]
        assert len(resolved) == 1, [m["subject"] for m in resolved]

        # the invoice as the customer now sees it: the credit note, the lower amount due
        invoice_page = words((await customer.browser.get(customer.invoice_url)).text)
        assert re.search(r"CN-2026-\d{4}", invoice_page), invoice_page
        assert f"£{(total - 30_000) / 100:,.2f}" in invoice_page

        landed = await customer.browser.get(second.headers["location"])
        assert landed.status_code == 200
        read = words(landed.text)
        assert "You accepted the proposal" in read and "Dispute resolved" in read
        assert "/remedy" not in " ".join(f.action for f in parsed(landed.text).forms)
        # a third post, long after, still lands there and credits nothing more
        third = await customer.post(remedy, {"decision": "accept"})
        assert third.status_code == 303 and third.headers["location"] == first.headers["location"]
        notes = await stack.provider_records("/accounting/v1/credit-notes")
        assert len([n for n in notes if n.get("invoice_reference") == customer.invoice_id]) == 1


# --- 6. a credit note declined --------------------------------------------------------------


async def test_a_declined_credit_note_goes_back_to_the_owner_with_the_comment(
    temporal: Client, sqlite_url: str, tmp_path: Path
) -> None:
    async with customer_portal(temporal, sqlite_url, tmp_path) as customer:
        stack = customer.stack
        dispute_id, _ = await customer.open_dispute()
        remedy = await propose_credit(customer, dispute_id)
        total = (await stack.invoice(customer.invoice_id))["invoice"]["total_minor"]

        comment = "Three hours is not enough: the whole day was wasted."
        declined = await customer.post(remedy, {"decision": "decline", "comment": comment})
        assert declined.status_code == 303, declined.text
        assert "done=declined" in declined.headers["location"]

        body = await stored_status(stack, dispute_id, "open")
        said = [e for e in body["events"] if e["kind"] == "remedy_declined"]
        assert len(said) == 1 and said[0]["text"] == comment and said[0]["visible_to_customer"]
        state = await with_owner(stack, dispute_id)
        assert state.declines == 1 and state.level == 1 and state.owner == "Ann"

        page = await customer.page(dispute_id)
        assert "remedy_declined" in timeline(page)
        assert comment in words(page)
        assert "/remedy" not in " ".join(f.action for f in parsed(page).forms)
        invoice = await stack.invoice(customer.invoice_id)
        assert invoice["live"]["balance_minor"] == total
        assert not (invoice["live"].get("credited_minor") or 0)
        assert invoice["live"]["status"] == invoice["invoice"]["status"] == "DISPUTED"
        assert not [
            m
            for m in await customer.stack.mailbox(customer.email)
            if "resolved" in m["subject"].lower()
        ]
