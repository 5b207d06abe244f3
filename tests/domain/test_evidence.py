"""Evidence files are judged by their content: real tiny files of every allowed kind pass,
disguised ones are refused with a message that says what the file really is."""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest

from domain.evidence import EvidenceKind, EvidenceRefused, classify, safe_filename

LIMIT = 10 * 1024 * 1024


def pdf_bytes() -> bytes:
    """A one-page PDF with a correct cross-reference table."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>",
        b"<< /Length 35 >>\nstream\nBT /F1 12 Tf 20 100 Td (Hi) Tj ET\nendstream",
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


def png_bytes() -> bytes:
    """A 1x1 red RGB PNG: signature, IHDR, IDAT, IEND with their CRCs."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")  # filter byte, then R G B
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def jpeg_bytes() -> bytes:
    """SOI, a JFIF APP0 segment, EOI: the start every JPEG camera or scanner writes."""
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return b"\xff\xd8" + b"\xff\xe0" + struct.pack(">H", len(app0) + 2) + app0 + b"\xff\xd9"


def eml_bytes(*, html: bool = False) -> bytes:
    message = EmailMessage()
    message["From"] = "Ana Customer <ana@example.com>"
    message["To"] = "billing@invoiceflow.local"
    message["Subject"] = "Delivery of 12 May was short by 3 boxes"
    message["Date"] = format_datetime(datetime(2026, 5, 14, 9, 30, tzinfo=UTC))
    message["Message-ID"] = make_msgid(domain="example.com")
    message.set_content("Only 9 of 12 boxes arrived.\n")
    if html:
        message.add_alternative("<html><body><p>Only 9 of 12 boxes arrived.</p></body></html>")
    return message.as_bytes()


def zip_bytes() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("rows.csv", "a,b\n1,2\n")
    return buffer.getvalue()


# A DOS header as every Windows .exe starts: "MZ", then binary fields full of NULs
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48
CSV = b"invoice,line,quantity\nINV-2026-0001,1,12\nINV-2026-0001,2,3\n"


def refusal(content: bytes, filename: str, max_bytes: int = LIMIT) -> EvidenceRefused:
    with pytest.raises(EvidenceRefused) as caught:
        classify(content, filename, max_bytes)
    return caught.value


@pytest.mark.parametrize(
    ("content", "filename", "expected"),
    [
        (
            pdf_bytes(),
            "delivery-note.pdf",
            EvidenceKind(media_type="application/pdf", extension="pdf"),
        ),
        (png_bytes(), "photo.png", EvidenceKind(media_type="image/png", extension="png")),
        (jpeg_bytes(), "photo.JPEG", EvidenceKind(media_type="image/jpeg", extension="jpg")),
        (CSV, "rows.csv", EvidenceKind(media_type="text/csv", extension="csv")),
        (b"a;b;c\n1;2;3\n", "rows.csv", EvidenceKind(media_type="text/csv", extension="csv")),
        (
            b"Only 9 of 12 boxes came.\r\nPlease credit 3.\n",
            "note.txt",
            EvidenceKind(media_type="text/plain", extension="txt"),
        ),
        (eml_bytes(), "mail.eml", EvidenceKind(media_type="message/rfc822", extension="eml")),
    ],
    ids=["pdf", "png", "jpeg", "csv", "csv-semicolons", "text", "eml"],
)
def test_real_files_of_every_allowed_kind_are_accepted(
    content: bytes, filename: str, expected: EvidenceKind
) -> None:
    assert classify(content, filename, LIMIT) == expected


def test_the_content_decides_not_the_name() -> None:
    assert classify(pdf_bytes(), "scan", LIMIT).media_type == "application/pdf"
    assert classify(png_bytes(), "photo.heic", LIMIT).extension == "png"
    assert classify(CSV, "rows.txt", LIMIT).media_type == "text/csv"
    assert classify(eml_bytes(), "forwarded.txt", LIMIT).media_type == "message/rfc822"


def test_an_email_with_an_html_part_is_still_an_email() -> None:
    assert classify(eml_bytes(html=True), "mail.eml", LIMIT).media_type == "message/rfc822"


def test_utf8_text_with_a_bom_and_accents_is_plain_text() -> None:
    content = "\ufeffLa livraison du 12 mai était incomplète.\n".encode()
    assert classify(content, "note.txt", LIMIT).media_type == "text/plain"


def test_text_that_merely_starts_like_an_executable_signature_is_text() -> None:
    kind = classify(b"MZ Logistics delivered 9 boxes, not 12.\n", "note.txt", LIMIT)
    assert kind.media_type == "text/plain"


@pytest.mark.parametrize(
    "content",
    [b"Just one line, with a comma\n", b"a,b,c\n1,2\n3,4,5,6\n", b"first line\nsecond line\n"],
    ids=["one-line", "ragged-columns", "one-column"],
)
def test_text_without_a_consistent_table_is_plain_text(content: bytes) -> None:
    assert classify(content, "rows.csv", LIMIT).media_type == "text/plain"


def test_headers_must_start_the_file_for_an_email() -> None:
    content = b"Hello,\nFrom: ana@example.com\nSubject: short delivery\n\nbody\n"
    assert classify(content, "note.txt", LIMIT).media_type == "text/plain"


def test_from_alone_is_not_an_email() -> None:
    refused = refusal(b"From: ana@example.com\n\nno subject, date or id\n", "mail.eml")
    assert refused.code == "evidence_type_not_allowed"
    assert "named mail.eml but its content is not an e-mail message" in refused.message


# --- disguised files -------------------------------------------------------------------


def test_a_png_named_pdf_is_refused_and_the_message_says_so() -> None:
    refused = refusal(png_bytes(), "report.pdf")
    assert refused.code == "evidence_type_not_allowed"
    assert "the file is named report.pdf but its content is not a PDF" in refused.message
    assert "PNG image" in refused.message


def test_a_windows_program_named_pdf_is_refused() -> None:
    refused = refusal(EXE, "invoice.pdf")
    assert refused.code == "evidence_type_not_allowed"
    assert "named invoice.pdf but its content is not a PDF (it is a Windows program)" in (
        refused.message
    )


def test_a_zip_named_csv_is_refused() -> None:
    refused = refusal(zip_bytes(), "rows.csv")
    assert refused.code == "evidence_type_not_allowed"
    assert "named rows.csv" in refused.message
    assert "ZIP archive" in refused.message


@pytest.mark.parametrize(
    "content",
    [
        b"<!DOCTYPE html>\n<title>Invoice</title>\n",
        b"Dear team,\n<html><body>hi</body></html>\n",
        b"notes\n<script>fetch('/steal?c='+document.cookie)</script>\n",
        b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>\n",
    ],
    ids=["doctype", "html", "script", "svg"],
)
def test_markup_named_txt_is_refused(content: bytes) -> None:
    refused = refusal(content, "notes.txt")
    assert refused.code == "evidence_type_not_allowed"
    assert "HTML or script" in refused.message


def test_rtf_is_refused_although_it_is_text() -> None:
    assert refusal(b"{\\rtf1\\ansi {\\object\\objemb}}", "letter.txt").code == (
        "evidence_type_not_allowed"
    )


@pytest.mark.parametrize(
    "content",
    [
        b"line one\x00line two\n",
        b"bell \x07 in the middle\n",
        "café latin-1\n".encode("latin-1"),
        "UTF-16 text\n".encode("utf-16"),
    ],
    ids=["nul", "control", "latin-1", "utf-16"],
)
def test_text_that_is_not_clean_utf8_is_refused(content: bytes) -> None:
    assert refusal(content, "note.txt").code == "evidence_type_not_allowed"


def test_an_unnamed_binary_is_refused_with_the_allowed_types() -> None:
    refused = refusal(b"\x00\x01\x02\x03binary", "blob")
    assert refused.code == "evidence_type_not_allowed"
    assert "PDF, PNG, JPEG, plain text, CSV or e-mail (.eml)" in refused.message


# --- size -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content", [b"", b"\xef\xbb\xbf", b"  \n\t\n"], ids=["empty", "bom", "blank"]
)
def test_an_empty_file_is_refused(content: bytes) -> None:
    assert refusal(content, "note.txt").code == "evidence_empty"


def test_exactly_the_limit_passes_and_one_byte_more_is_refused_naming_the_limit() -> None:
    at_limit = b"x" * (LIMIT - 1) + b"\n"
    assert classify(at_limit, "note.txt", LIMIT).media_type == "text/plain"

    refused = refusal(at_limit + b"x", "note.txt")
    assert refused.code == "evidence_too_large"
    assert "10 MB" in refused.message


def test_the_limit_is_said_with_its_fraction() -> None:
    refused = refusal(b"x" * (3 * 1024 * 1024), "note.txt", max_bytes=2 * 1024 * 1024 + 512 * 1024)
    assert "2.5 MB" in refused.message
    assert "3 MB" in refused.message


# --- names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ana\\Desktop\\delivery note.pdf", "delivery note.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        ("bad\x00name\r\n.txt", "badname.txt"),
        ('what?<is>"this".csv', "what__is__this_.csv"),
        ("   ", "evidence"),
        ("..", "evidence"),
        (".hidden.txt", "hidden.txt"),
        ("CON.txt", "_CON.txt"),
    ],
)
def test_safe_filename(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


def test_a_long_name_is_cut_to_120_characters_keeping_its_extension() -> None:
    name = safe_filename("delivery " * 30 + ".pdf")
    assert len(name) == 120
    assert name.endswith(".pdf")
    assert name.startswith("delivery delivery")
