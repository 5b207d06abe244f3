"""Where dispute evidence lives: content-addressed blobs behind a small interface.

A blob's key is the SHA-256 of its bytes, so the key is also the checksum: the same file
uploaded twice (a double submit, both sides sending one delivery note) is stored once, and
a blob that no longer hashes to its key is known to be damaged rather than served. Names,
media types, who added a file and when are the database's business; the store only holds
bytes (`domain.evidence.classify` has judged them before they get here).

`FileEvidenceStorage` keeps blobs under a folder (``INVOICEFLOW_EVIDENCE_DIR``, by default
``.data/evidence``) at ``ab/cd/<sha256>``: two levels of 256 shards keep directories small.
A blob is written to a temporary file in its final directory, fsynced and renamed into
place with `os.replace`, so a reader (or a crash) sees the whole blob or none of it, and
concurrent puts of one file both succeed with one blob. Blocking file I/O runs in a thread
(`asyncio.to_thread`) so the API's and the worker's event loops keep serving.

An S3-compatible store (AWS S3, MinIO, Cloudflare R2, ...) plugs in by implementing the
`EvidenceStorage` protocol in a class of its own:

- `put`: ``PutObject`` keyed ``evidence/<sha256>`` with ``If-None-Match: *`` (a 412 answer
  means the blob is already there: return it, as the file store does) and the
  ``x-amz-checksum-sha256`` header, so the store itself refuses a body damaged in transit;
  S3 writes are atomic, so no temporary object is needed;
- `exists`: ``HeadObject`` (404: False); `get`: ``GetObject``, hash the body, raise
  `BlobMissing` on 404 and `BlobCorrupt` on a mismatch;
- `storage_from_settings` picks it when a setting says so (e.g. an ``evidence_store`` of
  ``"s3"`` with bucket, endpoint and credentials); nothing else changes, since callers only
  know the protocol.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from core.settings import Settings

_SHA256 = re.compile(r"[0-9a-f]{64}")


class StoredBlob(BaseModel):
    """A blob as stored: its key (the SHA-256 of its bytes, lower-case hex) and its size."""

    model_config = ConfigDict(frozen=True)

    sha256: str
    size: int


class BlobMissing(LookupError):
    """No intact blob under this key (a malformed key names no blob either)."""

    def __init__(self, sha256: str, reason: str = "no such blob") -> None:
        super().__init__(f"evidence blob {sha256}: {reason}")
        self.sha256 = sha256


class BlobCorrupt(BlobMissing):
    """The stored bytes no longer hash to their key. A `BlobMissing`, because for a caller
    the file it asked for is gone just the same; its own type, so it can be alerted on."""

    def __init__(self, sha256: str, actual: str) -> None:
        super().__init__(sha256, f"damaged on disk (its content hashes to {actual})")
        self.actual = actual


class EvidenceStorage(Protocol):
    """A content-addressed blob store: bytes in, their SHA-256 out, and back by that key."""

    async def put(self, content: bytes) -> StoredBlob:
        """Store `content` (once: a blob already there is not written again)."""
        ...

    async def get(self, sha256: str) -> bytes:
        """The blob's bytes, checked against the key; `BlobMissing` if there is none."""
        ...

    async def exists(self, sha256: str) -> bool: ...


class FileEvidenceStorage:
    """`EvidenceStorage` on a local folder (see the module docstring for the layout)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        """Where a blob lives; `BlobMissing` for a key that is not a SHA-256, so no key can
        name a path outside the root."""
        key = sha256.lower()
        if not _SHA256.fullmatch(key):
            raise BlobMissing(sha256, "not a SHA-256 hex digest")
        return self.root / key[:2] / key[2:4] / key

    async def put(self, content: bytes) -> StoredBlob:
        return await asyncio.to_thread(self._put, content)

    async def get(self, sha256: str) -> bytes:
        return await asyncio.to_thread(self._get, sha256)

    async def exists(self, sha256: str) -> bool:
        """Whether a blob is stored under the key (not re-hashed: `get` checks that)."""
        try:
            path = self.path_for(sha256)
        except BlobMissing:
            return False
        return await asyncio.to_thread(path.is_file)

    def _put(self, content: bytes) -> StoredBlob:
        blob = StoredBlob(sha256=hashlib.sha256(content).hexdigest(), size=len(content))
        target = self.path_for(blob.sha256)
        if self._intact(target, blob.sha256):
            return blob
        # A damaged blob falls through and is replaced: uploading the file again heals it.
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _fsync_directory(target.parent)
        return blob

    def _get(self, sha256: str) -> bytes:
        path = self.path_for(sha256)
        try:
            content = path.read_bytes()
        except FileNotFoundError:
            raise BlobMissing(sha256) from None
        actual = hashlib.sha256(content).hexdigest()
        if actual != sha256.lower():
            raise BlobCorrupt(sha256, actual)
        return content

    @staticmethod
    def _intact(path: Path, sha256: str) -> bool:
        try:
            content = path.read_bytes()
        except FileNotFoundError:
            return False
        return hashlib.sha256(content).hexdigest() == sha256


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable: without it a power cut can lose the new name."""
    if not hasattr(os, "O_DIRECTORY"):  # Windows: renames are journalled, no handle to sync
        return
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def storage_from_settings(settings: Settings) -> EvidenceStorage:
    """The evidence store the settings choose; today the folder `evidence_dir`."""
    return FileEvidenceStorage(Path(settings.evidence_dir))


def documents_storage(settings: Settings) -> EvidenceStorage:
    """The store of issued documents (PDFs, e-invoices): the folder `documents_dir`, the
    same content-addressed blobs as evidence."""
    return FileEvidenceStorage(Path(settings.documents_dir))
