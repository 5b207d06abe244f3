"""The file evidence store on a real folder: content-addressed, idempotent, atomic, and
never serving a damaged blob."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import Settings
from integrations.evidence_storage import (
    BlobCorrupt,
    BlobMissing,
    EvidenceStorage,
    FileEvidenceStorage,
    StoredBlob,
    storage_from_settings,
)

CONTENT = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n"
SHA = hashlib.sha256(CONTENT).hexdigest()


@pytest.fixture
def storage(tmp_path: Path) -> FileEvidenceStorage:
    return FileEvidenceStorage(tmp_path / "evidence")


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


async def test_put_returns_the_sha256_and_size_and_get_returns_the_bytes(
    storage: FileEvidenceStorage,
) -> None:
    blob = await storage.put(CONTENT)

    assert blob == StoredBlob(sha256=SHA, size=len(CONTENT))
    assert await storage.get(SHA) == CONTENT
    assert await storage.exists(SHA)


async def test_blobs_are_stored_at_their_sharded_sha256_path(
    storage: FileEvidenceStorage,
) -> None:
    await storage.put(CONTENT)

    assert files_under(storage.root) == [storage.root / SHA[:2] / SHA[2:4] / SHA]


async def test_an_unknown_blob_does_not_exist_and_get_raises_blob_missing(
    storage: FileEvidenceStorage,
) -> None:
    unknown = hashlib.sha256(b"never stored").hexdigest()

    assert not await storage.exists(unknown)
    with pytest.raises(BlobMissing):
        await storage.get(unknown)


@pytest.mark.parametrize("key", ["../../etc/passwd", "abc", "g" * 64, ""])
async def test_a_key_that_is_no_sha256_names_no_blob_and_no_path(
    storage: FileEvidenceStorage, key: str
) -> None:
    assert not await storage.exists(key)
    with pytest.raises(BlobMissing):
        await storage.get(key)


async def test_an_upper_case_key_finds_the_blob(storage: FileEvidenceStorage) -> None:
    await storage.put(CONTENT)

    assert await storage.get(SHA.upper()) == CONTENT


async def test_putting_the_same_content_again_does_not_rewrite_the_blob(
    storage: FileEvidenceStorage,
) -> None:
    await storage.put(CONTENT)
    path = storage.path_for(SHA)
    before = path.stat()

    again = await storage.put(CONTENT)

    after = path.stat()
    assert again == StoredBlob(sha256=SHA, size=len(CONTENT))
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert files_under(storage.root) == [path]


async def test_no_temporary_file_is_left_after_puts(storage: FileEvidenceStorage) -> None:
    for index in range(5):
        await storage.put(b"evidence %d\n" % index)

    names = [p.name for p in files_under(storage.root)]
    assert len(names) == 5
    assert all(len(name) == 64 and not name.startswith(".") for name in names)


async def test_a_failed_write_leaves_neither_a_blob_nor_a_temporary_file(
    storage: FileEvidenceStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(_descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)

    with pytest.raises(OSError, match="No space left"):
        await storage.put(CONTENT)

    assert files_under(storage.root) == []
    assert not await storage.exists(SHA)


async def test_a_blob_damaged_on_disk_is_not_served(storage: FileEvidenceStorage) -> None:
    await storage.put(CONTENT)
    storage.path_for(SHA).write_bytes(CONTENT.replace(b"Catalog", b"Catalo9"))

    with pytest.raises(BlobCorrupt) as caught:
        await storage.get(SHA)
    assert isinstance(caught.value, BlobMissing)
    assert caught.value.sha256 == SHA


async def test_putting_the_content_again_heals_a_damaged_blob(
    storage: FileEvidenceStorage,
) -> None:
    await storage.put(CONTENT)
    storage.path_for(SHA).write_bytes(b"truncated")

    await storage.put(CONTENT)

    assert await storage.get(SHA) == CONTENT


async def test_concurrent_puts_of_the_same_content_store_one_intact_blob(
    storage: FileEvidenceStorage,
) -> None:
    content = os.urandom(512 * 1024)
    sha = hashlib.sha256(content).hexdigest()

    blobs = await asyncio.gather(*(storage.put(content) for _ in range(16)))

    assert {blob.sha256 for blob in blobs} == {sha}
    assert files_under(storage.root) == [storage.path_for(sha)]
    assert await storage.get(sha) == content


async def test_the_settings_choose_a_file_store_in_the_evidence_dir(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, evidence_dir=str(tmp_path / "blobs"))

    storage: EvidenceStorage = storage_from_settings(settings)
    blob = await storage.put(CONTENT)

    assert isinstance(storage, FileEvidenceStorage)
    assert (tmp_path / "blobs" / SHA[:2] / SHA[2:4] / blob.sha256).is_file()


def test_the_default_settings_keep_evidence_under_data_and_allow_ten_megabytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("INVOICEFLOW_EVIDENCE_DIR", raising=False)
    monkeypatch.delenv("INVOICEFLOW_EVIDENCE_MAX_BYTES", raising=False)
    settings = Settings(_env_file=None)

    assert settings.evidence_dir == ".data/evidence"
    assert settings.evidence_max_bytes == 10 * 1024 * 1024


def test_a_size_limit_of_zero_is_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, evidence_max_bytes=0)
