"""Link tokens never reach the logs: uvicorn's access lines are redacted."""

from __future__ import annotations

import logging

import pytest

from core.logging import install_token_redaction


def test_access_log_lines_do_not_carry_link_tokens(caplog: pytest.LogCaptureFixture) -> None:
    install_token_redaction()
    access = logging.getLogger("uvicorn.access")
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        access.info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5050",
            "POST",
            "/approvals/.eJx1jDEOgCAQ.awVgaA.IJnqKd51I",
            "1.1",
            200,
        )
        access.info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5050",
            "GET",
            "/portal/invoices/inv_1?token=abc.def.ghi",
            "1.1",
            200,
        )
        access.info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5050",
            "GET",
            "/exception-review/eyJ0YXNr.Z2Nlc3M.sEcReTsIg",
            "1.1",
            200,
        )
    text = caplog.text
    assert "sEcReTsIg" not in text and "/exception-review/[redacted]" in text
    assert "IJnqKd51I" not in text and "abc.def.ghi" not in text
    assert "/approvals/[redacted]" in text and "?token=[redacted]" in text
