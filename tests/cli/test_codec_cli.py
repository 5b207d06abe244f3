"""`invoiceflow codec new-key`: a key the settings accept and the codec uses."""

from __future__ import annotations

from typer.testing import CliRunner

from cli.main import app
from core.codec import EncryptionCodec, parse_keys


def test_new_key_prints_a_usable_key_under_its_id() -> None:
    result = CliRunner().invoke(app, ["codec", "new-key", "2026-12"])
    assert result.exit_code == 0, result.output
    text = result.output.strip()
    keys = parse_keys(text)
    assert list(keys) == ["2026-12"] and len(keys["2026-12"]) == 32
    EncryptionCodec(keys, "2026-12")  # the codec takes it as its current key


def test_two_keys_differ() -> None:
    first = CliRunner().invoke(app, ["codec", "new-key", "a"]).output
    second = CliRunner().invoke(app, ["codec", "new-key", "a"]).output
    assert first != second


def test_a_key_id_that_would_break_the_list_is_refused() -> None:
    result = CliRunner().invoke(app, ["codec", "new-key", "a,b:c"])
    assert result.exit_code == 1
    assert "key id" in result.output
