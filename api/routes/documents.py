"""The documents of an invoice and its credit notes, for upstream apps: the PDF, and the
e-invoice in either syntax (UBL 2.1 Peppol BIS 3.0, or CII as Factur-X embeds it). Each is
the stored file when it was issued (the one the customer received), else rendered now and
stored, so every later download is the same file. An invoice not numbered yet has none
(409 `not_issued`); one whose content EN 16931 cannot express (two taxes on one line, as
in British Columbia) has no e-invoice (422 `einvoice_unsupported`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from activities.documents import DocumentIssuer, DocumentUnavailable, IssuedDocument
from api.deps import ApiKeyDep, SettingsDep
from api.errors import ApiError, Conflict, NotFoundError, Unprocessable
from api.openapi import problems
from integrations.evidence_storage import documents_storage

router = APIRouter(tags=["documents"])

_FILE = {
    "content": {
        "application/pdf": {"schema": {"type": "string", "format": "binary"}},
        "application/xml": {"schema": {"type": "string"}},
    }
}
_RESPONSES = {
    200: {"description": "The document, as an attachment", **_FILE},
    **problems(
        404,
        409,
        422,
        s404="No such invoice or credit note (`not_found`)",
        s409="The invoice is not issued yet: it has no number (`not_issued`)",
        s422="The document cannot express this invoice (`einvoice_unsupported`)",
    ),
}
Format = Annotated[Literal["ubl", "cii"], Query(alias="format", description="ubl or cii")]


def issuer(request: Request, settings: SettingsDep) -> DocumentIssuer:
    return DocumentIssuer(request.app.state.sessions, documents_storage(settings), settings)


def _refusal(unavailable: DocumentUnavailable) -> ApiError:
    kind = {"not_found": NotFoundError, "not_issued": Conflict}.get(unavailable.code, Unprocessable)
    return kind(unavailable.message, code=unavailable.code)


def file_response(document: IssuedDocument, disposition: str = "attachment") -> Response:
    """The stored file as sent, never sniffed or cached (`inline` opens it in a browser)."""
    return Response(
        document.content,
        media_type=document.media_type,
        headers={
            "Content-Disposition": f'{disposition}; filename="{document.filename}"',
            "X-Content-SHA256": document.sha256,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/invoices/{invoice_id}/pdf", response_class=Response, responses=_RESPONSES)
async def invoice_pdf(
    invoice_id: str, request: Request, settings: SettingsDep, _: ApiKeyDep
) -> Response:
    """The invoice's PDF (a Factur-X PDF/A-3 for a customer who asked for CII)."""
    documents = issuer(request, settings)
    try:
        invoice, customer = await documents.load_invoice(invoice_id)
        return file_response(await documents.invoice_pdf(invoice, customer))
    except DocumentUnavailable as unavailable:
        raise _refusal(unavailable) from None


@router.get("/invoices/{invoice_id}/einvoice", response_class=Response, responses=_RESPONSES)
async def invoice_einvoice(
    invoice_id: str, fmt: Format, request: Request, settings: SettingsDep, _: ApiKeyDep
) -> Response:
    """The invoice as an e-invoice: `format=ubl` (Peppol BIS Billing 3.0) or `cii`."""
    documents = issuer(request, settings)
    try:
        invoice, customer = await documents.load_invoice(invoice_id)
        return file_response(await documents.invoice_einvoice(invoice, customer, fmt))
    except DocumentUnavailable as unavailable:
        raise _refusal(unavailable) from None


@router.get("/credit-notes/{credit_note_id}/pdf", response_class=Response, responses=_RESPONSES)
async def credit_note_pdf(
    credit_note_id: str, request: Request, settings: SettingsDep, _: ApiKeyDep
) -> Response:
    """A credit note's PDF: its amount per tax rate, the invoice it credits, its reason."""
    try:
        return file_response(await issuer(request, settings).credit_note(credit_note_id))
    except DocumentUnavailable as unavailable:
        raise _refusal(unavailable) from None


@router.get(
    "/credit-notes/{credit_note_id}/einvoice", response_class=Response, responses=_RESPONSES
)
async def credit_note_einvoice(
    credit_note_id: str, fmt: Format, request: Request, settings: SettingsDep, _: ApiKeyDep
) -> Response:
    """A credit note as an e-invoice (UBL CreditNote or CII 381), referencing its invoice."""
    try:
        return file_response(await issuer(request, settings).credit_note(credit_note_id, fmt))
    except DocumentUnavailable as unavailable:
        raise _refusal(unavailable) from None
