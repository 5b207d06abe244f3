"""Dispute evidence: which files we accept, decided by what the bytes are, never by the name.

Evidence is uploaded by customers through the portal, so every file is untrusted: a name
says nothing (an ``.exe`` renamed ``invoice.pdf``, an HTML page renamed ``notes.txt`` that a
browser would run). `classify` looks at the content and answers one of six media types, or
refuses with a stable code and a sentence a customer can act on. It runs before anything is
stored, so a refused file leaves nothing behind. Pure: bytes in, a verdict out, no I/O.

The order of the checks matters:

1. PDF, PNG and JPEG by their own signatures (stricter than `filetype`'s, which accepts
   ``%PDF`` without its dash and PNG on four bytes).
2. Content with control bytes (NUL and the like) is binary. `filetype` names what it is
   (ZIP, a Windows executable, ...) for the message; every such type is refused.
3. An e-mail: headers from the first line on, with From and a Date, Subject or Message-ID.
   Its body may carry HTML parts and legacy 8-bit charsets; real ``.eml`` files do.
4. Text: UTF-8 (a BOM allowed), then refused if it is markup a browser would render or run
   (HTML, SVG, script) or RTF (which embeds objects as text); CSV when a delimiter is
   consistent across lines, plain text otherwise.

Clean text is judged by the text rules alone: `filetype` also matches short ASCII prefixes
(``MZ``, ``BZh``, ``FWS``), and a note starting "MZ Logistics ..." is no executable; a real
executable, archive or media file always has control bytes.

A name whose extension claims one allowed kind while the content is another (a PNG named
``report.pdf``) is refused and the message says so: the customer most likely picked the
wrong file. Within text the content decides (``.txt`` holding CSV is CSV); an extension we
do not know is ignored, and `EvidenceKind.extension` is the one to store the file under.
"""

from __future__ import annotations

import csv
import email.parser
import email.policy
import io
import re
import unicodedata
from typing import Literal, NoReturn

import filetype
from pydantic import BaseModel, ConfigDict

EvidenceMediaType = Literal[
    "application/pdf", "image/png", "image/jpeg", "text/plain", "text/csv", "message/rfc822"
]

ALLOWED_MEDIA_TYPES: tuple[EvidenceMediaType, ...] = (
    "application/pdf",
    "image/png",
    "image/jpeg",
    "text/plain",
    "text/csv",
    "message/rfc822",
)
ALLOWED_DESCRIPTION = "PDF, PNG, JPEG, plain text, CSV or e-mail (.eml)"

_EXTENSION: dict[EvidenceMediaType, str] = {
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpg",
    "text/plain": "txt",
    "text/csv": "csv",
    "message/rfc822": "eml",
}

# What a name's extension claims, as a "family": within "text" the content decides.
_CLAIMS: dict[str, str] = {
    "pdf": "pdf",
    "png": "png",
    "jpg": "jpeg",
    "jpeg": "jpeg",
    "jpe": "jpeg",
    "jfif": "jpeg",
    "txt": "text",
    "text": "text",
    "log": "text",
    "md": "text",
    "csv": "text",
    "tsv": "text",
    "eml": "eml",
}
_FAMILY: dict[EvidenceMediaType, str] = {
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpeg",
    "text/plain": "text",
    "text/csv": "text",
    "message/rfc822": "eml",
}
# An e-mail is text too: a `.txt` holding one is accepted as the e-mail it is; a `.eml`
# that is no e-mail is refused (most likely the wrong export).
_FITS = {family: {family} for family in ("pdf", "png", "jpeg", "eml")} | {"text": {"text", "eml"}}
_FAMILY_NAME = {
    "pdf": "a PDF",
    "png": "a PNG image",
    "jpeg": "a JPEG image",
    "text": "plain text or CSV",
    "eml": "an e-mail message",
}
# For messages about refused binaries; anything else is named by its MIME type.
_BINARY_NAME = {
    "exe": "a Windows program",
    "elf": "a Linux program",
    "zip": "a ZIP archive",
    "gz": "a gzip archive",
    "rar": "a RAR archive",
    "7z": "a 7-Zip archive",
    "docx": "a Word document",
    "xlsx": "an Excel workbook",
    "gif": "a GIF image",
    "webp": "a WebP image",
}

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_BOM = b"\xef\xbb\xbf"
# C0 controls but tab, LF and CR; DEL; in decoded text also the C1 range
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_MARKUP = re.compile(
    r"<!doctype|<\s*(?:html|head|body|script|iframe|svg|object|embed)\b", re.IGNORECASE
)
_HEADER_LINE = re.compile(rb"^[!-9;-~]+:")  # RFC 5322 field name, then a colon
_CSV_SAMPLE_CHARS = 64 * 1024
_CSV_SAMPLE_LINES = 50


class EvidenceKind(BaseModel):
    """What an accepted file is: its media type, and the extension to store it under."""

    model_config = ConfigDict(frozen=True)

    media_type: EvidenceMediaType
    extension: str


class EvidenceRefused(Exception):
    """A file refused as evidence. `code` is stable (API problem types, tests), `message`
    is a sentence for the person who uploaded it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def detail(self) -> str:
        """The same sentence under the name `InvoiceRuleError` uses, for problem documents."""
        return self.message

    def __repr__(self) -> str:
        return f"EvidenceRefused({self.code!r}, {self.message!r})"


def classify(content: bytes, filename: str, max_bytes: int) -> EvidenceKind:
    """The kind of an uploaded file, or `EvidenceRefused` (see the module docstring)."""
    if not content.removeprefix(_BOM).strip():
        raise EvidenceRefused("evidence_empty", "the file is empty")
    if len(content) > max_bytes:
        size, limit = _human_size(len(content)), _human_size(max_bytes)
        raise EvidenceRefused(
            "evidence_too_large",
            f"the file is larger than the {limit} allowed for evidence"
            + (f" (it is {size})" if size != limit else ""),
        )
    claimed = _claimed_family(filename)
    media_type = _signature_type(content)
    if media_type is None:
        if _CONTROL_BYTES.search(content.removeprefix(_BOM)):
            _refuse(filename, claimed, f"is {_describe_binary(content)}")
        if _is_email(content):
            media_type = "message/rfc822"
        else:
            media_type = _text_type(content, filename, claimed)
    if claimed is not None and _FAMILY[media_type] not in _FITS[claimed]:
        _refuse(filename, claimed, f"is {_FAMILY_NAME[_FAMILY[media_type]]}")
    return EvidenceKind(media_type=media_type, extension=_EXTENSION[media_type])


def _signature_type(content: bytes) -> EvidenceMediaType | None:
    if content.startswith(b"%PDF-"):
        return "application/pdf"
    if content.startswith(_PNG_SIGNATURE):
        return "image/png"
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return None


def _describe_binary(content: bytes) -> str:
    guess = filetype.guess(content)
    if guess is None:
        return "binary data of a type we do not accept"
    return _BINARY_NAME.get(guess.extension, f"a {guess.mime} file")


def _is_email(content: bytes) -> bool:
    """Headers from the very first line, with From and one of Date, Subject, Message-ID.

    Checked on the bytes, not as UTF-8: e-mail bodies in legacy 8-bit charsets are real.
    """
    raw = content.removeprefix(_BOM)
    if not _HEADER_LINE.match(raw):
        return False
    try:
        message = email.parser.BytesParser(policy=email.policy.default).parsebytes(
            raw, headersonly=True
        )
        has_from = bool(message["From"])
        return has_from and any(message[name] for name in ("Date", "Subject", "Message-ID"))
    except Exception:  # the parser is lenient; whatever it still chokes on is no e-mail
        return False


def _text_type(content: bytes, filename: str, claimed: str | None) -> EvidenceMediaType:
    try:
        text = content.removeprefix(_BOM).decode("utf-8")
    except UnicodeDecodeError:
        _refuse(filename, claimed, "is not UTF-8 text: save text files as UTF-8")
    if _CONTROL_CHARS.search(text):
        _refuse(filename, claimed, "contains control characters, so it is not plain text")
    if _MARKUP.search(text):
        _refuse(filename, claimed, "is HTML or script, which a browser would run")
    if text.lstrip().startswith("{\\rtf"):
        _refuse(filename, claimed, "is an RTF document")
    return "text/csv" if _is_csv(text) else "text/plain"


def _is_csv(text: str) -> bool:
    """At least two lines of at least two columns, with one delimiter consistent across
    them (judged on the first lines: a table does not change shape half way)."""
    sample = text[:_CSV_SAMPLE_CHARS]
    truncated = len(text) > len(sample)
    lines = [line for line in sample.splitlines(keepends=True) if line.strip()]
    if truncated and lines:
        lines.pop()  # cut mid-line
    lines = lines[:_CSV_SAMPLE_LINES]
    if len(lines) < 2:
        return False
    try:
        dialect = csv.Sniffer().sniff("".join(lines), delimiters=",;\t|")
        rows = list(csv.reader(io.StringIO("".join(lines)), dialect))
    except csv.Error:
        return False
    widths = {len(row) for row in rows if row}
    return len(rows) >= 2 and len(widths) == 1 and widths.pop() >= 2


def _claimed_family(filename: str) -> str | None:
    name = safe_filename(filename)
    if "." not in name:
        return None
    return _CLAIMS.get(name.rsplit(".", 1)[1].lower())


def _refuse(filename: str, claimed: str | None, what_it_is: str) -> NoReturn:
    allowed = f"allowed types: {ALLOWED_DESCRIPTION}"
    if claimed is not None:
        message = (
            f"the file is named {safe_filename(filename)} but its content is not "
            f"{_FAMILY_NAME[claimed]} (it {what_it_is}); {allowed}"
        )
    else:
        message = f"this file's content {what_it_is}; {allowed}"
    raise EvidenceRefused("evidence_type_not_allowed", message)


def _human_size(size: int) -> str:
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes" if size != 1 else "1 byte"


# --- names ------------------------------------------------------------------------------

_MAX_NAME = 120
_MAX_EXTENSION = 10
_UNSAFE = re.compile(r'[<>:"|?*]')
_WINDOWS_RESERVED = re.compile(r"^(?:con|prn|aux|nul|com\d|lpt\d)(?:\.|$)", re.IGNORECASE)


def safe_filename(name: str) -> str:
    """A name to show and to offer as a download: no path, no control or invisible
    characters (a right-to-left override turns ``fdp.exe`` into ``exe.pdf`` on screen), no
    characters Windows refuses, at most 120 characters with the extension kept."""
    name = unicodedata.normalize("NFC", name)
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(c for c in name if unicodedata.category(c) not in ("Cc", "Cf"))
    name = _UNSAFE.sub("_", " ".join(name.split()))
    name = name.strip(" .")
    if not name:
        return "evidence"
    if _WINDOWS_RESERVED.match(name):
        name = f"_{name}"
    if len(name) <= _MAX_NAME:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension) > _MAX_EXTENSION:
        return name[:_MAX_NAME].rstrip(" .")
    return f"{stem[: _MAX_NAME - len(extension) - 1].rstrip(' .')}.{extension}"
